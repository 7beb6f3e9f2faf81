"""Several processes, one inbox: two Direto servers (each gunicorn with its gevent worker) on one PostgreSQL and one
Redis, as a growing team runs them on two machines.

- A DM taken by one server reaches a page whose live stream is open on a third that processes nothing. The
  servers' own polling is turned off (SSE_POLL and SSE_HEARTBEAT of 10 minutes), so only Redis can have carried
  it, also after Redis dropped the subscribers (what a Redis restart does to them).
- The same deliveries, posted to both servers at once, as single DMs and in overlapping batches, store each message
  once, open one ticket per customer, with distinct protocol numbers.
- Killing the process that holds the scheduler moves the scheduler to the other server within its lease.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import func, select

from tests.conftest import serve
from tests.inbound_support import eventually
from tests.live_support import ACCOUNT, ANA, BIA, dm_with, signed_in, write
from webapp.bots import store as bot_store
from webapp.config import SANDBOX_APP_ID, SANDBOX_APP_SECRET
from webapp.connections.models import Connection, ConnectionStatus
from webapp.extensions import db
from webapp.messages.models import Message
from webapp.meta.signatures import sign
from webapp.scheduler.models import ScheduledJob, SchedulerLease
from webapp.team import directory
from webapp.tickets.models import Contact, Ticket
from webapp.webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TEST_DATABASE_URL", "").startswith("postgres") and os.environ.get("TEST_REDIS_URL")),
    reason="needs TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL: runs in the PostgreSQL + Redis pass of CI",
)

LEASE, TICK = 4.0, 0.5  # seconds: the scheduler's lease and tick, short so a takeover is seen quickly
REDIS_ONLY = 5.0  # seconds a frame may take: far below the 10 minutes the servers wait before looking by themselves


@pytest.fixture(scope="module")
def servers(app, test_settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("two-servers")
    settings = dict(
        META_SANDBOX="0", FACEBOOK_CLIENT_ID=SANDBOX_APP_ID, FACEBOOK_CLIENT_SECRET=SANDBOX_APP_SECRET,
        META_GRAPH_URL="http://127.0.0.1:9/",  # nothing listens there: profile lookups fail at once, offline
        SSE_POLL="600", SSE_HEARTBEAT="600",
        SCHEDULER_LEASE_SECONDS=str(LEASE), SCHEDULER_TICK_SECONDS=str(TICK),
    )
    started = []
    try:
        for name in ("one", "two"):
            started.append(serve(test_settings, folder / f"{name}.log", **settings))
        # A third that only serves pages: it processes no delivery and runs no job, so whatever its streams hear
        # of another process's work came through Redis.
        started.append(serve(test_settings, folder / "pages.log", DIRETO_WORKERS="0", DIRETO_SCHEDULER="0",
                             **settings))
        yield started
    finally:
        for server in started:
            server.stop()


def workers_of(server) -> list[int]:
    """The pids of a gunicorn master's workers."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    return [int(pid) for pid in children]


# ---- live events across processes ---------------------------------------------------------------------


def test_a_dm_taken_by_one_server_reaches_a_page_open_on_the_other(servers, make_user, conversations, streams):
    one, _, pages = servers
    cookie = signed_in(pages.url, make_user("admin", departments=())["email"])
    page = streams(pages.url, cookie)
    page.opening()

    write(one.url, ANA, "Chegou pelo outro servidor?")
    frame = page.until(dm_with("Chegou pelo outro servidor?"), timeout=REDIS_ONLY)[-1]
    assert json.loads(frame.data)["ticket"] == conversations["tickets"][ANA]

    # Redis restarting closes every subscriber connection (the page server's among them): it reconnects, and goes
    # on hearing the others.
    assert redis.Redis.from_url(os.environ["TEST_REDIS_URL"]).client_kill_filter(_type="pubsub") >= 1
    write(one.url, BIA, "E depois que o Redis caiu?")
    page.until(dm_with("E depois que o Redis caiu?"), timeout=REDIS_ONLY + 5)  # + the first reconnect's backoff


# ---- the same deliveries through both servers -----------------------------------------------------------


@pytest.fixture
def linked(app):
    """A linked account whose bot is off: a new customer's first DM opens a ticket straight in its department."""
    with app.app_context():
        sales = directory.ensure_department("Vendas")
        bot = bot_store.ensure_default_bot(sales.id, menu=[("Vendas", sales.id)])
        bot.active = False
        connection = Connection(name="Loja Dupla", default_department_id=sales.id, bot_id=bot.id,
                                status=ConnectionStatus.ACTIVE, instagram_account_id=ACCOUNT, page_id="104000000000778")
        db.session.add(connection)
        db.session.commit()
        return connection.id


def body_of(items: list[dict]) -> bytes:
    return json.dumps({"object": "instagram", "entry": [{"id": ACCOUNT, "time": items[0]["timestamp"],
                                                        "messaging": items}]}).encode()


def post(url: str, body: bytes) -> int:
    return requests.post(f"{url}/webhooks/instagram", data=body, timeout=60, headers={
        "X-Hub-Signature-256": sign(body, SANDBOX_APP_SECRET), "Content-Type": "application/json"}).status_code


def test_the_same_deliveries_through_both_servers_store_each_message_once(app, servers, linked):
    one, two, _ = servers
    customers = [str(9_100_000_000_000_000 + n) for n in range(15)]
    now = int(time.time() * 1000)
    items = []
    for turn in range(3):
        for n, igsid in enumerate(customers):
            mid = base64.urlsafe_b64encode(f"ig_item:1:IGMessageID:{secrets.token_hex(12)}".encode()).decode()
            items.append({"sender": {"id": igsid}, "recipient": {"id": ACCOUNT}, "timestamp": now + turn * 100 + n,
                          "message": {"mid": mid.rstrip("="), "text": f"mensagem {turn} de {igsid}"}})
    # Meta may deliver one message alone and again inside a batch: different bytes, the same mids.
    bodies = [body_of([item]) for item in items] + [body_of(items[start:start + 5]) for start in range(0, 45, 3)]
    posts = [(server.url, body) for body in bodies for server in (one, two)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda each: post(*each), posts))
    assert set(answers) == {200}

    def settled():
        with app.app_context():
            left = db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.status.not_in([DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED])))
            return left == 0 or None
    eventually(settled, timeout=90, what="both servers processing every delivery")

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == len(bodies)  # bytes once
        mids = db.session.scalars(select(Message.mid).where(Message.connection_id == linked)).all()
        assert sorted(mids) == sorted(item["message"]["mid"] for item in items)  # every message, once
        assert db.session.scalar(select(func.count()).select_from(Contact)) == len(customers)
        protocols = db.session.scalars(select(Ticket.protocol)).all()
        assert len(protocols) == len(customers) == len(set(protocols))  # one ticket each, no number twice


# ---- the scheduler ------------------------------------------------------------------------------------


def holder(app) -> str | None:
    with app.app_context():
        lease = db.session.get(SchedulerLease, "scheduler")
        db.session.remove()
        return lease.holder if lease else None


def test_killing_the_scheduler_s_process_moves_the_scheduler_within_its_lease(app, servers):
    """Last in this module: it kills one of the two servers that run the scheduler."""
    running_jobs = servers[:2]
    pid_of = {pid: server for server in running_jobs for pid in workers_of(server)}
    current = eventually(lambda: holder(app), timeout=30, what="a server taking the scheduler")
    pid = int(current.split(":")[1])
    assert pid in pid_of, (current, pid_of)
    dying = pid_of[pid]
    survivor = next(server for server in running_jobs if server is not dying)

    dying.process.send_signal(signal.SIGKILL)  # the master first: it would start a new worker
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    dying.process.wait(10)

    def moved():
        now = holder(app)
        return now if now not in (None, current) else None
    taken = eventually(moved, timeout=LEASE * 3, what="another process taking the scheduler")
    moved_after = time.monotonic() - killed_at
    assert int(taken.split(":")[1]) in workers_of(survivor)
    assert moved_after <= LEASE + TICK + 2, f"the scheduler moved {moved_after:.1f} s after its holder died"

    # And the new holder runs the jobs: the ticket clock (every 5 s) runs again after the takeover.
    since = dt.datetime.now(dt.timezone.utc)

    def ticked():
        with app.app_context():
            job = db.session.get(ScheduledJob, "ticket-clock")
            db.session.remove()
            return job is not None and job.last_run_at is not None and job.last_run_at >= since or None
    eventually(ticked, timeout=15, what="the ticket clock running under its new holder")
    assert requests.get(f"{survivor.url}/healthz", timeout=10).status_code == 200
