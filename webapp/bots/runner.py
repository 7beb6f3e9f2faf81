"""The triage bot at work: turns the engine's steps into bot messages, ticket moves and timeline events.

Everything happens in the caller's transaction (the processor's, or the clock's), so a customer message and the
bot's answer to it are stored together or not at all; the sender sends the answer afterwards.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from webapp.bots import engine
from webapp.bots.models import Bot
from webapp.bots.placeholders import fill
from webapp.connections.models import Connection
from webapp.events import bus
from webapp.extensions import db
from webapp.messages import outbound
from webapp.messages.models import Author, TicketEvent
from webapp.team.models import Department
from webapp.tickets.models import Contact, Ticket, TicketStatus


def bot_of(connection: Connection) -> Bot | None:
    """The connection's bot when it can triage: active, with a menu."""
    bot = connection.bot
    return bot if bot is not None and bot.active and bot.options else None


def rules_of(bot: Bot) -> engine.Rules:
    return engine.Rules(
        greeting=bot.greeting,
        options=tuple(engine.Option(o.position, o.label, o.department_id) for o in bot.options),
        invalid_answer_message=bot.invalid_answer_message,
        max_attempts=max(bot.max_attempts, 1),
        fallback_department_id=bot.fallback_department_id,
        out_of_hours_message=bot.out_of_hours_message,
        no_answer_timeout=dt.timedelta(minutes=max(bot.no_answer_timeout_minutes, 1)),
        schedule=bot.schedule.rules() if bot.schedule is not None else None,
    )


def state_of(ticket: Ticket) -> engine.State:
    return engine.State(greeted=ticket.bot_deadline_at is not None, attempts=ticket.bot_attempts,
                        out_of_hours_sent=ticket.out_of_hours_sent)


def on_customer_message(ticket: Ticket, connection: Connection, contact: Contact, now: dt.datetime,
                        text: str | None, payload: str | None) -> None:
    bot = bot_of(connection)
    if bot is None:  # the bot was switched off since the ticket opened: let the team have it
        _route(ticket, ticket.department_id, "bot_unavailable", now)
        return
    rules = rules_of(bot)
    step = engine.on_customer_message(rules, state_of(ticket), now, ticket.department_id, text, payload)
    _apply(ticket, contact, rules, step, now)


def time_out(ticket: Ticket, now: dt.datetime) -> None:
    """Whatever became of the bot meanwhile, an unanswered menu ends in the connection's default department."""
    connection = db.session.get(Connection, ticket.connection_id)
    step = engine.on_timeout(state_of(ticket), connection.default_department_id)
    _apply(ticket, ticket.contact, None, step, now)


def _apply(ticket: Ticket, contact: Contact, rules: engine.Rules | None, step: engine.Step, now: dt.datetime) -> None:
    if step.say:
        department = db.session.get(Department, step.route_to or ticket.department_id)
        values = {"protocolo": ticket.protocol, "nome": contact.name or contact.username or "",
                  "departamento": department.name if department else ""}
        details = {"quick_replies": engine.quick_replies(rules)} if step.offer_menu and rules else None
        for template in step.say:
            outbound.queue(ticket, author=Author.BOT, now=now, text=fill(template, **values), details=details)
    ticket.bot_attempts = step.attempts
    ticket.out_of_hours_sent = ticket.out_of_hours_sent or step.out_of_hours_sent
    if step.route_to is not None:
        _route(ticket, step.route_to, step.reason, now)
    else:
        ticket.bot_deadline_at = step.wait_until


def _route(ticket: Ticket, department_id: int, reason: str, now: dt.datetime) -> None:
    """The bot is done: the ticket waits in the department's queue."""
    ticket.status, ticket.department_id = TicketStatus.QUEUED, department_id
    ticket.bot_deadline_at = None
    db.session.add(TicketEvent(ticket_id=ticket.id, kind="bot_routed", department_id=department_id,
                               details={"reason": reason}, created_at=now))
    bus.publish("ticket.queued", ticket=ticket, reason=reason)


def due_timeouts(now: dt.datetime, limit: int = 100) -> list[Ticket]:
    return list(db.session.scalars(
        select(Ticket).where(Ticket.status == TicketStatus.BOT, Ticket.bot_deadline_at <= now)
        .order_by(Ticket.bot_deadline_at).limit(limit)))
