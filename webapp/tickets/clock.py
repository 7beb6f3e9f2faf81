"""The ticket clock, run by the one scheduler: tunnel notices at their time, and the bot's no-answer timeouts.

Each notice is given once per closing time: the UPDATE that records it names the closing time it saw, so a
customer message that renewed the tunnel in the meantime wins and no stale "closed" goes out.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from webapp.bots import runner
from webapp.events import bus
from webapp.extensions import db
from webapp.messages.models import TicketEvent
from webapp.tickets import tunnel
from webapp.tickets.models import Ticket, TicketStatus

CLOSING_SOON, CLOSED = "closing_soon", "closed"
BATCH = 200


def _notify(ticket_id: int, closes_at: dt.datetime, notice: str, now: dt.datetime) -> bool:
    recorded = db.session.execute(
        update(Ticket).where(Ticket.id == ticket_id, Ticket.tunnel_closes_at == closes_at,
                             Ticket.status != TicketStatus.CLOSED)
        .values(tunnel_notice=notice).execution_options(synchronize_session=False)).rowcount == 1
    if recorded:
        ticket = db.session.get(Ticket, ticket_id, populate_existing=True)
        if notice == CLOSED:
            db.session.add(TicketEvent(ticket_id=ticket_id, kind="tunnel_closed", created_at=now,
                                       details={"closed_at": closes_at.isoformat()}))
        bus.publish(f"tunnel.{notice}", ticket=ticket, closes_at=closes_at.isoformat())
    db.session.commit()
    return recorded


def tunnel_notices(now: dt.datetime) -> int:
    """"Closing soon" one hour before, "closed" at the closing time; returns how many were given."""
    not_closed = Ticket.status != TicketStatus.CLOSED
    closed = db.session.execute(select(Ticket.id, Ticket.tunnel_closes_at).where(
        not_closed, Ticket.tunnel_closes_at <= now,
        (Ticket.tunnel_notice.is_(None)) | (Ticket.tunnel_notice != CLOSED)).limit(BATCH)).all()
    soon = db.session.execute(select(Ticket.id, Ticket.tunnel_closes_at).where(
        not_closed, Ticket.tunnel_closes_at > now, Ticket.tunnel_closes_at <= now + tunnel.CLOSING_SOON,
        Ticket.tunnel_notice.is_(None)).limit(BATCH)).all()
    given = sum(_notify(ticket_id, closes, CLOSED, now) for ticket_id, closes in closed)
    return given + sum(_notify(ticket_id, closes, CLOSING_SOON, now) for ticket_id, closes in soon)


def bot_timeouts(now: dt.datetime) -> int:
    """Tickets whose customer did not answer the bot in time go to the connection's default department."""
    count = 0
    for ticket in runner.due_timeouts(now):
        locked = db.session.scalar(select(Ticket).where(Ticket.id == ticket.id, Ticket.status == TicketStatus.BOT,
                                                        Ticket.bot_deadline_at <= now).with_for_update())
        if locked is not None:
            runner.time_out(locked, now)
            count += 1
        db.session.commit()
    return count


def tick(now: dt.datetime) -> int:
    return tunnel_notices(now) + bot_timeouts(now)
