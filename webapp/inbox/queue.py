"""The queue as data: tickets waiting for an agent (or still with the bot) in the departments a user sees."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.messages.models import Direction, Message
from webapp.team.models import Department
from webapp.tickets import access, tunnel
from webapp.tickets.models import Ticket, TicketStatus

WAITING = (TicketStatus.BOT, TicketStatus.QUEUED)


@dataclass(frozen=True)
class QueueRow:
    ticket: Ticket
    department: str
    last_customer_text: str | None
    tunnel_state: tunnel.TunnelState
    tunnel_left: dt.timedelta


def waiting(user, now: dt.datetime, limit: int = 200) -> list[QueueRow]:
    """Oldest first: the customer who waits longest is served first (Digisac's default)."""
    query = access.visible(
        select(Ticket, Department.name).join(Department, Department.id == Ticket.department_id)
        .where(Ticket.status.in_(WAITING)).options(joinedload(Ticket.contact))
        .order_by(Ticket.opened_at, Ticket.id).limit(limit), user)
    found = db.session.execute(query).all()
    last_texts = _last_customer_texts([ticket.id for ticket, _ in found])
    return [QueueRow(ticket, department, last_texts.get(ticket.id), tunnel.state(ticket.tunnel_closes_at, now),
                     tunnel.remaining(ticket.tunnel_closes_at, now)) for ticket, department in found]


def _last_customer_texts(ticket_ids: list[int]) -> dict[int, str | None]:
    if not ticket_ids:
        return {}
    latest = (select(Message.ticket_id, func.max(Message.id).label("id"))
              .where(Message.ticket_id.in_(ticket_ids), Message.direction == Direction.INBOUND)
              .group_by(Message.ticket_id).subquery())
    rows = db.session.execute(select(Message.ticket_id, Message.text).join(latest, latest.c.id == Message.id)).all()
    return dict(rows)  # an unsent message's text is already gone


def assigned_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.status == TicketStatus.OPEN, Ticket.assigned_to_id == user.id)) or 0
