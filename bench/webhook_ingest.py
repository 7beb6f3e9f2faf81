"""Webhook ingest benchmark: how many DMs/s POST /webhooks/instagram keeps, next to a bare endpoint's rate.

    .venv/bin/python bench/webhook_ingest.py [--seconds 5] [--rounds 5] [--concurrency 16] [--ingest-only]
        [--database-url postgresql://... --redis-url redis://... --workers 2]

Serves Direto as in production (gunicorn, one gevent worker, SQLite in a temporary folder; or PostgreSQL in a
throwaway schema, Redis and more workers, as asked) and, in interleaved rounds, posts signed Meta-shaped deliveries
to the bare endpoint (signature and JSON only, nothing stored) and to the real one, one event per POST and 50 per
POST. A shared, noisy machine moves every figure from run to run, so what counts is the side-by-side comparison:
medians over the rounds, and ratios taken within each round.
Then it replays already-sent bodies (nothing new may be stored) and, when the app turns stored deliveries into
messages in the background, waits for that to finish and reports how fast it went.

Exits non-zero when something is broken (a non-200 answer, a server that does not start or whose worker gunicorn had
to restart), not on a missed target.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, make_url, text

from http_load import Deliveries, PhaseResult, body_digest, drive, entry_point, in_workdir

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "17841400000000001"
PAGE_ID = "104000000000001"
APP_SECRET = "direto-bench-app-secret"
SINGLE_TARGET = 0.4  # single-event ingest as a share of the bare endpoint's rate
BATCHED_TARGET = 5000  # DMs/s with 50 events per POST
# Done with, for the benchmark: failed ones are retried much later, and shown in the statuses printed.
WAITING = "status NOT IN ('processed', 'ignored', 'failed')"
MEASURABLE_BACKLOG = 1000  # DMs: with fewer ever left waiting after a phase, a drain rate is mostly polling noise

# (name, path, events per POST, first guess at requests/s, used to size the first round's prepared requests)
PHASES = (
    ("bare ×1", "/webhooks/instagram/bare", 1, 3000),
    ("single", "/webhooks/instagram", 1, 1500),
    ("batched ×50", "/webhooks/instagram", 50, 300),
    ("bare ×50", "/webhooks/instagram/bare", 50, 1500),
)


@dataclass(frozen=True)
class Setup:
    """What the server runs on: --database-url (PostgreSQL, in a throwaway schema; None: a fresh SQLite file),
    --redis-url (the server's REDIS_URL; None: events stay in each process) and --workers (gunicorn's)."""

    database_url: str | None = None
    redis_url: str | None = None
    workers: int = 1

    @property
    def default(self) -> bool:
        return self == Setup()

    def label(self) -> str:
        """"sqlite, 1 worker", "postgresql + redis, 2 workers": what a figure was measured on."""
        stores = ("postgresql" if self.database_url else "sqlite") + (" + redis" if self.redis_url else "")
        return f"{stores}, {self.workers} worker{'' if self.workers == 1 else 's'}"

    def gunicorn(self) -> str:
        return f"{self.workers} gevent worker{'' if self.workers == 1 else 's'}"


def add_setup_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", metavar="URL",
                        help="PostgreSQL to run on, in a throwaway schema (postgresql://postgres@127.0.0.1:5432/test); "
                             "default: a fresh SQLite file")
    parser.add_argument("--redis-url", metavar="URL", help="the server's REDIS_URL (default: none)")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="gunicorn workers (default 1)")


def setup_of(parser: argparse.ArgumentParser, args) -> Setup:
    if args.database_url and not args.database_url.startswith(("postgres://", "postgresql://", "postgresql+")):
        parser.error("--database-url takes a PostgreSQL URL (without it: a fresh SQLite file)")
    if args.workers < 1:
        parser.error("--workers takes 1 or more")
    return Setup(args.database_url, args.redis_url, args.workers)


@contextlib.contextmanager
def database_for(workdir: Path, setup: Setup, keep: bool = False):
    """(the server's DATABASE_URL, how to show it): a fresh SQLite file in `workdir`, or a throwaway schema in the
    PostgreSQL database given, dropped at the end whatever happened (unless kept); stop the server first."""
    if not setup.database_url:
        path = workdir / "direto.sqlite3"
        yield f"sqlite:///{path}", str(path)
        return
    from webapp.database import throwaway_schema

    # Every connection, the server's and ours, works inside the throwaway schema.
    with throwaway_schema(setup.database_url, "direto_bench", keep=keep) as (url, schema):
        yield url, f"{without_password(setup.database_url)}, schema {schema}"
        if keep:
            print(f'kept: schema {schema} (DROP SCHEMA "{schema}" CASCADE removes it)')


def without_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def setup_in(args) -> Setup:
    """The setup main() put in `args`; the default for a caller's own namespace without one."""
    return getattr(args, "setup", None) or Setup()


class Database:
    """The benchmark's own look at webhook_deliveries, through SQLAlchemy: the same plain SQL on SQLite or
    PostgreSQL. Takes the server's database URL (or, as before, the SQLite file's path)."""

    def __init__(self, url: str | Path):
        from webapp.config import normalise_database_url

        url = normalise_database_url(f"sqlite:///{url}" if isinstance(url, Path) else url)
        options = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT", **options)

    def _rows(self, sql: str) -> list:
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).all()

    def count(self) -> int:
        return self._rows("SELECT count(*) FROM webhook_deliveries")[0][0]

    def count_waiting(self) -> int:
        """Deliveries not done with: pending, or claimed and being processed."""
        return self._rows(f"SELECT count(*) FROM webhook_deliveries WHERE {WAITING}")[0][0]

    def waiting_digests(self) -> set[str]:
        return {row[0] for row in self._rows(f"SELECT body_sha256 FROM webhook_deliveries WHERE {WAITING}")}

    def newest_message(self) -> int:
        """The last message's id: it moves while a delivery is being processed, before its status does."""
        return self._rows("SELECT max(id) FROM messages")[0][0] or 0

    def statuses(self) -> dict[str, int]:
        return dict(self._rows("SELECT status, count(*) FROM webhook_deliveries GROUP BY status ORDER BY status"))

    def close(self) -> None:
        self.engine.dispose()


def prepare_database(workdir: Path, database_url: str, env: dict) -> None:
    """Migrate a fresh database and link one Instagram account, so every delivery is for a known connection."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.bots import store as bot_store
    from webapp.connections.models import Connection, ConnectionStatus
    from webapp.extensions import db
    from webapp.team import directory

    app = create_app({
        "INSTANCE_PATH": str(workdir), "SQLALCHEMY_DATABASE_URI": database_url, "META_SANDBOX": False,
        "SECRET_KEY": env["SECRET_KEY"], "TOKEN_ENCRYPTION_KEY": env["TOKEN_ENCRYPTION_KEY"],
        "BACKGROUND_WORKERS": False, "WEBHOOK_PROCESSING": "off",  # this process only sets up
    })
    with app.app_context():
        upgrade()
        reception = directory.ensure_department("Recepção")
        sales = directory.ensure_department("Vendas")
        bot = bot_store.ensure_default_bot(reception.id, menu=[("Vendas", sales.id), ("Recepção", reception.id)])
        db.session.add(Connection(
            name="Loja Bench", default_department_id=reception.id, bot_id=bot.id, status=ConnectionStatus.ACTIVE,
            page_id=PAGE_ID, page_name="Loja Bench", instagram_account_id=ACCOUNT_ID,
            instagram_username="loja.bench"))
        db.session.commit()
        db.engine.dispose()


class Server:
    """gunicorn as production runs it (-c webapp/gunicorn_conf.py, gevent), one worker or more, in a subprocess."""

    def __init__(self, workdir: Path, env: dict, workers: int = 1):
        self.workers = workers
        # Bound and listening before gunicorn starts, as the test suite's live server: no race for the port.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self.address = sock.getsockname()
        self.log_path = workdir / "server.log"
        env = {**env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.address[1]}"}
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "webapp/gunicorn_conf.py", "--workers", str(workers),
                 "--bind", f"fd://{sock.fileno()}", "wsgi:app"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),))
        sock.close()

    def wait_until_healthy(self, timeout: float = 60) -> None:
        """Until a worker answers /healthz and every worker has booted (so none counts as a restart)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            conn = http.client.HTTPConnection(*self.address, timeout=timeout)
            try:
                conn.request("GET", "/healthz")  # the socket already listens: this waits for the worker
                if conn.getresponse().status == 200 and self.worker_boots() >= self.workers:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise RuntimeError(f"the server did not become healthy; its log:\n{self.log_tail()}")

    def worker_boots(self) -> int:
        return self.log_path.read_text(errors="replace").count("Booting worker")

    def restarts(self) -> int:
        """Workers gunicorn booted again (it kills one that stops answering: WORKER TIMEOUT)."""
        return self.worker_boots() - self.workers

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, without the access log's lines."""
        kept = [line for line in self.log_path.read_text(errors="replace").splitlines() if ' "POST ' not in line]
        return "\n".join(kept[-lines:])

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        """The server stops whatever happened; a benchmark that broke shows the end of its log first."""
        if isinstance(error, Exception):
            print(f"server log (last lines):\n{self.log_tail()}", file=sys.stderr)
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Benchmark:
    """The rounds, the replay and the wait for processing, against one running server."""

    def __init__(self, args, server: Server, database: Database, setup: Setup = Setup()):
        self.args, self.server, self.db, self.setup = args, server, database, setup
        self.deliveries = Deliveries(ACCOUNT_ID, APP_SECRET, f"127.0.0.1:{server.address[1]}")
        self.rates = {name: guess for name, _, _, guess in PHASES}  # the fastest requests/s seen so far
        self.results: dict[str, list[PhaseResult]] = {name: [] for name, *_ in PHASES}
        self.stored_sample: list[bytes] = []  # requests the real endpoint answered, for the replay
        self.dms_by_digest: dict[str, int] = {}  # every body sent to the real endpoint: how many DMs it holds
        self.drained_dms, self.drained_seconds = 0, 0.0  # processing timed while no load ran
        # Every delivery stood still as pending, or processing was turned off: nothing to wait for.
        self.no_processor = args.ingest_only
        self.largest_backlog = 0  # deliveries waiting when a phase ended
        self.stuck: set[str] = set()  # digests of deliveries that stopped moving
        self.timed_out = False  # the last wait ended at --drain-timeout with deliveries still moving
        self.restarts = 0  # of the gunicorn worker, as its log tells
        self.non_200 = self.stored_again = 0

    def run_phase(self, name: str, path: str, events: int) -> PhaseResult:
        # Enough for the fastest rate seen yet and then some: noise moves rates by half from one round to the next.
        count = int(self.rates[name] * self.args.seconds * 1.5) + self.args.concurrency
        requests = self.deliveries.requests(path, count, events)
        result = drive(self.server.address, requests, self.args.concurrency, self.args.seconds)
        self.rates[name] = max(self.rates[name], result.rate)
        self.non_200 += result.failures
        if path == "/webhooks/instagram":
            accepted = [requests[index] for index in result.accepted]
            for request in accepted:
                self.dms_by_digest[body_digest(request)] = events
            share = self.args.replay // (2 * self.args.rounds) + 1
            self.stored_sample += random.sample(accepted, min(len(accepted), share))
        return result

    def round(self, number: int) -> None:
        figures = {}
        for name, path, events, _ in PHASES:
            self.settle()  # a backlog being processed would slow whichever phase comes next
            self.new_restarts()
            result = self.run_phase(name, path, events)
            self.results[name].append(result)
            figures[name] = result.rate * events
            notes = [f"reconnects: {result.reconnects}"] if result.reconnects else []
            if result.lost:
                notes.append(f"{result.lost} lost with their connection")
            if result.ran_out:
                notes.append("ran out of prepared requests")
            print(f"  {number:>3}  {name:<12} {len(result.accepted):>8,} {result.rate:>9,.0f}"
                  f" {result.rate * events:>9,.0f} {result.latency_ms(0.5):>7.1f} {result.latency_ms(0.99):>7.1f}"
                  f" {result.client_cpu / result.seconds:>7.0%} {result.failures:>7}  {', '.join(notes)}")
            if result.error_sample:
                print(f"       first non-200 answer: {result.error_sample!r}")
            self.new_restarts()
        print(f"       this round: single/bare {figures['single'] / figures['bare ×1']:.2f}, "
              f"batched ×50/bare ×50 {figures['batched ×50'] / figures['bare ×50']:.2f}")

    def new_restarts(self) -> int:
        """Worker restarts since the last look: gunicorn kills a worker that stops answering (WORKER TIMEOUT)."""
        restarts = self.server.restarts()
        new, self.restarts = restarts - self.restarts, restarts
        if new:
            print(f"       ! gunicorn restarted the worker ×{new} (WORKER TIMEOUT: it stopped answering)")
        return new

    def settle(self, stall: float = 5.0) -> None:
        """Wait while the app works through waiting deliveries, timing it; stop when nothing moved for `stall` s:
        no delivery done and no message recorded (a delivery of 50 new customers' DMs can take longer than that
        when processing is slow, as on a busy machine with more workers than cores)."""
        waiting = set() if self.no_processor else self.waiting()
        self.largest_backlog = max(self.largest_backlog, len(waiting))
        start = last_change = last_move = time.monotonic()
        left, newest = waiting, self.db.newest_message() if waiting else None
        self.timed_out = False
        while left:
            if time.monotonic() - start >= self.args.drain_timeout:
                self.timed_out = True  # still moving, but for longer than the wait allows
                break
            time.sleep(0.1)
            now_left, now_newest = self.waiting(), self.db.newest_message()
            if now_left != left:
                left, last_change = now_left, time.monotonic()
            if now_newest != newest or last_change > last_move:
                newest, last_move = now_newest, time.monotonic()
            elif time.monotonic() - last_move > stall:
                self.stuck |= left  # claimed by a worker that was killed, most likely: not waited for again
                break
        self.drained_dms += sum(self.dms_by_digest.get(digest, 0) for digest in waiting - left)
        self.drained_seconds += last_change - start
        self.no_processor = self.no_processor or set(self.db.statuses()) == {"pending"}

    def waiting(self) -> set[str]:
        return self.db.waiting_digests() - self.stuck

    def replay(self) -> None:
        before = self.db.count()
        result = drive(self.server.address, self.stored_sample, self.args.concurrency, seconds=3600)
        self.non_200 += result.failures
        self.stored_again = self.db.count() - before
        print(f"replay: {len(self.stored_sample):,} bodies re-sent ({result.rate:,.0f} req/s, "
              f"{result.failures} non-200), {self.stored_again} new deliveries stored")
        if self.stored_again:
            print("  ERROR: replayed bodies were stored again")
        self.new_restarts()

    def report(self) -> None:
        medians = {name: statistics.median(r.rate * events for r in self.results[name])
                   for name, _, events, _ in PHASES}
        setup = "one gevent worker, SQLite" if self.setup.default else self.setup.label()
        print(f"\nmedians over {self.args.rounds} rounds ({self.args.seconds:g} s per phase, "
              f"{self.args.concurrency} connections, {setup}):")
        for name, *_ in PHASES:
            print(f"  {name:<12} {medians[name]:>9,.0f} DMs/s")
        single_ratio = _median_ratio(self.results["single"], self.results["bare ×1"])
        batched_ratio = _median_ratio(self.results["batched ×50"], self.results["bare ×50"])
        print(f"  single/bare ×1 (median of per-round ratios): {single_ratio:.2f}   target ≥ {SINGLE_TARGET}"
              f"   {_mark(single_ratio >= SINGLE_TARGET)}")
        print(f"  batched ×50: {medians['batched ×50']:,.0f} DMs/s   target ≥ {BATCHED_TARGET:,}"
              f"   {_mark(medians['batched ×50'] >= BATCHED_TARGET)}"
              f"   (batched ×50/bare ×50: {batched_ratio:.2f})")
        non_200 = sum(r.failures for results in self.results.values() for r in results)
        print(f"  non-200 answers during the load: {non_200}")

    def drain(self) -> None:
        dms = sum(self.dms_by_digest.values())
        print(f"\nstored: {self.db.count():,} deliveries ({dms:,} DMs); by status: {self.db.statuses()}")
        self.settle(stall=15.0)
        if self.args.ingest_only:
            print("processing: off (--ingest-only); not measured")
            return
        if self.no_processor:
            print("processing: every delivery is still pending (no background processor yet?); not measured")
            return
        print(f"processing: by status after waiting: {self.db.statuses()}")
        if self.drained_dms >= MEASURABLE_BACKLOG:
            print(f"  drain rate {self.drained_dms / self.drained_seconds:,.0f} DMs/s ({self.drained_dms:,} DMs "
                  f"processed in {self.drained_seconds:.1f} s while no load ran)")
        elif not self.stuck:  # too little was ever left over to time it meaningfully
            print(f"  kept up with the load: at most {self.largest_backlog:,} deliveries waiting when a phase ended")
        if self.timed_out:
            print(f"  {self.db.count_waiting():,} deliveries still waiting when the wait ran out "
                  f"(--drain-timeout {self.args.drain_timeout:g} s)")
        elif self.db.count_waiting():
            print(f"  {self.db.count_waiting():,} deliveries stopped moving (claimed by a worker that was killed?)")
        self.new_restarts()


def _median_ratio(results: list[PhaseResult], baselines: list[PhaseResult]) -> float:
    """Each round's ratio first: the two ran seconds apart, so they saw much the same noise."""
    return statistics.median(result.rate / baseline.rate for result, baseline in zip(results, baselines))


def _mark(met: bool) -> str:
    return "PASS" if met else "MISS"


def server_environment(workdir: Path, database_url: str, ingest_only: bool, redis_url: str | None = None) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url, "INSTANCE_PATH": str(workdir),
        "SECRET_KEY": secrets.token_urlsafe(32), "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "FACEBOOK_CLIENT_ID": "1000000000000001", "FACEBOOK_CLIENT_SECRET": APP_SECRET,
        "META_VERIFY_TOKEN": "direto-bench-verify-token",
        "WEBHOOK_BARE_ENDPOINT": "1", "DIRETO_SCHEDULER": "0", "META_SANDBOX": "0",
        # Nothing leaves the machine: a Graph call (profile, bot greeting) fails at once on a closed port.
        "META_GRAPH_URL": "http://127.0.0.1:9/",
    }
    env.pop("REDIS_URL", None)  # only what --redis-url says: the figures are labelled with it
    if redis_url:
        env["REDIS_URL"] = redis_url
    if ingest_only:
        env.update(WEBHOOK_PROCESSING="off", DIRETO_WORKERS="0")
    return env


def run(args, workdir: Path) -> Benchmark:
    setup = setup_in(args)
    with database_for(workdir, setup, args.keep) as (database_url, shown):
        env = server_environment(workdir, database_url, args.ingest_only, setup.redis_url)
        prepare_database(workdir, database_url, env)
        database = Database(database_url)
        try:
            return _run(args, workdir, env, database, setup, shown)
        finally:
            database.close()  # before the schema goes


def _run(args, workdir: Path, env: dict, database: Database, setup: Setup, shown: str) -> Benchmark:
    server = Server(workdir, env, setup.workers)
    with server:
        server.wait_until_healthy()
        bench = Benchmark(args, server, database, setup)
        print(f"server: gunicorn, {setup.gunicorn()}, pid {server.process.pid}, http://127.0.0.1:{server.address[1]}"
              f", background processing {'off' if args.ingest_only else 'as configured'}; database {shown}"
              + (f"; redis {without_password(setup.redis_url)}" if setup.redis_url else ""))
        print(f"  {'round':>5}  {'phase':<12} {'accepted':>8} {'req/s':>9} {'DMs/s':>9} {'p50 ms':>7}"
              f" {'p99 ms':>7} {'client':>7} {'non-200':>7}")
        for number in range(1, args.rounds + 1):
            bench.round(number)
        bench.report()
        bench.settle()
        bench.replay()
        bench.drain()
        return bench


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of each phase (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of every phase (default 5)")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections (default 16)")
    parser.add_argument("--replay", type=int, default=1000, help="bodies re-sent at the end (default 1000)")
    parser.add_argument("--drain-timeout", type=float, default=120, help="longest wait for processing (s)")
    parser.add_argument("--ingest-only", action="store_true",
                        help="no background processing in the server: what storing costs, without its competition")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (database, server log), and the PostgreSQL schema")
    add_setup_options(parser)
    args = parser.parse_args(argv)
    args.setup = setup_of(parser, args)
    bench = in_workdir(run, args, "direto-bench-")
    if bench is None:
        return 1
    if bench.non_200 or bench.restarts or bench.stored_again:
        print(f"\nFAILED: {bench.non_200} non-200 answers, {bench.restarts} worker restarts, "
              f"{bench.stored_again} replayed deliveries stored again", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    entry_point(main)
