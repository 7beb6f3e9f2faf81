"""The ticket clock: tunnel notices exactly at their time (24 h ± 1 s), once each, and the bot's timeouts and
business hours — driven through Direto's webhook endpoint, with the clock's `now` given explicitly."""
import datetime as dt

import pytest

from tests.inbound_support import ACCOUNT, customer, rows, the_ticket
from webapp.bots import store as bot_store
from webapp.bots.models import Bot
from webapp.connections.models import Connection, ConnectionStatus
from webapp.events.models import LiveEvent
from webapp.extensions import db
from webapp.messages import outbound
from webapp.messages.models import Author, Message, MessageStatus, TicketEvent
from webapp.team import directory
from webapp.tickets import clock, tunnel
from webapp.tickets.models import Ticket, TicketStatus

WROTE = dt.datetime(2026, 11, 24, 15, 0, 0, tzinfo=dt.timezone.utc)  # a Tuesday, 12:00 in São Paulo
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def shop(inbox_app):
    with inbox_app.app_context():
        reception, sales = directory.ensure_department("Recepção"), directory.ensure_department("Vendas")
        bot = bot_store.ensure_default_bot(reception.id, menu=[("Vendas", sales.id)])  # Mon–Fri 08–18, São Paulo
        connection = Connection(name="Loja Demo", default_department_id=reception.id, bot_id=bot.id,
                                status=ConnectionStatus.ACTIVE, instagram_account_id=ACCOUNT)
        db.session.add(connection)
        db.session.commit()
        return {"reception": reception.id, "sales": sales.id, "bot": bot.id}


def notices(app) -> list[str]:
    return [e.kind for e in rows(app, LiveEvent) if e.kind.startswith("tunnel.")]


def tick(app, now):
    with app.app_context():
        return clock.tick(now)


def test_closing_soon_one_hour_before_and_closed_at_24_hours_each_once(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}, at=WROTE))
    closes = WROTE + tunnel.WINDOW
    assert the_ticket(inbox_app).tunnel_closes_at == closes
    tick(inbox_app, closes - tunnel.CLOSING_SOON - SECOND)
    assert notices(inbox_app) == []
    tick(inbox_app, closes - tunnel.CLOSING_SOON)
    tick(inbox_app, closes - SECOND)
    assert notices(inbox_app) == ["tunnel.closing_soon"]
    tick(inbox_app, closes)
    tick(inbox_app, closes + SECOND)
    assert notices(inbox_app) == ["tunnel.closing_soon", "tunnel.closed"]
    assert [e.kind for e in rows(inbox_app, TicketEvent)][-1] == "tunnel_closed"


def test_sending_is_allowed_at_24h_minus_1s_and_refused_at_24h(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}, at=WROTE))
    with inbox_app.app_context():
        ticket = db.session.scalar(db.select(Ticket))
        allowed = outbound.queue(ticket, author=Author.AGENT, now=WROTE + tunnel.WINDOW - SECOND, text="ainda dá")
        refused = outbound.queue(ticket, author=Author.AGENT, now=WROTE + tunnel.WINDOW, text="tarde demais")
        db.session.commit()
        assert allowed.status == MessageStatus.QUEUED
        assert (refused.status, refused.error_code) == (MessageStatus.FAILED, outbound.TUNNEL_CLOSED)


def test_a_new_customer_message_reopens_the_tunnel_and_its_notices_start_over(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}, at=WROTE))
    tick(inbox_app, WROTE + tunnel.WINDOW)
    later = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    meta(customer({"mid": "m-2", "text": "voltei"}, at=later))
    ticket = the_ticket(inbox_app)
    assert ticket.tunnel_closes_at == later + tunnel.WINDOW and ticket.tunnel_notice is None
    assert notices(inbox_app) == ["tunnel.closed", "tunnel.reopened"]
    tick(inbox_app, later + tunnel.WINDOW)
    assert notices(inbox_app)[-1] == "tunnel.closed" and notices(inbox_app).count("tunnel.closed") == 2


def test_a_closed_notice_computed_for_an_old_closing_time_is_not_given(inbox_app, shop, meta):
    """The clock read the ticket, then the customer wrote: the stale "closed" must not go out."""
    meta(customer({"mid": "m-1", "text": "Oi"}, at=WROTE))
    with inbox_app.app_context():
        stale = WROTE + tunnel.WINDOW
        db.session.execute(db.update(Ticket).values(tunnel_closes_at=stale + dt.timedelta(hours=5)))
        db.session.commit()
        assert clock._notify(the_ticket(inbox_app).id, stale, clock.CLOSED, stale) is False
    assert notices(inbox_app) == []


def test_out_of_hours_the_bot_says_so_once_and_the_ticket_waits_in_reception(inbox_app, shop, meta):
    today = dt.datetime.now(dt.timezone.utc).date()
    with inbox_app.app_context():
        # Closed all day today (a holiday) and every other day: whenever the test runs, it is out of hours.
        closed = bot_store.save_schedule(None, name="Fechado", time_zone="America/Sao_Paulo", intervals=(),
                                         holidays=[(today, "Feriado")])
        bot = db.session.get(Bot, shop["bot"])
        bot.schedule_id, message = closed.id, bot.out_of_hours_message
        db.session.commit()
    meta(customer({"mid": "m-1", "text": "Oi"}))
    meta(customer({"mid": "m-2", "text": "Alguém aí?"}))
    ticket = the_ticket(inbox_app)
    assert (ticket.status, ticket.department_id, ticket.out_of_hours_sent) == (
        TicketStatus.QUEUED, shop["reception"], True)
    [said] = rows(inbox_app, Message, Message.author == Author.BOT)
    assert said.text == message.replace("{{protocolo}}", ticket.protocol).replace("Olá, {{nome}}!", "Olá!")
    assert rows(inbox_app, TicketEvent)[-1].details == {"reason": "out_of_hours"}


def test_no_answer_sends_the_ticket_to_the_default_department(inbox_app, shop, meta):
    with inbox_app.app_context():
        bot = db.session.get(Bot, shop["bot"])
        bot.schedule_id, bot.fallback_department_id = None, shop["sales"]
        db.session.commit()
    meta(customer({"mid": "m-1", "text": "Oi"}))
    ticket = the_ticket(inbox_app)
    assert ticket.status == TicketStatus.BOT
    tick(inbox_app, ticket.bot_deadline_at - SECOND)
    assert the_ticket(inbox_app).status == TicketStatus.BOT
    tick(inbox_app, ticket.bot_deadline_at)
    ticket = the_ticket(inbox_app)
    assert (ticket.status, ticket.department_id) == (TicketStatus.QUEUED, shop["reception"])
    assert rows(inbox_app, TicketEvent)[-1].details == {"reason": "no_answer"}
    # An answer after the timeout is an ordinary message of a queued ticket: the bot stays quiet.
    meta(customer({"mid": "m-2", "text": "1"}))
    assert the_ticket(inbox_app).department_id == shop["reception"]
    assert len(rows(inbox_app, Message, Message.author == Author.BOT)) == 1
