"""Live streams as the tests read them: a small EventSource over a real socket, signing in as a browser does, a
linked account whose customers already have tickets, and their DMs as Meta's signed webhooks.

A pytest plugin (see tests/conftest.py): the fixtures `conversations` and `streams` are available to every module.
"""
from __future__ import annotations

import base64
import codecs
import datetime as dt
import http.client
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from tests.conftest import CSRF_META, TEST_PASSWORD
from tests.inbound_support import eventually
from webapp.bots import store as bot_store
from webapp.config import SANDBOX_APP_SECRET
from webapp.connections.models import Connection, ConnectionStatus
from webapp.database import utcnow
from webapp.events.models import LiveEvent
from webapp.extensions import db
from webapp.messages.models import Message
from webapp.meta.signatures import sign
from webapp.team import directory
from webapp.tickets.models import Contact, Ticket, TicketStatus

ACCOUNT, PAGE = "17841400000000777", "104000000000777"
ANA, BIA, CAIO = "8532027536890212", "4204039278529172", "7310452210384455"
WAIT = 15.0  # seconds: longest wait for a frame (the live server polls other processes' events every 2 s)


# ---- a small EventSource ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    id: str | None
    event: str | None  # None: a frame without data (it only moves the resume point; browsers fire nothing)
    data: str | None


class Parser:
    """text/event-stream parsed as the HTML standard says browsers parse it."""

    def __init__(self):
        self.frames: deque[Frame] = deque()
        self.comments: list[str] = []
        self._decoder = codecs.getincrementaldecoder("utf-8")()  # a character may span two reads
        self._partial = ""
        self._last_id: str | None = None
        self._event, self._data, self._id_given = None, [], False

    def feed(self, chunk: bytes) -> None:
        lines = (self._partial + self._decoder.decode(chunk)).split("\n")
        self._partial = lines.pop()
        for line in lines:
            line = line.rstrip("\r")
            if not line:
                if self._data:
                    self.frames.append(Frame(self._last_id, self._event or "message", "\n".join(self._data)))
                elif self._id_given:  # fires nothing in a browser, but moves its resume point: kept to see it
                    self.frames.append(Frame(self._last_id, None, None))
                self._event, self._data, self._id_given = None, [], False
            elif line.startswith(":"):
                self.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "id":
                    self._last_id, self._id_given = value, True
                elif name == "event":
                    self._event = value
                elif name == "data":
                    self._data.append(value)


class EventStream(Parser):
    """GET /events over a real socket: a small EventSource."""

    def __init__(self, base_url: str, cookie: str | None = None, after: int | None = None,
                 last_event_id: int | None = None):
        super().__init__()
        address = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(address.hostname, address.port, timeout=WAIT)
        headers = {"Accept": "text/event-stream"}
        if cookie:
            headers["Cookie"] = cookie
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/events" + (f"?after={after}" if after is not None else ""), headers=headers)
        self.sock = self.conn.sock  # the response keeps reading it even when the connection lets go of it
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.received: list[Frame] = []  # every frame next() returned
        self.ended = False

    def close(self) -> None:
        self.response.close()
        self.conn.close()

    def _read(self, deadline: float) -> None:
        if self.ended:
            raise AssertionError("the stream ended")
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = self.response.read1(65536)
        if not chunk:
            self.ended = True
        self.feed(chunk)

    def next(self, timeout: float = WAIT) -> Frame:
        deadline = time.monotonic() + timeout
        while not self.frames:
            assert time.monotonic() < deadline, "no frame came in time"
            self._read(deadline)
        self.received.append(self.frames.popleft())
        return self.received[-1]

    def opening(self) -> tuple[list[Frame], int]:
        """What the stream replays before going live, and the id it goes on from (its first data-less frame)."""
        replayed = []
        while (frame := self.next()).event is not None:
            replayed.append(frame)
        return replayed, int(frame.id)

    def until(self, wanted, timeout: float = WAIT) -> list[Frame]:
        """Frames up to and including the first for which wanted(frame) holds."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            frame = self.next(max(0.01, deadline - time.monotonic()))
            seen.append(frame)
            if wanted(frame):
                return seen

    def wait_for_end(self, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while not self.ended:
            assert time.monotonic() < deadline, "the stream did not end"
            self._read(deadline)


def dm_with(text: str):
    return lambda frame: frame.event == "dm" and json.loads(frame.data)["text"] == text


def signed_in(base_url: str, email: str) -> str:
    """Sign in as a browser does; the session cookie for the stream's requests."""
    with requests.Session() as session:  # closed: an idle keep-alive connection would outlive the test
        page = session.get(f"{base_url}/login", timeout=30)
        token = CSRF_META.search(page.text).group(1)
        answer = session.post(f"{base_url}/login", allow_redirects=False, timeout=30,
                              data={"email": email, "password": TEST_PASSWORD, "csrf_token": token})
        assert answer.status_code == 302, answer.text
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)


# ---- the world: a linked account, three customers with a ticket each -----------------------------------


@pytest.fixture
def conversations(app):
    """A linked account whose customers already have open tickets: Ana's and Caio's in Vendas, Bia's in Suporte
    (their DMs join them: no bot, no profile lookup, one live event per DM)."""
    now = utcnow()
    with app.app_context():
        reception, sales, support = (directory.ensure_department(n) for n in ("Recepção", "Vendas", "Suporte"))
        bot = bot_store.ensure_default_bot(reception.id, menu=[("Vendas", sales.id), ("Suporte", support.id)])
        connection = Connection(name="Loja Live", default_department_id=reception.id, bot_id=bot.id,
                                status=ConnectionStatus.ACTIVE, instagram_account_id=ACCOUNT, page_id=PAGE)
        db.session.add(connection)
        db.session.flush()
        tickets = {}
        for igsid, name, department in ((ANA, "Ana Souza", sales), (BIA, "Bia Lima", support),
                                        (CAIO, "Caio Rocha", sales)):
            contact = Contact(connection_id=connection.id, igsid=igsid, name=name, profile_checked_at=now)
            db.session.add(contact)
            db.session.flush()
            ticket = Ticket(protocol=f"LIVE-{secrets.token_hex(4)}", connection_id=connection.id,
                            contact_id=contact.id, department_id=department.id, status=TicketStatus.QUEUED,
                            opened_at=now, last_message_at=now, last_customer_message_at=now,
                            tunnel_closes_at=now + dt.timedelta(hours=20))
            db.session.add(ticket)
            db.session.flush()
            tickets[igsid] = ticket.id
        db.session.commit()
        return {"connection": connection.id, "sales": sales.id, "support": support.id, "tickets": tickets}


def write(base_url: str, who: str, text: str) -> None:
    """The customer `who` sends a DM: Meta's signed webhook, to the server at `base_url`."""
    mid = base64.urlsafe_b64encode(f"ig_item:1:IGMessageID:{secrets.token_hex(12)}".encode()).decode().rstrip("=")
    item = {"sender": {"id": who}, "recipient": {"id": ACCOUNT}, "timestamp": int(time.time() * 1000),
            "message": {"mid": mid, "text": text}}
    body = json.dumps({"object": "instagram", "entry": [{"id": ACCOUNT, "time": item["timestamp"],
                                                        "messaging": [item]}]}).encode()
    answer = requests.post(f"{base_url}/webhooks/instagram", data=body, timeout=30, headers={
        "X-Hub-Signature-256": sign(body, SANDBOX_APP_SECRET), "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text


def event_of(app, text: str) -> int:
    """The id of the live event that told of the customer's message `text` (once the server recorded it)."""
    def find():
        with app.app_context():
            message = db.session.scalar(select(Message).where(Message.text == text))
            if message is None:
                return None
            events = db.session.scalars(select(LiveEvent).where(LiveEvent.kind == "message.new")).all()
            return next((e.id for e in events if (e.payload or {}).get("message_id") == message.id), None)
    return eventually(find, what=f"the live event of {text!r}")


def newest_event(app) -> int:
    with app.app_context():
        return db.session.scalar(select(LiveEvent.id).order_by(LiveEvent.id.desc()).limit(1)) or 0


@pytest.fixture
def streams():
    """Streams opened by a test, closed after it."""
    opened = []

    def open_stream(*args, **kwargs) -> EventStream:
        opened.append(EventStream(*args, **kwargs))
        return opened[-1]

    yield open_stream
    for each in opened:
        each.close()
