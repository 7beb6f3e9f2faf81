"""Live update latency: from a customer's DM posted to the webhook to its "dm" frame at an open page.

    .venv/bin/python bench/sse_latency.py [--rate 100] [--seconds 20] [--customers 200]
        [--database-url postgresql://... --redis-url redis://... --workers 2] [--compare]

Serves Direto as in production (gunicorn, one gevent worker, background processing on, SQLite in a temporary
folder; or PostgreSQL in a throwaway schema, Redis and more workers, as asked) with one linked Instagram account,
signs in as an admin and holds one stream open on GET /events, then posts signed Meta-shaped DMs at a steady rate
(one per POST, from a few hundred customers whose tickets wait in Vendas). With more than one worker the stream
is in one of them and either may process a DM: the other process's events reach it through Redis, or without
Redis at its next look at the database (SSE_POLL). Each DM's text carries its number, so its "dm" frame is matched
to the moment its POST started. Target: p99 <= 50 ms on loopback. --compare runs on SQLite with one worker first,
then as asked, and prints the two side by side.

Exits non-zero when something is broken (a non-200 answer, a DM whose frame never came, a server that does not
start or whose worker gunicorn restarted), not on a missed target.
"""
from __future__ import annotations

import argparse
import base64
import codecs
import functools
import http.client
import json
import re
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import JSON, create_engine, text

from http_load import entry_point, in_workdir, signed_in_cookie
from webhook_ingest import (ACCOUNT_ID, APP_SECRET, Server, Setup, add_setup_options, database_for, prepare_database,
                            server_environment, setup_in, setup_of, without_password)

from webapp.meta.signatures import sign

TARGET_P99_MS = 50.0
ADMIN_EMAIL, ADMIN_PASSWORD = "bench@direto.local", "bench password 42"
NUMBERED = re.compile(r"#bench-(\d+)")


def customers_of(count: int) -> list[str]:
    return [str(10**15 + 7919 * n) for n in range(count)]


def prepare_inbox(workdir: Path, database_url: str, env: dict, customers: int) -> None:
    """An admin, and `customers` conversations under way: each customer has a ticket waiting in Vendas, its tunnel
    open and the profile read, so a DM joins it (the steady state of a busy inbox; no bot, no Graph call)."""
    import datetime as dt

    from sqlalchemy import select

    from webapp import create_app
    from webapp.connections.models import Connection
    from webapp.extensions import db
    from webapp.team import directory
    from webapp.team.models import Role
    from webapp.tickets.models import Contact, Ticket, TicketStatus

    app = create_app({
        "INSTANCE_PATH": str(workdir), "SQLALCHEMY_DATABASE_URI": database_url, "META_SANDBOX": False,
        "SECRET_KEY": env["SECRET_KEY"], "TOKEN_ENCRYPTION_KEY": env["TOKEN_ENCRYPTION_KEY"],
        "WEBHOOK_PROCESSING": "off",
    })
    with app.app_context():
        directory.create_user(name="Bench Admin", email=ADMIN_EMAIL, password=ADMIN_PASSWORD, role=Role.ADMIN,
                              language="pt_BR", departments=[], hash_method="pbkdf2:sha256:1000")
        connection = db.session.scalar(select(Connection))
        sales = directory.ensure_department("Vendas")
        now = dt.datetime.now(dt.timezone.utc)
        for number, igsid in enumerate(customers_of(customers)):
            contact = Contact(connection_id=connection.id, igsid=igsid, name=f"Cliente {number}",
                              profile_checked_at=now)
            db.session.add(contact)
            db.session.flush()
            db.session.add(Ticket(protocol=f"BENCH-{number:06d}", connection_id=connection.id, contact_id=contact.id,
                                  department_id=sales.id, status=TicketStatus.QUEUED, opened_at=now,
                                  last_message_at=now, last_customer_message_at=now,
                                  tunnel_closes_at=now + dt.timedelta(hours=23)))
        db.session.commit()
        db.engine.dispose()


def start_server(workdir: Path, extra_env: dict | None = None, customers: int = 200, database_url: str | None = None,
                 setup: Setup = Setup()) -> Server:
    """A fresh database (`database_url`, empty; default a new SQLite file in `workdir`) with one linked account, an
    admin and conversations under way; the server (REDIS_URL and workers from `setup`), healthy."""
    database_url = database_url or f"sqlite:///{workdir / 'direto.sqlite3'}"
    env = {**server_environment(workdir, database_url, ingest_only=False, redis_url=setup.redis_url),
           **(extra_env or {})}
    prepare_database(workdir, database_url, env)
    prepare_inbox(workdir, database_url, env, customers)
    server = Server(workdir, env, setup.workers)
    try:
        server.wait_until_healthy()
    except BaseException:
        server.stop()
        raise
    return server


def session_cookie(address: tuple[str, int]) -> str:
    """Sign in once as the benchmark's admin; the Cookie header to reuse."""
    return signed_in_cookie(f"http://{address[0]}:{address[1]}", ADMIN_EMAIL, ADMIN_PASSWORD)


def stream_request(address: tuple[str, int], cookie: str) -> bytes:
    return (f"GET /events HTTP/1.1\r\nHost: {address[0]}:{address[1]}\r\nAccept: text/event-stream\r\n"
            f"Cookie: {cookie}\r\n\r\n").encode()


def dm_body(number: int, customer: str) -> bytes:
    """One DM as Meta posts it; its text carries `number`."""
    now_ms = int(time.time() * 1000)
    mid = base64.urlsafe_b64encode(f"ig_item:1:IGMessageID:{ACCOUNT_ID}:{secrets.token_hex(8)}".encode())
    item = {"sender": {"id": customer}, "recipient": {"id": ACCOUNT_ID}, "timestamp": now_ms,
            "message": {"mid": mid.rstrip(b"=").decode(), "text": f"Oi! Vocês têm o tênis 42? 👟 #bench-{number}"}}
    payload = {"object": "instagram", "entry": [{"id": ACCOUNT_ID, "time": now_ms, "messaging": [item]}]}
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()


class Frames:
    """Incremental text/event-stream parsing of the frames' event names and data (chunked framing skipped)."""

    def __init__(self):
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.text = ""

    def feed(self, data: bytes) -> list[tuple[str, str]]:
        self.text += self.decoder.decode(data)
        found = []
        while "\n\n" in self.text:
            block, self.text = self.text.split("\n\n", 1)
            name, lines = "message", []
            for line in block.split("\n"):
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    lines.append(line[6:])
            if lines:
                found.append((name, "\n".join(lines)))
        return found


def dechunk(buffer: bytearray) -> bytes:
    """Take the complete chunks of a chunked body out of `buffer`; their bytes."""
    out = bytearray()
    while True:
        end = buffer.find(b"\r\n")
        if end < 0:
            break
        size = int(buffer[:end].split(b";")[0], 16)
        if len(buffer) < end + 2 + size + 2:
            break
        out += buffer[end + 2:end + 2 + size]
        del buffer[:end + 2 + size + 2]
    return bytes(out)


class StreamReader(threading.Thread):
    """One open stream, read on its own thread: when each numbered DM's "dm" frame arrived."""

    def __init__(self, address: tuple[str, int], cookie: str):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(address, timeout=60)
        self.sock.sendall(stream_request(address, cookie))
        self.arrived: dict[int, float] = {}  # perf_counter
        self.arrived_wall: dict[int, float] = {}  # the same moments by the wall clock, to compare with the database
        self.opened = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        buffer, frames = bytearray(), Frames()
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                head += self.sock.recv(65536)
            head, _, rest = head.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"GET /events answered {head[:60]!r}")
            buffer += rest
            self.opened.set()
            while True:
                for name, data in frames.feed(dechunk(buffer)):
                    if name == "dm":
                        moment = time.perf_counter()
                        number = NUMBERED.search(json.loads(data)["text"])
                        if number and int(number.group(1)) not in self.arrived:
                            self.arrived[int(number.group(1))] = moment
                            self.arrived_wall[int(number.group(1))] = time.time()
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise RuntimeError("the stream ended")
                buffer += chunk
        except Exception as error:  # noqa: BLE001  (reported by the main thread)
            self.error = error
            self.opened.set()


class Sender:
    """Posts DMs on keep-alive connections, each at its planned moment; remembers when each POST started."""

    def __init__(self, address: tuple[str, int], customers: list[str], connections: int = 4):
        self.address, self.customers = address, customers
        self.sent: dict[int, float] = {}
        self.sent_wall: dict[int, float] = {}
        self.non_200 = 0
        self.answer_ms: list[float] = []
        self.lock = threading.Lock()
        self.connections = connections

    def run(self, first: int, count: int, rate: float) -> None:
        start = time.perf_counter() + 0.05
        threads = [threading.Thread(target=self._send, args=(lane, first, count, rate, start))
                   for lane in range(self.connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _send(self, lane: int, first: int, count: int, rate: float, start: float) -> None:
        conn = http.client.HTTPConnection(*self.address, timeout=60)
        for index in range(lane, count, self.connections):
            number = first + index
            body = dm_body(number, self.customers[number % len(self.customers)])
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, APP_SECRET)}
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            with self.lock:
                self.sent[number], self.sent_wall[number] = sent, time.time()
            conn.request("POST", "/webhooks/instagram", body, headers)  # keep-alive: one connection per lane
            response = conn.getresponse()
            response.read()
            with self.lock:
                self.answer_ms.append((time.perf_counter() - sent) * 1000)
                self.non_200 += response.status != 200
        conn.close()


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def show(label: str, values: list[float], note: str = "") -> None:
    if not values:
        print(f"  {label:<30} none")
        return
    print(f"  {label:<30} p50 {quantile(values, 0.5):7.1f}  p90 {quantile(values, 0.9):7.1f}  "
          f"p99 {quantile(values, 0.99):7.1f}  max {max(values):7.1f} ms   {note}")


MEASURES = ("webhook answers (its 200)", "POST -> dm frame", "  POST -> event recorded", "  event recorded -> dm frame")


@dataclass
class Outcome:
    """One run's figures, for --compare: its setup, its exit status, and each measure's latencies (ms)."""

    setup: Setup
    status: int
    measures: dict[str, list[float]]


def run(args, workdir: Path, setup: Setup | None = None) -> Outcome:
    setup = setup or setup_in(args)
    with database_for(workdir, setup, args.keep) as (database_url, shown):
        server = start_server(workdir, customers=args.customers, database_url=database_url, setup=setup)
        with server:
            return _run(args, server, database_url, setup, shown)


def _run(args, server: Server, database_url: str, setup: Setup, shown: str) -> Outcome:
    address = server.address
    print(f"server: gunicorn, {setup.gunicorn()}, pid {server.process.pid}, http://{address[0]}:{address[1]}, "
          f"background processing on; database {shown}"
          + (f"; redis {without_password(setup.redis_url)}" if setup.redis_url else ""))
    cookie = session_cookie(address)
    reader = StreamReader(address, cookie)
    reader.start()
    reader.opened.wait(30)
    if reader.error:
        raise reader.error
    sender = Sender(address, customers_of(args.customers))

    # Warm-up (not measured): the first requests of a fresh worker fill its caches.
    warm = 50
    sender.run(0, warm, args.rate)
    wait_for(reader, range(warm), 30)
    count = int(args.rate * args.seconds)
    first = 1_000_000
    print(f"sending {count} DMs at {args.rate:g}/s for {args.seconds:g} s, "
          f"from {args.customers} customers, over {sender.connections} keep-alive connections"
          + ("" if setup.default else f"; {setup.label()}") + " ...")
    sender.run(first, count, args.rate)
    numbers = range(first, first + count)
    wait_for(reader, numbers, 15)
    if reader.error:
        raise reader.error
    recorded = recorded_at(database_url)
    arrived = [n for n in numbers if n in reader.arrived]
    latencies = [(reader.arrived[n] - sender.sent[n]) * 1000 for n in arrived]
    missing = count - len(latencies)
    restarts = server.restarts()
    measures = dict(zip(MEASURES, (
        sender.answer_ms,
        latencies,
        # The two halves, by the wall clock (the event's created_at is taken when the processing flushes it).
        [(recorded[n] - sender.sent_wall[n]) * 1000 for n in numbers if n in recorded],
        [(reader.arrived_wall[n] - recorded[n]) * 1000 for n in arrived if n in recorded],
    )))
    notes = (f"non-200: {sender.non_200}", f"{len(latencies)} of {count} arrived",
             "queued, then processed in the background", "the live stream")
    for (label, values), note in zip(measures.items(), notes):
        show(label, values, note)
    p99 = quantile(latencies, 0.99)
    print(f"  POST -> dm frame p99 {p99:.1f} ms   target <= {TARGET_P99_MS:g} ms   "
          f"{'PASS' if p99 <= TARGET_P99_MS else 'FAIL'}")
    if missing or sender.non_200 or restarts:
        print(f"\nFAILED: {missing} DMs without a frame, {sender.non_200} non-200 answers, "
              f"{restarts} worker restarts", file=sys.stderr)
        return Outcome(setup, 1, measures)
    return Outcome(setup, 0, measures)


def recorded_at(database_url: str | Path) -> dict[int, float]:
    """When the server recorded each numbered DM's live event (its created_at, by the wall clock). Plain SQL that
    SQLite and PostgreSQL both read: the event's payload names its message, matched here rather than in SQL."""
    from webapp.config import normalise_database_url
    from webapp.database import UTCDateTime

    url = f"sqlite:///{database_url}" if isinstance(database_url, Path) else normalise_database_url(database_url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            texts = dict(conn.execute(text("SELECT id, text FROM messages WHERE text LIKE :numbered"),
                                      {"numbered": "%#bench-%"}).all())
            events = conn.execute(text("SELECT payload, created_at FROM live_events WHERE kind = 'message.new'")
                                  .columns(payload=JSON, created_at=UTCDateTime)).all()
    finally:
        engine.dispose()
    found = {}
    for payload, created in events:
        if isinstance(payload, str):  # a driver that leaves JSON as text
            payload = json.loads(payload)
        number = NUMBERED.search(texts.get((payload or {}).get("message_id")) or "")
        if number:
            found[int(number.group(1))] = created.timestamp()
    return found


def wait_for(reader: StreamReader, numbers, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not reader.error and any(n not in reader.arrived for n in numbers):
        time.sleep(0.05)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100, help="DMs per second (default 100)")
    parser.add_argument("--seconds", type=float, default=20, help="how long to send (default 20)")
    parser.add_argument("--customers", type=int, default=200, help="distinct customers writing (default 200)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (database, server log), and the PostgreSQL schema")
    add_setup_options(parser)
    parser.add_argument("--compare", action="store_true",
                        help="run on SQLite with one worker first, then as the options say; print both side by side")
    args = parser.parse_args(argv)
    args.setup = setup_of(parser, args)
    if args.compare and args.setup.default:
        parser.error("--compare needs something to compare with SQLite and one worker: --database-url, --redis-url "
                     "or --workers")
    outcomes = []
    for setup in (Setup(), args.setup) if args.compare else (args.setup,):
        if args.compare:
            print(f"\n== {setup.label()} ==")
        outcome = in_workdir(functools.partial(run, setup=setup), args, "direto-bench-sse-")
        if outcome is None:
            return 1
        outcomes.append(outcome)
    if args.compare:
        compare(outcomes)
    return max(outcome.status for outcome in outcomes)


def compare(outcomes: list[Outcome]) -> None:
    """The runs' figures side by side: p50, p99 and max of each measure, in ms."""
    print("\nside by side, in ms (the machine is shared: run it more than once before trusting a figure)")
    print(f"  {'':<30}" + "".join(f"{outcome.setup.label():>33}" for outcome in outcomes))
    print(f"  {'':<30}" + "".join(f"   {'p50':>10}{'p99':>10}{'max':>10}" for _ in outcomes))
    for label in MEASURES:
        cells = ""
        for outcome in outcomes:
            values = outcome.measures[label]
            cells += (f"   {quantile(values, 0.5):>10.1f}{quantile(values, 0.99):>10.1f}{max(values):>10.1f}"
                      if values else f"{'none':>33}")
        print(f"  {label:<30}{cells}")

if __name__ == "__main__":
    entry_point(main)
