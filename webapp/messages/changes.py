"""Changes to a message that exists: unsend, edit, reaction, seen, and an echo confirming our send.

Each is safe to apply twice and in any order: an edit applies only if it is newer (num_edit), a reaction only
if it is later than the one shown, a read only moves messages forward to "seen".
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from webapp.events import bus
from webapp.extensions import db
from webapp.messages import media
from webapp.messages.models import Direction, Message, MessageStatus
from webapp.tickets.models import Ticket
from webapp.webhooks import parse


def confirm_sent(message: Message) -> None:
    """Our send's echo came back: Meta has it, whatever the state of the answer to our call."""
    if message.status in (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.FAILED):
        message.status, message.error_code, message.error = MessageStatus.SENT, None, None
        message.next_attempt_at = None
        _changed(message, "status")


def apply(message: Message, event: parse.Event, when: dt.datetime) -> None:
    if event.kind == parse.UNSEND:
        unsend(message, when)
    elif event.kind == parse.EDIT:
        if event.num_edit > message.num_edit and not message.is_deleted:
            earlier = list((message.details or {}).get("earlier_texts", []))[-9:] + [message.text]
            message.details = {**(message.details or {}), "earlier_texts": earlier}
            message.text, message.num_edit, message.edited_at = event.text, event.num_edit, when
            _changed(message, "edited")
    elif event.kind in (parse.REACT, parse.UNREACT):
        if message.reacted_at is None or when >= message.reacted_at:
            message.reaction = (event.emoji or event.reaction or "\u2764\ufe0f") if event.kind == parse.REACT else None
            message.reacted_at = when
            _changed(message, "reaction")
    elif event.kind == parse.SEEN:
        seen(message, when)
    elif event.kind == parse.ECHO:
        confirm_sent(message)


def unsend(message: Message, when: dt.datetime) -> None:
    """The customer unsent it: the content goes (files too), a placeholder stays in the conversation."""
    if message.is_deleted:
        return
    message.deleted_at, message.text, message.attachments = when, None, None
    message.details = {k: v for k, v in (message.details or {}).items() if k in ("standby",)} or None
    media.forget(message)
    _changed(message, "deleted")


def seen(message: Message, when: dt.datetime) -> None:
    """`read.mid` is the last message the customer read: everything we sent up to it is seen."""
    if message.direction == Direction.INBOUND:
        return
    result = db.session.execute(
        update(Message)
        .where(Message.contact_id == message.contact_id, Message.direction == Direction.OUTBOUND,
               Message.status == MessageStatus.SENT, Message.sent_at <= message.sent_at)
        .values(status=MessageStatus.SEEN, seen_at=when)
        .execution_options(synchronize_session=False))
    if message.status == MessageStatus.SENT:
        message.status, message.seen_at = MessageStatus.SEEN, when
    if result.rowcount:
        bus.publish("message.seen", ticket=db.session.get(Ticket, message.ticket_id), up_to=message.id)


def _changed(message: Message, what: str) -> None:
    bus.publish("message.changed", ticket=db.session.get(Ticket, message.ticket_id), message_id=message.id,
                change=what)
