"""Where an inbound message lands: one contact per (connection, IGSID), one ticket that is not closed per contact,
a new protocol after closing — and the same under concurrent deliveries."""
import datetime as dt

import pytest

from tests.conftest import run_concurrently
from webapp.bots import store as bot_store
from webapp.connections.models import Connection, ConnectionStatus
from webapp.extensions import db
from webapp.team import directory
from webapp.tickets import intake
from webapp.tickets.models import Contact, Ticket, TicketStatus

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.timezone.utc)  # 12:00 in São Paulo
ANA = "8532027536890212"


@pytest.fixture
def connection(app):
    with app.app_context():
        reception = directory.ensure_department("Recepção")
        bot = bot_store.ensure_default_bot(reception.id, menu=[("Recepção", reception.id)])
        row = Connection(name="Loja", default_department_id=reception.id, bot_id=bot.id,
                         status=ConnectionStatus.ACTIVE, instagram_account_id="17841463172128465")
        db.session.add(row)
        db.session.commit()
        return row.id


def test_a_first_message_opens_a_ticket_with_a_protocol_in_the_default_department(app, connection):
    with app.app_context():
        conn = db.session.get(Connection, connection)
        contact, created = intake.contact_for(conn, ANA)
        assert created and contact.name is None  # the profile comes later, or never
        ticket, opened = intake.ticket_for(conn, contact, NOW, starts_in_bot=True)
        assert opened and ticket.protocol == "202611250001"
        assert ticket.status == TicketStatus.BOT and ticket.department_id == conn.default_department_id

        again, opened_again = intake.ticket_for(conn, intake.contact_for(conn, ANA)[0], NOW, starts_in_bot=True)
        assert (again.id, opened_again) == (ticket.id, False)


def test_after_closing_the_next_message_opens_a_new_ticket_in_the_contacts_department(app, connection):
    with app.app_context():
        conn = db.session.get(Connection, connection)
        contact, _ = intake.contact_for(conn, ANA)
        first, _ = intake.ticket_for(conn, contact, NOW, starts_in_bot=False)
        assert first.status == TicketStatus.QUEUED
        first.status, first.closed_at = TicketStatus.CLOSED, NOW
        contact.default_department_id = directory.ensure_department("Vendas").id
        db.session.commit()
        second, opened = intake.ticket_for(conn, contact, NOW + dt.timedelta(hours=1), starts_in_bot=False)
        assert opened and second.protocol == "202611250002"
        assert second.department_id == contact.default_department_id


def test_the_same_igsid_on_another_connection_is_another_contact(app, connection):
    with app.app_context():
        conn = db.session.get(Connection, connection)
        other = Connection(name="Café", default_department_id=conn.default_department_id, bot_id=conn.bot_id,
                           status=ConnectionStatus.ACTIVE, instagram_account_id="17841400000000001")
        db.session.add(other)
        db.session.commit()
        assert intake.contact_for(conn, ANA)[0].id != intake.contact_for(other, ANA)[0].id


def test_concurrent_deliveries_for_one_customer_end_with_one_contact_and_one_ticket(app, connection):
    def deliver():
        conn = db.session.get(Connection, connection)
        contact, _ = intake.contact_for(conn, ANA)
        ticket, opened = intake.ticket_for(conn, contact, NOW, starts_in_bot=True)
        return ticket.id, opened

    results = run_concurrently(app, deliver, threads=8)
    assert len({ticket_id for ticket_id, _ in results}) == 1
    assert sum(opened for _, opened in results) == 1
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Contact)) == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(Ticket)) == 1
