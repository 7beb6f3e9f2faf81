"""The conversation pane as data: a ticket's messages and timeline events in one thread, with the people and files
they mention loaded at once (a page with a long conversation makes a fixed number of queries)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.connections.models import Connection
from webapp.extensions import db
from webapp.messages.models import Message, TicketEvent
from webapp.team.models import Department, User
from webapp.tickets.models import Ticket

LIMIT = 300  # the most recent items; History's transcript shows them all

# Timeline events the thread shows as a line between messages. The bot's own messages are messages; the tunnel's
# "closing soon" is shown by the indicator, not the thread.
SHOWN_EVENTS = ("opened", "bot_routed", "accepted", "transferred", "closed", "comment", "tunnel_closed")


@dataclass
class Thread:
    ticket: Ticket
    items: list = field(default_factory=list)  # Message and TicketEvent, oldest first
    users: dict[int, User] = field(default_factory=dict)
    departments: dict[int, Department] = field(default_factory=dict)
    replied: dict[str, Message] = field(default_factory=dict)  # mid -> the message a reply quotes
    connection: Connection | None = None
    truncated: bool = False

    def user(self, user_id):
        return self.users.get(user_id)

    def department(self, department_id):
        return self.departments.get(department_id)


def moment(item) -> dt.datetime:
    return item.sent_at if isinstance(item, Message) else item.created_at


def thread(ticket: Ticket, limit: int | None = LIMIT) -> Thread:
    messages = select(Message).where(Message.ticket_id == ticket.id).options(selectinload(Message.media)) \
        .order_by(Message.sent_at.desc(), Message.id.desc())
    events = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(SHOWN_EVENTS)) \
        .order_by(TicketEvent.created_at.desc(), TicketEvent.id.desc())
    if limit:
        messages, events = messages.limit(limit + 1), events.limit(limit + 1)
    found = list(db.session.scalars(messages)) + list(db.session.scalars(events))
    # "Opened" heads the thread: the ticket is opened while its first message is processed, after Meta's timestamp.
    found.sort(key=lambda item: (getattr(item, "kind", None) != "opened", moment(item), isinstance(item, Message), item.id))
    truncated = bool(limit) and len(found) > limit
    if truncated:
        found = found[-limit:]
    result = Thread(ticket=ticket, items=found, truncated=truncated,
                    connection=db.session.get(Connection, ticket.connection_id))
    _load_people(result)
    return result


def _load_people(result: Thread) -> None:
    user_ids, department_ids, mids = {result.ticket.assigned_to_id}, {result.ticket.department_id}, set()
    for item in result.items:
        if isinstance(item, Message):
            user_ids.add(item.author_id)
            if item.reply_to_mid:
                mids.add(item.reply_to_mid)
        else:
            user_ids.add(item.actor_id)
            department_ids.add(item.department_id)
            details = item.details or {}
            user_ids.update((details.get("from_user"), details.get("to_user")))
            department_ids.add(details.get("from_department"))
    user_ids.discard(None)
    department_ids.discard(None)
    if user_ids:
        result.users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
    if department_ids:
        result.departments = {d.id: d for d in db.session.scalars(select(Department).where(Department.id.in_(department_ids)))}
    if mids:
        result.replied = {m.mid: m for m in db.session.scalars(select(Message).where(
            Message.connection_id == result.ticket.connection_id, Message.mid.in_(mids)))}


def bare(ticket: Ticket) -> Thread:
    """No items, only the people and places the ticket's head names."""
    return of([], ticket)


def one(item, ticket: Ticket) -> Thread:
    """A thread of one item, for rendering it alone (a live update, an answer to a form)."""
    return of([item], ticket)


def of(items: list, ticket: Ticket) -> Thread:
    """A thread of these items only, with the people and messages they name loaded at once."""
    result = Thread(ticket=ticket, items=list(items), connection=db.session.get(Connection, ticket.connection_id))
    _load_people(result)
    return result
