"""What an open Chat page receives for each live event: SSE frames, most of them htmx fragments.

The stream (webapp.events.stream) decides who may hear an event and calls `frames(event, language)` once per
event and language; the fragments are the partials the pages render, so a live update and a reload agree. They
must not depend on who reads them (the stream shares them): what differs per person (the actions in a ticket's
head, the composer) is fetched by the page when a "tickets" frame names its open ticket.

Frames:
- "update": fragments whose id says where they go (static/js/chat.js): an element with the same id is replaced;
  otherwise it is appended to the element named by its data-into, when the page shows it; data-remove removes.
- "tickets": a ticket changed (new, accepted, transferred, closed, its tunnel); data: its id. Lists and counts
  refresh; the page showing that ticket refreshes its head (and composer when its state changed).
- "lists": only the lists and counts refresh (a new message: the head stays, its tunnel comes as an "update").
- "update" also shows or removes an admin's reauthorization banner when a connection's status changes.
- "dm": a customer wrote (JSON: ticket, name, text), for the tab title and the browser notification.
"""
from __future__ import annotations

import json

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.connections.models import Connection, ConnectionStatus
from webapp.database import utcnow
from webapp.events.models import LiveEvent
from webapp.extensions import db
from webapp.inbox import conversation
from webapp.messages.models import Direction, Message, MessageStatus, TicketEvent
from webapp.tickets import tunnel
from webapp.tickets.models import Ticket

TICKET_CHANGES = ("ticket.new", "ticket.queued", "ticket.accepted", "ticket.transferred", "ticket.left", "ticket.closed",
                  "tunnel.closing_soon", "tunnel.closed", "tunnel.reopened")
SEEN_RERENDER = 30  # a "seen" re-renders at most this many recent outbound messages


def frames(event: LiveEvent, language: str) -> list[tuple[str, str]]:
    with force_locale(language):
        return list(_frames(event))


def _item(ticket: Ticket, item) -> str:
    return render_template("inbox/_item.html", ticket=ticket, thread=conversation.one(item, ticket), item=item)


def _tunnel(ticket: Ticket) -> str:
    """The head's tunnel indicator: a customer's message moves its closing time."""
    now = utcnow()
    return render_template("inbox/_tunnel.html", ticket=ticket, state=tunnel.state(ticket.tunnel_closes_at, now),
                           left=tunnel.remaining(ticket.tunnel_closes_at, now), compact=False)


def _connection_banner(connection_id: int) -> str:
    """The reauthorization banner (admins' pages have a place for it), or its removal once linked again."""
    connection = db.session.get(Connection, connection_id)
    if connection is not None and connection.status == ConnectionStatus.NEEDS_REAUTH:
        return render_template("connections/_banner.html", connection=connection)
    return f'<template id="connection-banner-{int(connection_id)}" data-remove></template>'


def _frames(event: LiveEvent):
    payload = event.payload or {}
    if event.kind == "connection.status":
        yield "update", _connection_banner(event.connection_id)
        return
    ticket = db.session.get(Ticket, event.ticket_id) if event.ticket_id else None
    if ticket is None:
        return
    if event.kind in TICKET_CHANGES:
        line = db.session.get(TicketEvent, payload["event_id"]) if payload.get("event_id") else None
        if line is not None:
            yield "update", _item(ticket, line)  # "Ana took the ticket", in the thread of whoever has it open
        yield "tickets", str(ticket.id)
    elif event.kind == "message.new":
        message = db.session.get(Message, payload.get("message_id"))
        if message is None:
            return
        yield "update", _item(ticket, message) + _tunnel(ticket)
        yield "lists", str(ticket.id)
        if message.direction == Direction.INBOUND:
            contact = ticket.contact
            yield "dm", json.dumps({"ticket": ticket.id, "name": contact.name or contact.username or "",
                                    "text": (message.text or "")[:140], "assigned_to": ticket.assigned_to_id})
    elif event.kind in ("message.status", "message.changed"):
        message = db.session.get(Message, payload.get("message_id"))
        if message is not None:
            yield "update", _item(ticket, message)
    elif event.kind == "message.seen":
        seen = list(db.session.scalars(
            select(Message).options(selectinload(Message.media))
            .where(Message.ticket_id == ticket.id, Message.status == MessageStatus.SEEN,
                   Message.id <= int(payload.get("up_to") or 0))
            .order_by(Message.id.desc()).limit(SEEN_RERENDER)))
        thread = conversation.of(seen, ticket)  # one lookup of their authors for all of them
        yield "update", "".join(render_template("inbox/_item.html", ticket=ticket, thread=thread, item=message)
                                for message in seen)
    elif event.kind == "message.merged":
        yield "update", f'<template id="message-{int(payload.get("message_id") or 0)}" data-remove></template>'
    elif event.kind == "ticket.comment":
        comment = db.session.get(TicketEvent, payload.get("event_id"))
        if comment is not None:
            yield "update", _item(ticket, comment)
