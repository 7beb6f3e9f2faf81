"""Sending: a stored message reaches the customer exactly once, or fails with Instagram's reason in plain words.

Meta is the live server's sandbox over real HTTP; messages are queued with the send path's first half
(webapp.messages.outbound) and sent by `sender.drain`, run here in process. The live server may run a sender of
its own on the same database, so every test asserts outcomes (the customer's thread, the message's status), never
which process sent.
"""
from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace

import pytest
from flask_babel import force_locale

from tests.conftest import run_concurrently
from tests.inbound_support import eventually
from tests.test_connections import admin, linked_connection, setup  # noqa: F401  (fixtures)
from webapp.connections.models import Connection, ConnectionStatus
from webapp.database import utcnow
from webapp.events.models import LiveEvent
from webapp.extensions import db
from webapp.messages import outbound, reasons, sender
from webapp.messages.models import Author, EarlyChange, Message, MessageStatus
from webapp.tickets import tunnel
from webapp.tickets.models import Contact, Ticket, TicketStatus
from webapp.workspace.store import company_settings

ANA = "8532027536890212"  # Ana's IGSID at @loja.demo
WAIT = 10  # seconds to wait for another process (the sandbox, the live server) before giving up


@pytest.fixture
def open_ticket(meta_app, admin, setup, sandbox):  # noqa: F811
    """Ana wrote to @loja.demo: a linked connection, her contact and her ticket, tunnel open. `wrote_hours_ago`
    back-dates her message at Meta only: our ticket still believes the tunnel is open."""

    def make(wrote_hours_ago: float | None = None) -> SimpleNamespace:
        connection_id = linked_connection(admin, setup)
        with meta_app.app_context():
            # Before she writes, so the live server's webhook processing joins this ticket instead of opening one.
            contact = Contact(connection_id=connection_id, igsid=ANA, name="Ana")
            db.session.add(contact)
            db.session.flush()
            ticket = Ticket(protocol=f"T{contact.id}-{utcnow():%H%M%S%f}", connection_id=connection_id,
                            contact_id=contact.id, department_id=setup["department"], status=TicketStatus.QUEUED)
            db.session.add(ticket)
            db.session.commit()
            ticket_id = ticket.id
        written = {"sent_hours_ago": wrote_hours_ago} if wrote_hours_ago is not None else {}
        mid = sandbox.post("messages", customer="ana", kind="text", text="Oi", **written)["mid"]
        # Her message reaches Direto by webhook and renews the tunnel; let that finish before a test changes it.
        sandbox.post("deliveries/await", timeout=WAIT)
        eventually(lambda: known(meta_app, mid), WAIT, "Direto to store her message")
        set_tunnel(meta_app, SimpleNamespace(id=ticket_id), tunnel.WINDOW - dt.timedelta(minutes=1))
        return SimpleNamespace(id=ticket_id, connection_id=connection_id)

    return make


@pytest.fixture
def ticket(open_ticket):
    return open_ticket()


def queue(meta_app, ticket, text="Olá, Ana! Como posso ajudar?", **kwargs) -> int:
    with meta_app.app_context():
        message = outbound.queue(db.session.get(Ticket, ticket.id), author=kwargs.pop("author", Author.BOT),
                                 now=utcnow(), text=text, **kwargs)
        db.session.commit()
        return message.id


def stored(meta_app, message_id) -> Message:
    with meta_app.app_context():
        message = db.session.get(Message, message_id)
        db.session.expunge(message)
        return message


def drain_until(meta_app, message_id, done, timeout=WAIT) -> Message:
    """Drain until the message is in the state `done` describes, whichever process does the work."""
    deadline = time.monotonic() + timeout
    while True:
        sender.drain(meta_app)
        message = stored(meta_app, message_id)
        if done(message) or time.monotonic() > deadline:
            return message
        time.sleep(0.05)  # another process holds it: give it the moment it needs


def settled(meta_app, message_id) -> Message:
    return drain_until(meta_app, message_id, lambda m: m.status not in (MessageStatus.QUEUED, MessageStatus.SENDING))


def due_now(meta_app, message_id) -> None:
    """Skip the wait: the backoff (or the grace of a send left unanswered) is over."""
    with meta_app.app_context():
        db.session.get(Message, message_id).next_attempt_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()


def set_tunnel(meta_app, ticket, closes_in: dt.timedelta) -> None:
    with meta_app.app_context():
        db.session.get(Ticket, ticket.id).tunnel_closes_at = utcnow() + closes_in
        db.session.commit()


def business_messages(sandbox) -> list[dict]:
    """What Ana's phone shows from the business."""
    return [m for m in sandbox.get(f"threads/{ANA}")["messages"] if m["from"] == "business"]


def known(meta_app, mid) -> bool:
    """Direto has stored something under this mid: a message, or a change (an echo) waiting for its message."""
    with meta_app.app_context():
        return bool(db.session.scalar(db.select(Message.id).where(Message.mid == mid)) or
                    db.session.scalar(db.select(EarlyChange.id).where(EarlyChange.mid == mid)))


def untouched(sandbox, fault) -> bool:
    """A fault that never fired: Meta's Send API was not called."""
    return any(f["id"] == fault["id"] and f["fired"] == 0 for f in sandbox.get("faults")["faults"])


def words(meta_app, message: Message) -> str:
    """What an English-reading agent sees under the failed message."""
    with meta_app.app_context(), force_locale("en"):
        return reasons.plain_words(message.error_code, message.error)


# ---- sent ------------------------------------------------------------------------------------------


def test_a_queued_message_reaches_the_customer_once_with_metas_mid(meta_app, ticket, sandbox):
    message_id = queue(meta_app, ticket, "Olá, Ana! 😊")
    message = settled(meta_app, message_id)
    thread = business_messages(sandbox)
    assert [m["text"] for m in thread] == ["Olá, Ana! 😊"]
    assert message.status == MessageStatus.SENT and message.mid == thread[0]["mid"]
    assert (message.error_code, message.error, message.attempts) == (None, None, 1)
    assert sender.drain(meta_app) == 0  # nothing left to do
    with meta_app.app_context():
        statuses = [e.payload["status"] for e in db.session.scalars(
            db.select(LiveEvent).where(LiveEvent.kind == "message.status").order_by(LiveEvent.id))
            if e.payload["message_id"] == message_id]
    assert statuses == ["sending", "sent"]  # what open pages were told, as it happened


def test_messages_to_one_customer_arrive_in_the_order_they_were_written(meta_app, ticket, sandbox):
    ids = [queue(meta_app, ticket, text) for text in ("Bom dia!", "Escolha uma opção:", "1 - Vendas")]
    for message_id in ids:
        settled(meta_app, message_id)
    assert [m["text"] for m in business_messages(sandbox)] == ["Bom dia!", "Escolha uma opção:", "1 - Vendas"]


def test_an_agents_name_goes_on_top_when_the_company_signs_messages(meta_app, ticket, sandbox, make_user):
    agent = make_user("agent", name="Bia Souza")
    with meta_app.app_context():
        company_settings().agent_name_in_messages = True
        db.session.commit()
    message = settled(meta_app, queue(meta_app, ticket, "Já verifico.", author=Author.AGENT, author_id=agent["id"]))
    assert message.status == MessageStatus.SENT and message.text == "Já verifico."
    assert [m["text"] for m in business_messages(sandbox)] == ["*Bia Souza:*\nJá verifico."]


def test_quick_replies_go_within_instagrams_limits(meta_app, ticket, sandbox):
    offered = [{"content_type": "text", "title": f"Opção número {n} com nome longo", "payload": f"OPT_{n}"}
               for n in range(1, 16)]
    message = settled(meta_app, queue(meta_app, ticket, "Escolha:", details={"quick_replies": offered}))
    assert message.status == MessageStatus.SENT
    shown = business_messages(sandbox)[0]["quick_replies"]
    assert len(shown) == 13 and all(len(reply["title"]) <= 20 for reply in shown)
    assert shown[0] == {"content_type": "text", "title": "Opção número 1 com n", "payload": "OPT_1"}


# ---- refused before Meta is asked ---------------------------------------------------------------------


def test_a_tunnel_closed_while_waiting_stops_the_message_before_meta(meta_app, ticket, sandbox):
    message_id = queue(meta_app, ticket)
    set_tunnel(meta_app, ticket, -dt.timedelta(seconds=1))
    canary = sandbox.fault("send", code=613, count=1)
    message = settled(meta_app, message_id)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "tunnel_closed")
    assert words(meta_app, message) == "Messages can only be sent while the tunnel is open"
    assert business_messages(sandbox) == [] and untouched(sandbox, canary)


def test_a_text_over_instagrams_limit_fails_without_calling_meta(meta_app, ticket, sandbox):
    canary = sandbox.fault("send", code=613, count=1)
    message = settled(meta_app, queue(meta_app, ticket, "é" * 501))  # 501 characters, 1002 bytes
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "text_too_long")
    assert "1000 bytes" in words(meta_app, message)
    assert business_messages(sandbox) == [] and untouched(sandbox, canary)


def test_a_connection_without_a_page_token_cannot_send(meta_app, ticket, sandbox):
    with meta_app.app_context():
        db.session.get(Connection, ticket.connection_id).page_token_ciphertext = None
        db.session.commit()
    message = settled(meta_app, queue(meta_app, ticket))
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "not_linked")
    assert "not linked" in words(meta_app, message)
    assert business_messages(sandbox) == []


# ---- Meta refuses -------------------------------------------------------------------------------------


def test_a_dead_token_fails_the_message_and_asks_for_reauthorization(meta_app, ticket, sandbox):
    sandbox.fault("send", error="190/460")
    message = settled(meta_app, queue(meta_app, ticket))
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "190")
    assert "reauthorized" in words(meta_app, message)
    with meta_app.app_context():
        assert db.session.get(Connection, ticket.connection_id).status == ConnectionStatus.NEEDS_REAUTH
    assert business_messages(sandbox) == []


def test_a_customer_who_blocked_the_account_is_explained_in_plain_words(meta_app, ticket, sandbox):
    sandbox.post(f"threads/{ANA}/block")
    message = settled(meta_app, queue(meta_app, ticket))
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "551")
    assert message.error == "(#551) This person isn't available right now."  # Meta's words, kept
    assert "not available on Instagram" in words(meta_app, message) and "blocked" in words(meta_app, message)


def test_instagrams_own_closed_window_is_explained_even_when_our_tunnel_looked_open(meta_app, open_ticket, sandbox):
    ticket = open_ticket(wrote_hours_ago=25)
    message = settled(meta_app, queue(meta_app, ticket))
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "10/2534022")
    assert "more than 24 hours" in words(meta_app, message)
    assert business_messages(sandbox) == []


def test_any_other_refusal_shows_instagrams_reason(meta_app, ticket, sandbox):
    message = settled(meta_app, queue(meta_app, ticket, None, attachments=[{"type": "image", "url": "http://127.0.0.1:9/x.png"}]))
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "100/2018047")
    assert words(meta_app, message) == "Instagram refused the message: (#100) Upload attachment failure."


# ---- retried --------------------------------------------------------------------------------------------


def test_a_rate_limit_is_retried_with_backoff_and_sent_once(meta_app, ticket, sandbox):
    sandbox.fault("send", code=613, count=2)
    message_id = queue(meta_app, ticket)
    waits = []
    for attempts in (1, 2):
        message = drain_until(meta_app, message_id, lambda m, n=attempts: m.attempts >= n and m.status == MessageStatus.QUEUED)
        assert (message.status, message.error_code, message.attempts) == (MessageStatus.QUEUED, "613", attempts)
        waits.append(message.next_attempt_at - utcnow())
        assert business_messages(sandbox) == []
        assert sender.drain(meta_app) == 0  # not before its time
        due_now(meta_app, message_id)
    assert dt.timedelta(seconds=3) < waits[0] < waits[1]  # the wait grows
    message = settled(meta_app, message_id)
    assert (message.status, message.attempts, message.error_code) == (MessageStatus.SENT, 3, None)
    assert len(business_messages(sandbox)) == 1


def test_after_the_last_attempt_the_rate_limit_is_the_reason(meta_app, ticket, sandbox):
    sandbox.fault("send", code=613)
    message_id = queue(meta_app, ticket)
    for attempt in range(1, sender.MAX_ATTEMPTS + 1):
        message = drain_until(meta_app, message_id, lambda m, n=attempt: m.attempts >= n and m.status in (
            MessageStatus.QUEUED, MessageStatus.FAILED))
        if message.status == MessageStatus.QUEUED:
            due_now(meta_app, message_id)
    assert (message.status, message.error_code, message.attempts) == (MessageStatus.FAILED, "613", sender.MAX_ATTEMPTS)
    assert "limiting" in words(meta_app, message)
    assert business_messages(sandbox) == []


def test_when_meta_cannot_be_reached_the_message_waits_and_tries_again(meta_app, ticket, sandbox, monkeypatch):
    # Nothing listens on loopback's port 9: the connection is refused, so Meta surely got nothing.
    monkeypatch.setitem(meta_app.config, "META_GRAPH_URL", "http://127.0.0.1:9/graph/")
    message_id = queue(meta_app, ticket)
    message = drain_until(meta_app, message_id, lambda m: m.attempts >= 1 and m.status == MessageStatus.QUEUED)
    assert (message.status, message.error_code, message.attempts) == (MessageStatus.QUEUED, "unreachable", 1)
    assert message.next_attempt_at > utcnow()
    monkeypatch.undo()
    due_now(meta_app, message_id)
    assert settled(meta_app, message_id).status == MessageStatus.SENT
    assert len(business_messages(sandbox)) == 1


# ---- no answer: the echo decides ------------------------------------------------------------------------


def test_a_send_dropped_before_meta_answered_is_sent_once_after_the_grace(meta_app, ticket, sandbox):
    sandbox.fault("send", drop=True, count=1)  # the connection breaks: delivered or not, the sender cannot know
    message_id = queue(meta_app, ticket)
    message = drain_until(meta_app, message_id, unanswered)
    assert unanswered(message) and message.next_attempt_at > utcnow() + dt.timedelta(seconds=30)
    assert sender.drain(meta_app) == 0  # within the grace nothing is resent
    due_now(meta_app, message_id)  # the grace is over and no echo came: it never reached Instagram
    message = settled(meta_app, message_id)
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert [m["mid"] for m in business_messages(sandbox)] == [message.mid]


def unanswered(message: Message) -> bool:
    """The send is over without an answer from Meta: waiting for its echo."""
    return message.status == MessageStatus.SENDING and message.error_code == "unreachable"


def unanswered_send(meta_app, ticket, sandbox, monkeypatch) -> int:
    """Meta takes 2 s to accept the message; we stop listening after 0.5 s."""
    monkeypatch.setitem(meta_app.config, "META_READ_TIMEOUT", 0.5)
    sandbox.fault("send", latency_ms=2000, count=1)
    message_id = queue(meta_app, ticket)
    drain_until(meta_app, message_id, unanswered)
    eventually(lambda: business_messages(sandbox), WAIT, "the sandbox to send the delayed message")
    return message_id


def test_a_send_left_unanswered_stays_sending_and_is_not_resent_within_the_grace(meta_app, ticket, sandbox, monkeypatch):
    message_id = unanswered_send(meta_app, ticket, sandbox, monkeypatch)
    message = stored(meta_app, message_id)
    assert (message.status, message.mid, message.attempts) == (MessageStatus.SENDING, None, 1)
    assert message.next_attempt_at - utcnow() > sender.UNCONFIRMED_GRACE - dt.timedelta(seconds=10)
    assert sender.drain(meta_app) == 0
    assert len(business_messages(sandbox)) == 1


def test_after_the_grace_its_echo_confirms_an_unanswered_send(meta_app, ticket, sandbox, monkeypatch):
    message_id = unanswered_send(meta_app, ticket, sandbox, monkeypatch)
    delivered = business_messages(sandbox)[0]["mid"]
    sandbox.post("deliveries/await", timeout=WAIT)  # Meta's echo went to Direto's webhook
    eventually(lambda: known(meta_app, delivered), WAIT, "Direto to store the echo")
    due_now(meta_app, message_id)
    message = settled(meta_app, message_id)
    assert len(business_messages(sandbox)) == 1
    assert (message.status, message.mid) == (MessageStatus.SENT, delivered)


# ---- concurrency and the retry button -------------------------------------------------------------------


def test_drains_racing_each_other_send_each_message_once_and_in_order(meta_app, ticket, sandbox):
    ids = [queue(meta_app, ticket, f"Mensagem {n}") for n in range(1, 4)]
    run_concurrently(meta_app, lambda: sender.sweep(meta_app), threads=4)
    for message_id in ids:
        assert settled(meta_app, message_id).status == MessageStatus.SENT
    assert [m["text"] for m in business_messages(sandbox)] == ["Mensagem 1", "Mensagem 2", "Mensagem 3"]


def test_retry_queues_a_failed_message_again_only_while_the_tunnel_is_open(meta_app, ticket, sandbox):
    message_id = queue(meta_app, ticket)
    set_tunnel(meta_app, ticket, -dt.timedelta(seconds=1))
    assert settled(meta_app, message_id).error_code == "tunnel_closed"
    with meta_app.app_context():
        assert sender.retry(db.session.get(Message, message_id), utcnow()) is False
        db.session.commit()
    assert stored(meta_app, message_id).status == MessageStatus.FAILED

    set_tunnel(meta_app, ticket, dt.timedelta(hours=2))  # Ana wrote again
    with meta_app.app_context():
        assert sender.retry(db.session.get(Message, message_id), utcnow()) is True
        db.session.commit()
    queued = stored(meta_app, message_id)
    assert (queued.status, queued.error_code, queued.attempts) == (MessageStatus.QUEUED, None, 0)
    sent = settled(meta_app, message_id)
    assert sent.status == MessageStatus.SENT and len(business_messages(sandbox)) == 1

    with meta_app.app_context():  # what was sent is never sent again
        assert sender.retry(db.session.get(Message, message_id), utcnow()) is False
        db.session.commit()
    assert sender.drain(meta_app) == 0 and len(business_messages(sandbox)) == 1


# ---- words ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code, meta_text, expected", [
    ("tunnel_closed", None, "Messages can only be sent while the tunnel is open"),
    ("551", "(#551) This person isn't available right now.", "turned off messages"),
    ("10/2534022", None, "Wait for them to write again"),
    ("190", None, "reauthorized"),
    ("613", None, "Try again in a few minutes"),
    ("2", None, "temporary problem"),
    ("unreachable", None, "could not be reached"),
    ("200", None, "permission"),
    ("unsendable", None, "one text or one attachment"),
    ("100/2534014", "(#100) No matching user found", "Instagram refused the message: (#100) No matching user found"),
])
def test_every_failure_has_plain_words(meta_app, code, meta_text, expected):
    with meta_app.app_context(), force_locale("en"):
        assert expected in reasons.plain_words(code, meta_text)
