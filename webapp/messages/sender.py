"""The send path's second half: hand queued messages to Meta, each exactly once, and record what became of them.

Claiming: one atomic UPDATE moves a message from queued to sending, and only the process whose rowcount is 1
sends it, so two processes never send the same message. Messages to one contact leave in order: a message waits
while an earlier one to the same contact is still queued or sending.

Meta's answers decide the rest. An error Meta gives is final (refused: failed, in plain words) or asks us to try
again later (rate limits, temporary failures: queued again with backoff). A request that surely never reached
Meta (refused connection, connect timeout) is retried the same way. But a request that got no answer (read
timeout, connection dropped after sending) may have been delivered: the message stays `sending` for
UNCONFIRMED_GRACE, and then its echo decides. An echo means Meta delivered it (sent, with the echo's mid); no echo
in that time means it never reached Instagram, and it is queued again. Guessing instead would risk sending the
customer the same message twice.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from functools import partial

from flask import Flask
from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from webapp.connections import linking
from webapp.connections.models import Connection
from webapp.core import workers
from webapp.database import utcnow
from webapp.events import bus
from webapp.extensions import db
from webapp.messages import early, outbound, reasons
from webapp.messages.models import Author, Message, MessageStatus
from webapp.meta import errors
from webapp.meta.client import CONNECT_TIMEOUT, MAX_QUICK_REPLIES, QUICK_REPLY_TITLE, GraphClient
from webapp.team.models import User
from webapp.tickets import tunnel
from webapp.tickets.models import Contact, Ticket
from webapp.workspace.store import company_settings

log = logging.getLogger(__name__)

BATCH = 20  # messages per drain; the worker calls again while there is more
SWEEP_ROUNDS = 50
MAX_ATTEMPTS = 6  # the first try and five automatic retries
BACKOFF = tuple(dt.timedelta(seconds=s) for s in (5, 30, 120, 600, 1800))
# Meta echoes an accepted message within seconds: a send unanswered for this long, with no echo, never arrived.
UNCONFIRMED_GRACE = dt.timedelta(seconds=60)
IN_FLIGHT = (MessageStatus.QUEUED, MessageStatus.SENDING)
DONE = (MessageStatus.SENT, MessageStatus.SEEN)


class NotSendable(Exception):
    """The message cannot go to Meta as it is; `code` is the reasons code it fails with."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# ---- the worker's entry points ----------------------------------------------------------------------


def drain(app: Flask) -> int:
    """Send what is due, a bounded batch, after settling sends left unanswered. Returns how many messages it
    handled (0: nothing is due)."""
    with app.app_context():
        client = GraphClient.from_config(app.config)
        handled = resolve_unconfirmed()
        tried: set[int] = set()
        while handled < BATCH:
            message_id = _next_due(utcnow(), tried)
            if message_id is None:
                break
            tried.add(message_id)
            workers.pause_point()
            if _claim(message_id, utcnow(), lease(app.config)):
                _send(app.config, client, message_id)
                handled += 1
        return handled


def sweep(app: Flask) -> int:
    """The scheduler's safety net: drain until nothing is due (bounded), whatever woke or did not wake the worker."""
    total = 0
    for _ in range(SWEEP_ROUNDS):
        handled = drain(app)
        if not handled:
            break
        total += handled
    return total


def retry(message: Message, now: dt.datetime) -> bool:
    """The retry button: a failed message is queued again (with a fresh set of automatic retries) while the
    tunnel is open, and stays failed with the tunnel notice otherwise. Messages sent, seen or on their way are
    never sent again. The caller commits."""
    if message.status != MessageStatus.FAILED:
        return False
    ticket = db.session.get(Ticket, message.ticket_id)
    if not tunnel.is_open(ticket.tunnel_closes_at, now):
        outbound.refuse(message)
        _publish(message, ticket)
        return False
    message.status, message.next_attempt_at, message.attempts = MessageStatus.QUEUED, now, 0
    message.error_code = message.error = None
    workers.wake_after_commit(outbound.SENDER)
    _publish(message, ticket)
    return True


def lease(config) -> dt.timedelta:
    """How long a claimed message belongs to its sender: past the longest a Meta call can take, so a send still
    waiting for its answer is never taken for one whose process died."""
    return max(UNCONFIRMED_GRACE, dt.timedelta(seconds=2 * (CONNECT_TIMEOUT + float(config["META_READ_TIMEOUT"]))))


# ---- claiming -----------------------------------------------------------------------------------------


def _claimable(now: dt.datetime) -> list:
    earlier = aliased(Message)
    waits_for_earlier = exists().where(earlier.contact_id == Message.contact_id, earlier.id < Message.id,
                                       earlier.status.in_(IN_FLIGHT))
    return [Message.status == MessageStatus.QUEUED,
            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
            ~waits_for_earlier]


def _next_due(now: dt.datetime, tried: set[int]) -> int | None:
    query = select(Message.id).where(*_claimable(now)).order_by(Message.next_attempt_at, Message.id).limit(1)
    if tried:
        query = query.where(Message.id.not_in(tried))
    return db.session.scalar(query)


def _claim(message_id: int, now: dt.datetime, held_for: dt.timedelta) -> bool:
    """Take the message for this process; rowcount 1 means no one else has it."""
    claimed = db.session.execute(
        update(Message).where(Message.id == message_id, *_claimable(now))
        .values(status=MessageStatus.SENDING, attempts=Message.attempts + 1, next_attempt_at=now + held_for)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if claimed:
        message = db.session.get(Message, message_id, populate_existing=True)
        _publish(message, db.session.get(Ticket, message.ticket_id))
    db.session.commit()
    return claimed


# ---- sending one message ------------------------------------------------------------------------------


def _send(config, client: GraphClient, message_id: int) -> None:
    message = db.session.get(Message, message_id)
    ticket = db.session.get(Ticket, message.ticket_id)
    attempt, now = message.attempts, utcnow()
    # The tunnel may have closed while the message waited: Meta is never asked to send what the tunnel forbids.
    if not tunnel.is_open(ticket.tunnel_closes_at, now):
        outbound.refuse(message)
        return _conclude(message, ticket, now)
    connection = db.session.get(Connection, message.connection_id)
    token = linking.page_token(connection, config) if connection.is_linked and connection.page_id else None
    if token is None:
        return _fail(message, ticket, reasons.NOT_LINKED, None, now)
    try:
        body = meta_message(message, config["META_TEXT_LIMIT_BYTES"])
    except NotSendable as refusal:
        return _fail(message, ticket, refusal.code, None, now)
    page_id, igsid = connection.page_id, db.session.get(Contact, message.contact_id).igsid
    db.session.commit()  # no transaction stays open while Meta thinks
    try:
        mid = client.send_message(page_id, token, igsid, body)
    except errors.MetaError as error:
        _record_error(message_id, attempt, error)
        return None
    log.info("message %s sent (attempt %s)", message_id, attempt)
    _twice(partial(_record_sent, message_id, mid))


def _record_sent(message_id: int, mid: str) -> None:
    message = db.session.get(Message, message_id)
    _delivered(message, mid, utcnow())
    db.session.commit()


def _record_error(message_id: int, attempt: int, error: errors.MetaError) -> None:
    message = db.session.get(Message, message_id)
    if message.status != MessageStatus.SENDING or message.attempts != attempt:
        return  # another process resolved it after the lease: its outcome is the newer one
    ticket, now = db.session.get(Ticket, message.ticket_id), utcnow()
    code = reasons.code_of(error)
    if isinstance(error, errors.Unconfirmed):
        # Maybe delivered: wait for the echo (resolve_unconfirmed) rather than risk sending it twice.
        message.next_attempt_at = now + UNCONFIRMED_GRACE
        message.error_code, message.error = code, error.message
        log.info("message %s: no answer from Meta, waiting for its echo", message_id)
        db.session.commit()
    elif error.retryable:
        _later(message, ticket, code, error.message, now)
    elif isinstance(error, errors.TokenInvalid):
        _fail(message, ticket, code, error.message, now, commit=False)
        linking.mark_needs_reauth(db.session.get(Connection, message.connection_id), str(error))  # commits both
    else:
        _fail(message, ticket, code, error.message, now)


def _later(message: Message, ticket: Ticket, code: str, meta_text: str | None, now: dt.datetime) -> None:
    """Queue again after a backoff that grows with each attempt (jittered, so messages held back by one rate
    limit do not all come back at the same second); fail with the last reason once attempts run out."""
    if message.attempts >= MAX_ATTEMPTS:
        return _fail(message, ticket, code, meta_text, now)
    delay = BACKOFF[min(message.attempts, len(BACKOFF)) - 1] * (1 + random.random() / 5)
    message.status, message.next_attempt_at = MessageStatus.QUEUED, now + delay
    message.error_code, message.error = code, meta_text
    log.info("message %s: retry %s in %.0f s (%s)", message.id, message.attempts, delay.total_seconds(), code)
    _publish(message, ticket)
    db.session.commit()
    return None


def _fail(message: Message, ticket: Ticket, code: str, meta_text: str | None, now: dt.datetime,
          commit: bool = True) -> None:
    message.status, message.next_attempt_at = MessageStatus.FAILED, None
    message.error_code, message.error = code, meta_text
    log.warning("message %s failed: %s", message.id, code)
    _conclude(message, ticket, now, commit=commit)


def _delivered(message: Message, mid: str, now: dt.datetime) -> None:
    """Meta has the message under `mid`: sent (unless its echo or a read already took it further)."""
    _take_mid(message, mid)
    if message.status not in DONE:
        message.status = MessageStatus.SENT
    message.next_attempt_at = None
    message.error_code = message.error = None
    early.on_mid_known(message, now)
    _conclude(message, db.session.get(Ticket, message.ticket_id), now, commit=False)


def _take_mid(message: Message, mid: str) -> None:
    """Record the mid. If its echo already became a message of its own (it came before the answer and was taken
    for one written in the Instagram app), that copy goes: ours is the one the agent wrote."""
    twin = db.session.scalar(select(Message).where(
        Message.connection_id == message.connection_id, Message.mid == mid, Message.id != message.id))
    if twin is not None:
        if twin.status == MessageStatus.SEEN:
            message.status, message.seen_at = MessageStatus.SEEN, twin.seen_at
        if message.reaction is None and twin.reaction is not None:
            message.reaction, message.reacted_at = twin.reaction, twin.reacted_at
        bus.publish("message.merged", ticket=db.session.get(Ticket, twin.ticket_id), message_id=twin.id,
                    into=message.id)
        db.session.delete(twin)
        db.session.flush()  # the unique (connection, mid) must be free before ours takes it
    message.mid = mid


def _twice(step: Callable[[], object]):
    """Run a step that records a mid. An echo stored at the same instant can take that mid first (it is unique
    per connection); after the rollback the second run finds that copy and merges it."""
    try:
        return step()
    except IntegrityError:
        db.session.rollback()
        return step()


def _conclude(message: Message, ticket: Ticket, now: dt.datetime, commit: bool = True) -> None:
    """Tell the open pages; once nothing is on its way to this contact, echoes that matched no send of ours were
    written in the Instagram app."""
    _publish(message, ticket)
    if message.status not in IN_FLIGHT:
        early.settle_echoes(message.connection_id, message.contact_id, now)
    if commit:
        db.session.commit()


def _publish(message: Message, ticket: Ticket) -> None:
    bus.publish("message.status", ticket=ticket, message_id=message.id, status=message.status.value)


# ---- sends that got no answer -------------------------------------------------------------------------


def resolve_unconfirmed() -> int:
    """Messages left `sending` past their time (no answer from Meta, or the process died): delivered if Meta
    echoed them, queued again if it did not. Returns how many were resolved."""
    now = utcnow()
    stuck = db.session.scalars(
        select(Message.id).where(Message.status == MessageStatus.SENDING, Message.next_attempt_at <= now)
        .order_by(Message.next_attempt_at).limit(BATCH)
    ).all()
    db.session.commit()
    return sum(1 for message_id in stuck if _twice(partial(_resolve, message_id, now)))


def _resolve(message_id: int, now: dt.datetime) -> bool:
    message = db.session.get(Message, message_id, populate_existing=True)
    if message is None or message.status != MessageStatus.SENDING or message.next_attempt_at > now:
        return False
    # Compare-and-set on what we read: of two processes resolving the same message, only one goes on.
    won = db.session.execute(
        update(Message).where(Message.id == message_id, Message.status == MessageStatus.SENDING,
                              Message.next_attempt_at == message.next_attempt_at)
        .values(next_attempt_at=now).execution_options(synchronize_session=False)
    ).rowcount == 1
    if not won:
        db.session.rollback()
        return False
    db.session.refresh(message)
    mid = early.adopt_echo_by_text(message)
    if mid:
        log.info("message %s: its echo confirms it was delivered", message_id)
        _delivered(message, mid, now)
    else:
        if message.attempts >= MAX_ATTEMPTS:
            message.status, message.next_attempt_at = MessageStatus.FAILED, None
            message.error_code = message.error_code or reasons.UNREACHABLE
        else:
            message.status = MessageStatus.QUEUED  # due at once: next_attempt_at is now
        log.info("message %s: no echo came, %s", message_id, message.status.value)
        _conclude(message, db.session.get(Ticket, message.ticket_id), now, commit=False)
    db.session.commit()
    return True


# ---- what Meta receives -------------------------------------------------------------------------------


def meta_message(message: Message, text_limit: int) -> dict:
    """The Send API's `message` object: one text (with quick replies) or one attachment (meta-platform.md §4.1)."""
    attachments = message.attachments or []
    if bool(message.text) + len(attachments) != 1:
        raise NotSendable(reasons.UNSENDABLE)
    if attachments:
        return {"attachment": _attachment(attachments[0])}
    text = text_for_instagram(message)
    if len(text.encode("utf-8")) > text_limit:
        raise NotSendable(reasons.TEXT_TOO_LONG)
    body: dict = {"text": text}
    replies = _quick_replies((message.details or {}).get("quick_replies"))
    if replies:
        body["quick_replies"] = replies
    return body


def text_for_instagram(message: Message) -> str | None:
    """The text as the customer gets it (and as its echo comes back): with "*Agent name:*" on top when the company
    signs agents' messages."""
    if not message.text or message.author != Author.AGENT or message.author_id is None:
        return message.text
    if not company_settings().agent_name_in_messages:
        return message.text
    agent = db.session.get(User, message.author_id)
    return f"*{agent.name}:*\n{message.text}" if agent is not None else message.text


def _quick_replies(offered) -> list[dict]:
    """Instagram shows at most 13 quick replies, titles of at most 20 characters, text only."""
    replies = []
    for item in offered or ():
        if isinstance(item, str):
            title, payload = item, item
        elif isinstance(item, dict):
            title = str(item.get("title") or "")
            payload = str(item.get("payload") or title)
        else:
            continue
        if title:
            replies.append({"content_type": "text", "title": title[:QUICK_REPLY_TITLE], "payload": payload})
    return replies[:MAX_QUICK_REPLIES]


def _attachment(item: dict) -> dict:
    kind = str(item.get("type") or "file")
    if kind == "like_heart":
        return {"type": kind}
    if item.get("attachment_id"):
        return {"type": kind, "payload": {"attachment_id": str(item["attachment_id"])}}
    if item.get("url"):
        return {"type": kind, "payload": {"url": item["url"]}}
    if kind.upper() == "MEDIA_SHARE" and item.get("id"):
        return {"type": "MEDIA_SHARE", "payload": {"id": str(item["id"])}}
    raise NotSendable(reasons.UNSENDABLE)
