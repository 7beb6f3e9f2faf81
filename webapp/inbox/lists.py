"""The Chat page's two lists as data: *Fila* (tickets waiting in the departments a user sees) and *Chats* (the user's
open tickets), with their counts, sorting and search."""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, or_, select, text
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.messages.models import Direction, Message
from webapp.team.models import Department
from webapp.tickets import access, tunnel
from webapp.tickets.models import WAITING_SQL, Contact, Ticket, TicketStatus

PAGE = 50  # rows shown at first; "Show more" doubles it
MOST = 800  # a list longer than this is searched, not scrolled


class Tab(str, enum.Enum):
    QUEUE = "queue"
    CHATS = "chats"


class Sort(str, enum.Enum):
    WAITING = "waiting"  # longest waiting first: the customer who waits longest is served first (Digisac's default)
    NEWEST = "newest"
    TUNNEL = "tunnel"  # the tunnel closing soonest first: answer them while Instagram still lets you


@dataclass(frozen=True)
class Row:
    ticket: Ticket
    department: str
    last_text: str | None
    last_kind: str | None
    tunnel_state: tunnel.TunnelState
    tunnel_left: dt.timedelta


def parse(tab: str | None, sort: str | None) -> tuple[Tab, Sort]:
    try:
        chosen_tab = Tab(tab or Tab.QUEUE.value)
    except ValueError:
        chosen_tab = Tab.QUEUE
    try:
        chosen_sort = Sort(sort or Sort.WAITING.value)
    except ValueError:
        chosen_sort = Sort.WAITING
    return chosen_tab, chosen_sort


def _of_tab(query: Select, tab: Tab, user) -> Select:
    if tab == Tab.CHATS:
        return query.where(Ticket.status == TicketStatus.OPEN, Ticket.assigned_to_id == user.id)
    # Spelled like the partial index ix_tickets_waiting: with bound parameters the planner could not use it.
    return access.visible(query.where(text(f"tickets.{WAITING_SQL}")), user)


def search_terms(query: Select, text: str | None) -> Select:
    """Name, @username or protocol: what a customer says on the phone ("sou a Ana, protocolo 2026...")."""
    text = " ".join((text or "").split())
    if not text:
        return query
    return query.where(or_(Contact.matching(text), Ticket.protocol.startswith(text, autoescape=True)))


def _ordered(query: Select, sort: Sort, now: dt.datetime) -> Select:
    if sort == Sort.NEWEST:
        return query.order_by(Ticket.opened_at.desc(), Ticket.id.desc())
    if sort == Sort.TUNNEL:
        # Open tunnels by closing time; closed (or never opened) ones last: nothing can be sent there anyway.
        still_open = and_(Ticket.tunnel_closes_at.is_not(None), Ticket.tunnel_closes_at > now)
        return query.order_by(case((still_open, 0), else_=1), Ticket.tunnel_closes_at, Ticket.id)
    return query.order_by(Ticket.opened_at, Ticket.id)


def rows(user, tab: Tab, sort: Sort, text: str | None, now: dt.datetime, limit: int = PAGE) -> list[Row]:
    query = (select(Ticket, Department.name).join(Department, Department.id == Ticket.department_id)
             .join(Contact, Contact.id == Ticket.contact_id).options(joinedload(Ticket.contact)))
    query = _ordered(search_terms(_of_tab(query, tab, user), text), sort, now).limit(limit)
    found = db.session.execute(query).all()
    last = _last_customer_messages([ticket.id for ticket, _ in found])
    return [Row(ticket, department, *last.get(ticket.id, (None, None)), tunnel.state(ticket.tunnel_closes_at, now),
                tunnel.remaining(ticket.tunnel_closes_at, now)) for ticket, department in found]


def counts(user) -> dict[Tab, int]:
    """The numbers on the tabs (without the search: they say how much work there is)."""
    counted = {}
    for tab in Tab:
        query = _of_tab(select(func.count()).select_from(Ticket), tab, user)
        counted[tab] = db.session.scalar(query) or 0
    return counted


def _last_customer_messages(ticket_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    if not ticket_ids:
        return {}
    latest = (select(Message.ticket_id, func.max(Message.id).label("id"))
              .where(Message.ticket_id.in_(ticket_ids), Message.direction == Direction.INBOUND)
              .group_by(Message.ticket_id).subquery())
    found = db.session.execute(select(Message.ticket_id, Message.text, Message.kind)
                               .join(latest, latest.c.id == Message.id)).all()
    return {ticket_id: (text, kind) for ticket_id, text, kind in found}  # an unsent message's text is already gone
