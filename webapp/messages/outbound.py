"""The send path's first half, shared by the bot and agents: store the message, then let the sender send it.

A message is stored before anything goes to Meta, so a crash never loses one, and the tunnel is checked here
(and again by the sender, at the moment of sending): a message the tunnel forbids is kept as failed with the
product's notice and Meta is never called for it.
"""
from __future__ import annotations

import datetime as dt

from webapp.core import workers
from webapp.events import bus
from webapp.extensions import db
from webapp.messages.models import Author, Direction, Message, MessageStatus
from webapp.tickets import tunnel
from webapp.tickets.models import Ticket

SENDER = "sender"  # the background worker that sends queued messages (webapp.messages.sender)
TUNNEL_CLOSED = "tunnel_closed"  # an error_code; the words people see come from webapp.messages.reasons


class TunnelClosed(Exception):
    """The ticket's tunnel is closed: nothing may be sent until the customer writes again."""


def queue(ticket: Ticket, *, author: Author, now: dt.datetime, text: str | None = None,
          attachments: list[dict] | None = None, details: dict | None = None, author_id: int | None = None,
          kind: str | None = None) -> Message:
    """Add an outbound message to the current transaction. It is queued for the sender when the tunnel is open,
    and stored as failed with the tunnel notice when it is not (visible, and retryable once it reopens)."""
    message = Message(
        connection_id=ticket.connection_id, contact_id=ticket.contact_id, ticket_id=ticket.id,
        direction=Direction.OUTBOUND, author=author, author_id=author_id,
        kind=kind or ("text" if text is not None else (attachments or [{}])[0].get("type", "file")),
        text=text, attachments=attachments, details=details, sent_at=now, created_at=now,
        status=MessageStatus.QUEUED, next_attempt_at=now,
    )
    if not tunnel.is_open(ticket.tunnel_closes_at, now):
        refuse(message)
    else:
        workers.wake_after_commit(SENDER)
    db.session.add(message)
    db.session.flush()  # the id, for the open pages
    ticket.last_message_at = max(ticket.last_message_at or now, now)
    bus.publish("message.new", ticket=ticket, message_id=message.id, direction="out")
    return message


def refuse(message: Message) -> None:
    message.status, message.next_attempt_at = MessageStatus.FAILED, None
    message.error_code, message.error = TUNNEL_CLOSED, None
