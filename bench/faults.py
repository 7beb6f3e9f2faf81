"""Faults: no DM is lost or duplicated when a Direto worker is killed, Redis restarts or PostgreSQL restarts.

    .venv/bin/python bench/faults.py [--rate 20] [--phase-seconds 15] [--quick] [--keep]

Everything runs on private loopback ports in a temporary folder, so shared services are never touched: a Redis,
a PostgreSQL cluster (initdb; as root, owned by and run as the `postgres` user), the Meta sandbox in a gunicorn of its
own (bench/sandbox_wsgi.py: SQLite, short redelivery schedule, 5 s webhook timeout) and Direto as production runs
it (gunicorn -c webapp/gunicorn_conf.py, two gevent workers, a pre-bound socket, background processing and the
scheduler on). Direto has one connection linked to the sandbox's Loja Demo (a real page token, from the sandbox's
Facebook Login as Dona Demo), no bot, and an admin who signs in through the login form.

The sandbox's customers write a steady stream of numbered DMs ("fault-run 000123") through its control API; the
sandbox delivers each as a signed webhook and redelivers on failure, as Meta does. An admin's page holds GET /events
open and reconnects like a browser's EventSource (Last-Event-ID) when its worker dies. One fault per phase, while
the load runs: kill -9 of the Direto worker serving the page (gunicorn starts another), a Redis restart (SIGKILL,
2 s down, started again on the same port), a PostgreSQL restart (pg_ctl stop -m fast, 2 s down, start). Each fault
is verified (a new worker pid, a new Redis run_id, a new postmaster start time). Then the load stops and the script
waits until the sandbox's outbox and Direto's webhook_deliveries have nothing left to do, and counts, per phase:

- sent: DMs the sandbox accepted (their mids); stored: those mids among Direto's inbound messages;
- duplicated: message rows beyond one per numbered text; lost: sent - stored;
- page reached: numbered DMs seen as "dm" frames, or, when the stream sent a "resync" frame covering their live
  event, whose ticket is in the queue the page reloads (GET /chat/rows);
- failed attempts: the sandbox's webhook attempts for that phase's DMs that got no 2xx (the faults at work).

The services live in bench/services.py, the load and the page in bench/traffic.py; this file runs the faults and
counts. Exits 1 when a DM is lost or duplicated, the page missed one or got one twice, a fault did not really happen, or
gunicorn restarted a worker nobody killed (WORKER TIMEOUT: a worker stuck).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services import Failure, Gunicorn, Postgres, Redis, alive, postgres_bindir, redis_binary, wait_for  # noqa: E402
from traffic import ADMIN_EMAIL, ADMIN_PASSWORD, BUSINESS, CUSTOMERS, NUMBERED, TEXT, Load, Meta, Page, sign_in  # noqa: E402
from webapp.config import SANDBOX_APP_ID, SANDBOX_APP_SECRET  # noqa: E402
from webapp.webhooks import processor  # noqa: E402

MAX_ATTEMPTS = processor.MAX_ATTEMPTS  # a failed delivery is retried until it has this many attempts
STALE_SECONDS = processor.STALE_CLAIM.total_seconds()  # a claim left by a dead process is retaken after it

DIRETO_WORKERS = 2
RETRY_SCHEDULE = "0.5,1,1,2,2,3,3,5,5,5,5,5,5,5,5,5,10,10,10,10"  # ~100 s of redeliveries, then Meta gives up
WEBHOOK_TIMEOUT = 5
DOWN_SECONDS = 2.0  # how long Redis and PostgreSQL stay down
# Settings a developer's shell may hold that would change the run: the servers get only what this script sets.
INHERITED_PREFIXES = ("DATABASE_", "REDIS_", "META_", "SANDBOX_", "SSE_", "DIRETO_", "WEBHOOK_", "SCHEDULER_",
                      "FACEBOOK_", "PUBLIC_BASE_URL", "INSTANCE_PATH", "SECRET_KEY", "TOKEN_ENCRYPTION_KEY")


def say(message: str = "") -> None:
    print(message, flush=True)


# ---- Direto's database ------------------------------------------------------------------------------------------


def prepare_direto(database_url: str, env: dict, page: dict) -> int:
    """Migrate; departments; the demo bot, turned off (DMs open tickets in the default department); the connection
    linked to the sandbox's page with its token encrypted; the admin. Returns the connection's id."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.bots import store as bot_store
    from webapp.connections.models import Connection, ConnectionStatus
    from webapp.core import crypto
    from webapp.database import utcnow
    from webapp.extensions import db
    from webapp.team import directory
    from webapp.team.models import Role

    app = create_app({
        "INSTANCE_PATH": env["INSTANCE_PATH"], "SQLALCHEMY_DATABASE_URI": database_url, "META_SANDBOX": False,
        "SECRET_KEY": env["SECRET_KEY"], "TOKEN_ENCRYPTION_KEY": env["TOKEN_ENCRYPTION_KEY"], "REDIS_URL": None,
        "WEBHOOK_PROCESSING": "off",
    })
    with app.app_context():
        chatter = io.StringIO()
        try:
            with contextlib.redirect_stderr(chatter):  # Alembic's INFO lines
                upgrade()
        except Exception:
            say(chatter.getvalue())
            raise
        reception = directory.ensure_department("Recepção")
        sales = directory.ensure_department("Vendas")
        bot = bot_store.ensure_default_bot(reception.id, menu=[("Vendas", sales.id), ("Recepção", reception.id)])
        bot_store.set_bot_active(bot, False)
        account = page["instagram_business_account"]
        connection = Connection(
            name="Loja Demo", default_department_id=reception.id, bot_id=bot.id, status=ConnectionStatus.ACTIVE,
            page_id=page["id"], page_name=page["name"], instagram_account_id=account["id"],
            instagram_username=account.get("username"),
            page_token_ciphertext=crypto.encrypt(page["access_token"], app.config),
            linked_at=utcnow(), checked_at=utcnow())
        db.session.add(connection)
        directory.create_user(name="Fault Admin", email=ADMIN_EMAIL, password=ADMIN_PASSWORD, role=Role.ADMIN,
                              language="pt_BR", departments=[], hash_method="pbkdf2:sha256:1000")
        db.session.commit()
        connection_id = connection.id
        db.engine.dispose()
    return connection_id


def waiting_deliveries(database_url: str) -> Counter:
    """Direto's webhook deliveries not done with: pending, claimed (processing), or failed with retries left."""
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM webhook_deliveries WHERE status IN ('pending', 'processing') "
            "OR (status = 'failed' AND attempts < %s) GROUP BY status", (MAX_ATTEMPTS,)).fetchall()
    return Counter(dict(rows))


# ---- faults -----------------------------------------------------------------------------------------------------


@dataclass
class FaultReport:
    happened: bool
    description: str


@dataclass
class Run:
    """Everything the faults act on."""

    direto: Gunicorn
    sandbox: Gunicorn
    redis: Redis
    postgres: Postgres
    page: Page
    kills: int = 0


def kill_worker(run: Run) -> FaultReport:
    """kill -9 of the worker serving the page (any worker if that cannot be told); gunicorn must start another."""
    before = run.direto.workers()
    serving = run.page.serving_worker(before)
    victim = serving or min(before)
    os.kill(victim, signal.SIGKILL)
    run.kills += 1
    killed_at = time.monotonic()
    replaced = wait_for(lambda: not alive(victim) and len(run.direto.workers()) >= DIRETO_WORKERS
                        and run.direto.workers() - before, 60)
    if not replaced:
        return FaultReport(False, f"worker {victim} killed, but gunicorn did not start another within 60 s "
                                  f"(workers now {sorted(run.direto.workers())})")
    new = sorted(replaced)
    booted = wait_for(lambda: all(f"Booting worker with pid: {pid}" in run.direto.log_text() for pid in new), 10)
    which = "the page's worker" if serving else "a worker (the page's could not be told)"
    return FaultReport(bool(booted), f"{which} {victim} killed with SIGKILL; gunicorn booted {', '.join(map(str, new))} "
                                     f"{time.monotonic() - killed_at:.1f} s later")


def restart_redis(run: Run) -> FaultReport:
    """SIGKILL redis-server, leave it down, start it again on the same port: a new process with a new run_id."""
    old_pid, old_run_id = run.redis.process.pid, run.redis.run_id()
    run.redis.kill()
    down_at = time.monotonic()
    time.sleep(DOWN_SECONDS)  # the outage itself
    run.redis.start()
    new_run_id = run.redis.run_id()
    happened = new_run_id != old_run_id and run.redis.process.pid != old_pid
    return FaultReport(happened, f"redis-server {old_pid} killed with SIGKILL, {run.redis.process.pid} answering "
                                 f"{time.monotonic() - down_at:.1f} s later (run_id {old_run_id[:8]} -> "
                                 f"{new_run_id[:8]})")


def restart_postgres(run: Run) -> FaultReport:
    """pg_ctl stop -m fast (every session ends), down a while, pg_ctl start: a new postmaster start time."""
    before = run.postgres.started_at()
    began = time.monotonic()
    run.postgres.stop("fast")
    stopped = time.monotonic()
    time.sleep(DOWN_SECONDS)  # the outage itself
    run.postgres.start()
    after = run.postgres.started_at()
    return FaultReport(after > before, f"PostgreSQL stopped (-m fast, {stopped - began:.1f} s) and started again; "
                                       f"down {time.monotonic() - stopped:.1f} s; postmaster started "
                                       f"{before:%H:%M:%S} -> {after:%H:%M:%S}")


PHASES = (
    ("no fault", None),
    ("kill -9 worker", kill_worker),
    ("Redis restart", restart_redis),
    ("PostgreSQL restart", restart_postgres),
)


# ---- counting ---------------------------------------------------------------------------------------------------


@dataclass
class PhaseFigures:
    sent: int = 0
    stored: int = 0
    duplicated: int = 0
    reached: int = 0
    page_twice: int = 0
    failed_attempts: Counter = field(default_factory=Counter)
    given_up: int = 0

    @property
    def lost(self) -> int:
        return self.sent - self.stored


def attempt_reason(status_code: int | None, error: str | None) -> str:
    if status_code is not None:
        return f"HTTP {status_code}"
    if error and error.startswith("timeout"):
        return "timeout"
    text = error or "error"
    for known in ("Connection refused", "RemoteDisconnected", "Connection reset", "Connection aborted"):
        if known in text:
            return known.lower()
    return text.split(":", 1)[0]


def sandbox_deliveries(path: Path) -> tuple[dict[str, int], dict[int, str], list[tuple]]:
    """From the sandbox's own database: each mid's delivery, each delivery's status, and every attempt
    (when it started, by the wall clock in ms; its status code; its error)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        delivery_of = {}
        for item, delivery_id in conn.execute("SELECT item, delivery_id FROM webhook_event"):
            mid = (json.loads(item).get("message") or {}).get("mid")
            if mid and delivery_id is not None:
                delivery_of[mid] = delivery_id
        status = dict(conn.execute("SELECT id, status FROM delivery"))
        attempts = conn.execute("SELECT started_ms, status_code, error FROM delivery_attempt").fetchall()
        return delivery_of, status, attempts
    finally:
        conn.close()


def direto_messages(database_url: str, connection_id: int) -> tuple[list[tuple], dict[int, int]]:
    """Direto's inbound messages (id, mid, text, ticket) and each message's live event id (message.new)."""
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        rows = conn.execute("SELECT id, mid, text, ticket_id FROM messages WHERE connection_id = %s AND direction = 'in'",
                            (connection_id,)).fetchall()
        events = {}
        for event_id, payload in conn.execute("SELECT id, payload FROM live_events WHERE kind = 'message.new'"):
            if isinstance(payload, str):
                payload = json.loads(payload)
            if payload and payload.get("message_id") is not None:
                events[int(payload["message_id"])] = event_id
    return rows, events


def processing_delays(database_url: str) -> tuple[int, float]:
    """Direto's deliveries claimed more than once (a claim left by a killed worker or a failed batch, taken again),
    and the longest wait from a delivery's 200 to its messages."""
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        again, longest = conn.execute(
            "SELECT count(*) FILTER (WHERE attempts > 1), "
            "coalesce(max(extract(epoch FROM processed_at - received_at)), 0) FROM webhook_deliveries").fetchone()
    return again, float(longest)


def queue_tickets(url: str, cookie: str) -> set[int]:
    """The tickets a page shows after reloading its queue (what a "resync" frame makes it do)."""
    answer = requests.get(f"{url}/chat/rows", params={"limit": 800}, headers={"Cookie": cookie, "HX-Request": "true"},
                          timeout=30)
    answer.raise_for_status()
    return {int(found) for found in re.findall(r"/tickets/(\d+)", answer.text)}


# ---- the run ----------------------------------------------------------------------------------------------------


def clean_environment() -> dict:
    return {key: value for key, value in os.environ.items() if not key.startswith(INHERITED_PREFIXES)}


def run(args, workdir: Path) -> int:
    bindir, redis_server = postgres_bindir(), redis_binary()
    if bindir is None or redis_server is None:
        raise Failure("needs PostgreSQL's initdb and pg_ctl and redis-server")
    started = time.monotonic()
    services: list = []
    page = load = None
    try:
        # -- private services
        store = Redis(redis_server, workdir)
        services.append(store)
        store.start()
        postgres = Postgres(bindir, workdir)
        postgres.init()
        services.append(postgres)
        postgres.start()
        postgres.create_database()
        database_url = postgres.url

        direto, sandbox = Gunicorn("direto", workdir), Gunicorn("sandbox", workdir)
        services += [sandbox, direto]
        base_env = clean_environment()
        sandbox.start("bench.sandbox_wsgi:app", 1, ["-k", "gevent", "--graceful-timeout", "5", "--access-logfile", "-"], {
            **base_env, "INSTANCE_PATH": str(workdir / "sandbox"),
            "SANDBOX_DATABASE_URL": f"sqlite:///{workdir / 'sandbox.sqlite3'}", "PUBLIC_BASE_URL": sandbox.url,
            "SANDBOX_WEBHOOK_URL": f"{direto.url}/webhooks/instagram", "SANDBOX_REDIRECT_PREFIXES": f"{direto.url}/",
            "FACEBOOK_CLIENT_ID": SANDBOX_APP_ID, "FACEBOOK_CLIENT_SECRET": SANDBOX_APP_SECRET,
            "META_VERIFY_TOKEN": "faults-verify-token", "SANDBOX_RETRY_SCHEDULE": RETRY_SCHEDULE,
            "SANDBOX_WEBHOOK_TIMEOUT": str(WEBHOOK_TIMEOUT),
        })
        sandbox.wait_until_answering("/sandbox/api/settings")
        meta = Meta(sandbox.url)
        knobs = meta.api("GET", "settings")
        linked = meta.link_page(f"{direto.url}/connections/callback")

        env = {
            **base_env, "DATABASE_URL": database_url, "REDIS_URL": store.url, "INSTANCE_PATH": str(workdir / "direto"),
            "SECRET_KEY": secrets.token_urlsafe(32), "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "PUBLIC_BASE_URL": direto.url, "META_SANDBOX": "0",
            "META_GRAPH_URL": f"{meta.base}/graph/", "META_OAUTH_DIALOG_URL": f"{meta.base}/www/",
            "FACEBOOK_CLIENT_ID": SANDBOX_APP_ID, "FACEBOOK_CLIENT_SECRET": SANDBOX_APP_SECRET,
            "META_VERIFY_TOKEN": "faults-verify-token",
            "SCHEDULER_LEASE_SECONDS": "6", "SCHEDULER_TICK_SECONDS": "1",
            "WEBHOOK_SPOOL_DIR": str(workdir / "direto" / "webhook-spool"),
        }
        Path(env["INSTANCE_PATH"]).mkdir()
        connection_id = prepare_direto(database_url, env, linked)
        direto.start("wsgi:app", DIRETO_WORKERS, ["-c", "webapp/gunicorn_conf.py"], env)
        direto.wait_until_answering("/healthz")
        wait_for(lambda: len(direto.workers()) == DIRETO_WORKERS, 30)

        say(f"services (ready in {time.monotonic() - started:.0f} s, in {workdir}):")
        say(f"  Redis {store.url}; PostgreSQL {bindir.parent.name} on port {postgres.port}")
        say(f"  sandbox {sandbox.url}/sandbox (1 gevent worker, SQLite; redeliveries after "
            f"{', '.join(f'{s:g}' for s in knobs['retry_schedule'][:6])}… s, {len(knobs['retry_schedule'])} in all; "
            f"webhook timeout {knobs['webhook_timeout']:g} s)")
        say(f"  Direto {direto.url} (gunicorn -c webapp/gunicorn_conf.py, {DIRETO_WORKERS} gevent workers "
            f"{sorted(direto.workers())}); {linked['name']} linked as connection {connection_id}, no bot")

        cookie = sign_in(direto.url)
        page = Page(direto.url, cookie)
        page.start()
        if not page.connected.wait(30):
            raise Failure("the page's stream did not open")
        run_state = Run(direto, sandbox, store, postgres, page)

        # -- load and faults
        load = Load(meta, args.rate)
        load.phase = PHASES[0][0]
        say(f"\nload: {args.rate:g} DMs/s from {len(CUSTOMERS)} customers to @{BUSINESS}; "
            f"{len(PHASES)} phases of {args.phase_seconds:g} s, the fault a third of the way in")
        load_start = time.monotonic()
        load.start()
        faults: dict[str, FaultReport] = {}
        windows: dict[str, float] = {}  # phase -> its start, by the wall clock (the sandbox logs attempts so)
        for name, fault in PHASES:
            load.phase = name
            windows[name] = time.time()
            phase_start = time.monotonic()
            if fault is not None:
                time.sleep(max(0.0, phase_start + args.phase_seconds / 3 - time.monotonic()))
                at = time.monotonic() - load_start
                try:
                    faults[name] = fault(run_state)
                except Exception as error:  # noqa: BLE001  (a fault that could not be made is reported as such)
                    faults[name] = FaultReport(False, f"{type(error).__name__}: {error}")
                mark = "ok" if faults[name].happened else "NOT VERIFIED"
                say(f"  {at:5.1f} s  {name}: {faults[name].description}  [{mark}]")
            time.sleep(max(0.0, phase_start + args.phase_seconds - time.monotonic()))
        load.stop()
        say(f"  {time.monotonic() - load_start:5.1f} s  load stopped: {len(load.sent)} DMs accepted by the sandbox"
            + (f", {len(load.unsure)} unsure" if load.unsure else ""))

        # -- everything delivered and processed
        settled = settle(meta, database_url, Path(env["WEBHOOK_SPOOL_DIR"]), args.settle_timeout)
        sent_numbers = set(load.sent)
        messages, live_ids = direto_messages(database_url, connection_id)
        stored_numbers = {int(m.group(1)) for m in (NUMBERED.search(text or "") for _, _, text, _ in messages) if m}
        wait_for(lambda: not (stored_numbers - set(page.frames)), 30, 0.5)  # the page's last frames
        page.stop()
        again, longest = processing_delays(database_url)
        say(f"  Direto: {again} deliveries claimed more than once; the longest from a delivery's 200 to its message "
            f"{longest:.1f} s")
        return report(load, page, faults, windows, run_state, settled, messages, live_ids, direto.url, cookie,
                      workdir / "sandbox.sqlite3", sent_numbers)
    finally:
        if load is not None:
            load.stop()
        if page is not None:
            page.stop()
        for service in reversed(services):
            try:
                if isinstance(service, Postgres):
                    if service.running():
                        service.stop("immediate")
                else:
                    service.stop()
            except Exception as error:  # noqa: BLE001  (stop the others all the same)
                say(f"stopping {type(service).__name__} failed: {error}")


def settle(meta: Meta, database_url: str, spool: Path, timeout: float) -> bool:
    """Wait until the sandbox has nothing left to (re)deliver and Direto nothing left to process: no delivery
    waiting in the database, and none still on disk from while the database was away."""
    say(f"\nwaiting for redeliveries and processing (at most {timeout:g} s; a delivery claimed by a process that "
        f"died is taken again after {STALE_SECONDS:g} s) ...")
    began = last_said = time.monotonic()
    while True:
        try:
            outbox = meta.outbox()
            meta_left = outbox["queued_events"] + outbox["pending_deliveries"]
            direto_left = waiting_deliveries(database_url)
            on_disk = len(list(spool.glob("*.delivery"))) if spool.exists() else 0
            if on_disk:
                direto_left["on disk"] = on_disk
        except (requests.RequestException, psycopg.Error) as error:
            meta_left, direto_left = -1, Counter({type(error).__name__: 1})
        elapsed = time.monotonic() - began
        if meta_left == 0 and not direto_left:
            say(f"  settled after {elapsed:.1f} s: the sandbox's outbox is empty, Direto's deliveries are all done")
            return True
        if elapsed > timeout:
            say(f"  NOT SETTLED after {timeout:g} s: sandbox {meta_left} to deliver, Direto {dict(direto_left)}")
            return False
        if time.monotonic() - last_said >= 15:
            say(f"  {elapsed:5.0f} s: sandbox {meta_left} to deliver, Direto {dict(direto_left) or 'nothing'} waiting")
            last_said = time.monotonic()
        time.sleep(0.5)


def report(load: Load, page: Page, faults: dict[str, FaultReport], windows: dict[str, float], run_state: Run,
           settled: bool, messages: list[tuple], live_ids: dict[int, int], url: str, cookie: str, sandbox_db: Path,
           sent_numbers: set[int]) -> int:
    delivery_of, delivery_status, attempts = sandbox_deliveries(sandbox_db)
    mids = {sent.mid: sent.number for sent in load.sent.values()}
    rows_of: dict[int, list[tuple]] = defaultdict(list)
    strays = 0
    for row in messages:
        found = NUMBERED.search(row[2] or "")
        number = int(found.group(1)) if found else mids.get(row[1])
        if number is None:
            strays += 1
        else:
            rows_of[number].append(row)

    # What the page shows after a resync: its queue, reloaded (tickets), for DMs whose event the resync skipped.
    resync_top = max(page.resyncs, default=0)
    reloaded = queue_tickets(url, cookie) if page.resyncs else set()

    figures = {name: PhaseFigures() for name, _ in PHASES}
    total = PhaseFigures()
    missed = []  # (number, its live event id) of DMs the page never got
    for number, sent in sorted(load.sent.items()):
        rows = rows_of.get(number, [])
        stored = any(row[1] == sent.mid for row in rows)
        reached = page.frames[number] > 0 or (
            stored and any(live_ids.get(row[0], resync_top + 1) <= resync_top and row[3] in reloaded for row in rows))
        delivery = delivery_of.get(sent.mid)
        if stored and not reached:
            missed.append((number, ", ".join(str(live_ids.get(row[0], "none")) for row in rows)))
        for bucket in (figures[sent.phase], total):
            bucket.sent += 1
            bucket.stored += stored
            bucket.duplicated += max(0, len(rows) - 1)
            bucket.reached += reached
            bucket.page_twice += page.frames[number] > 1
            bucket.given_up += delivery_status.get(delivery) == "failed"
    # Failed attempts go to the phase they happened in (the sandbox may deliver an earlier phase's DMs late).
    starts = sorted((start * 1000, name) for name, start in windows.items())
    for started_ms, code, error in attempts:
        if code is not None and 200 <= code < 300:
            continue
        phase = next((name for start, name in reversed(starts) if started_ms >= start), starts[0][1])
        reason = attempt_reason(code, error)
        figures[phase].failed_attempts[reason] += 1
        total.failed_attempts[reason] += 1

    say("\nper phase (DMs counted in the phase the sandbox accepted them, failed webhook attempts in the phase they "
        "happened):")
    for name, _ in PHASES:
        say(line(name, figures[name]))
    say(line("total", total))

    problems = []
    for name, fault in PHASES:
        if fault is not None and not (name in faults and faults[name].happened):
            problems.append(f"the fault of phase '{name}' was not verified")
    if not settled:
        problems.append("redeliveries and processing did not finish in time")
    if total.lost:
        problems.append(f"{total.lost} DMs lost")
    if total.duplicated:
        problems.append(f"{total.duplicated} duplicate message rows")
    if total.given_up:
        problems.append(f"the sandbox gave up on the deliveries of {total.given_up} DMs (retry schedule exhausted)")
    if total.reached < total.sent:
        problems.append(f"the page never got {total.sent - total.reached} DMs")
    if total.page_twice:
        problems.append(f"the page got {total.page_twice} DMs twice")
    if load.unsure:
        reasons = dict(Counter(load.unsure.values()))
        problems.append(f"{len(load.unsure)} DMs whose sending the sandbox did not confirm: {reasons}")
    if strays:
        problems.append(f"{strays} inbound messages that this run did not send")
    unexpected_boots = run_state.direto.boots() - DIRETO_WORKERS - run_state.kills
    if unexpected_boots:
        problems.append(f"gunicorn restarted {unexpected_boots} worker(s) nobody killed (WORKER TIMEOUT?)")
    stray_numbers = set(rows_of) - sent_numbers
    if stray_numbers:
        problems.append(f"{len(stray_numbers)} numbered messages stored that the sandbox never confirmed")

    say(f"\npage: {page.connects} stream(s) opened, ended by {dict(Counter(page.drops)) or 'nothing'}; "
        f"refused {dict(page.refused) or 'never'}; resync frames {len(page.resyncs)}"
        + (f" (the queue reloaded: {len(reloaded)} tickets)" if page.resyncs else ""))
    errors = Counter(re.findall(r"^\S*(?:[A-Za-z]+\.)*([A-Z][A-Za-z]+(?:Error|Exception)):", run_state.direto.log_text(),
                                re.MULTILINE))
    say(f"Direto's log: {run_state.direto.boots()} worker boots, exceptions logged: "
        f"{', '.join(f'{name} ×{count}' for name, count in errors.most_common(6)) or 'none'}; "
        f"deliveries kept on disk while the database was away: {run_state.direto.log_text().count('kept on disk')}")
    if missed:
        say("the page never got: " + ", ".join(f"{TEXT.format(number)} (live event {event})"
                                              for number, event in missed[:20]) + (" ..." if len(missed) > 20 else ""))
    if problems:
        say("\nFAILED: " + "; ".join(problems))
        return 1
    say("\nOK: every DM the sandbox accepted is stored exactly once, and the page got each one")
    return 0


def line(name: str, figures: PhaseFigures) -> str:
    reasons = ", ".join(f"{reason} ×{count}" for reason, count in figures.failed_attempts.most_common())
    return (f"  {name:<19} sent {figures.sent:>5}  stored {figures.stored:>5}  duplicated {figures.duplicated}  "
            f"lost {figures.lost}  page reached {figures.reached}/{figures.sent}  "
            f"failed attempts {sum(figures.failed_attempts.values())}" + (f" ({reasons})" if reasons else ""))


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=None, help="DMs per second (default 20; --quick 10)")
    parser.add_argument("--phase-seconds", type=float, default=None, help="length of each phase (default 15; --quick 6)")
    parser.add_argument("--settle-timeout", type=float, default=None,
                        help="longest wait for redeliveries and processing after the load (default 480 s)")
    parser.add_argument("--quick", action="store_true", help="a short run for CI")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, databases)")
    args = parser.parse_args(argv)
    args.rate = args.rate or (10 if args.quick else 20)
    args.phase_seconds = args.phase_seconds or (6 if args.quick else 15)
    # A claim left by a killed worker (or by a batch that failed when the database went away) is retaken after
    # STALE_CLAIM, by the process's next look for work: that, not the faults, is the longest wait.
    args.settle_timeout = args.settle_timeout or STALE_SECONDS + (90 if args.quick else 180)
    signal.signal(signal.SIGTERM, _interrupted)
    workdir = Path(tempfile.mkdtemp(prefix="direto-faults-"))
    try:
        return run(args, workdir)
    except Failure as failure:
        say(f"\nFAILED (the harness): {failure}")
        return 1
    except KeyboardInterrupt:
        say("\ninterrupted; everything started was stopped")
        return 130
    finally:
        if args.keep:
            say(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
