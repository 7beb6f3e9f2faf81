"""What agents do to a ticket, as plain rules over the database (no HTTP): accept, reply, comment, transfer, close."""
import datetime as dt

import pytest
from flask_babel import force_locale

from tests.inbound_support import customer
from webapp.events.models import LiveEvent
from webapp.extensions import db
from webapp.messages.models import Author, Message, MessageStatus, TicketEvent
from webapp.team.models import Department, User
from webapp.tickets import actions
from webapp.tickets.models import Ticket, TicketStatus
from webapp.workspace import store


@pytest.fixture
def waiting(inbox_app, shop, meta, make_user):
    """Ana wrote and chose Vendas: her ticket waits in the Vendas queue. Bruno and Carla are agents of Vendas,
    Sílvia of Suporte."""
    meta(customer({"mid": "m-1", "text": "Oi"}))
    meta(customer({"mid": "m-2", "text": "1"}))
    people = {name: make_user("agent", name=name, departments=departments)["id"]
              for name, departments in (("Bruno", ("Vendas",)), ("Carla", ("Vendas",)), ("Sílvia", ("Suporte",)))}
    people["Admin"] = make_user("admin", name="Admin", departments=())["id"]
    with inbox_app.app_context():
        ticket = db.session.scalar(db.select(Ticket))
        assert ticket.status == TicketStatus.QUEUED
        return {"ticket": ticket.id, **people, **shop}


def now():
    return dt.datetime.now(dt.timezone.utc)


def kinds_of_events(ticket_id):
    return [e.kind for e in db.session.scalars(db.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                               .order_by(TicketEvent.id))]


def test_answering_a_waiting_ticket_takes_it_and_queues_the_message(inbox_app, waiting):
    with inbox_app.test_request_context(), force_locale("en"):
        ticket, bruno = db.session.get(Ticket, waiting["ticket"]), db.session.get(User, waiting["Bruno"])
        message = actions.reply(ticket, bruno, "  Temos sim!  ", now())
        db.session.commit()
        assert (ticket.status, ticket.assigned_to_id) == (TicketStatus.OPEN, bruno.id)
        assert (message.text, message.author, message.status) == ("Temos sim!", Author.AGENT, MessageStatus.QUEUED)
        assert kinds_of_events(ticket.id)[-1] == "accepted"
        live = [e.kind for e in db.session.scalars(db.select(LiveEvent).order_by(LiveEvent.id))][-2:]
        assert live == ["ticket.accepted", "message.new"]
        # Carla, of the same department, may no longer answer Bruno's chat; the admin may.
        carla = db.session.get(User, waiting["Carla"])
        with pytest.raises(actions.Refused, match="Another agent"):
            actions.reply(ticket, carla, "Eu também", now())
        assert actions.may_answer(ticket, db.session.get(User, waiting["Admin"]))


def test_the_tunnel_refuses_a_reply_with_the_products_words_and_stores_nothing(inbox_app, waiting):
    with inbox_app.test_request_context(), force_locale("pt_BR"):
        ticket = db.session.get(Ticket, waiting["ticket"])
        ticket.tunnel_closes_at = now() - dt.timedelta(seconds=1)
        before = db.session.scalar(db.select(db.func.count()).select_from(Message))
        with pytest.raises(actions.Refused, match="Envio de mensagem só é permitido com túnel aberto"):
            actions.reply(ticket, db.session.get(User, waiting["Bruno"]), "Oi", now())
        assert db.session.scalar(db.select(db.func.count()).select_from(Message)) == before
        assert ticket.status == TicketStatus.QUEUED  # a refused answer does not take the ticket either
        # Comments, transfers and closing stay possible.
        actions.comment(ticket, db.session.get(User, waiting["Bruno"]), "Cliente some às vezes", now())
        actions.close(ticket, db.session.get(User, waiting["Bruno"]), [], None, now())
        assert ticket.status == TicketStatus.CLOSED


def test_the_byte_limit_counts_the_agents_signature(inbox_app, waiting):
    with inbox_app.test_request_context(), force_locale("en"):
        ticket, bruno = db.session.get(Ticket, waiting["ticket"]), db.session.get(User, waiting["Bruno"])
        limit = actions.text_limit(bruno)
        assert limit == 1000 - len("*Bruno:*\n".encode())
        with pytest.raises(actions.Refused, match="at most"):
            actions.reply(ticket, bruno, "é" * (limit // 2 + 1), now())  # two bytes each
        assert actions.reply(ticket, bruno, "é" * (limit // 2), now()).text


def test_transfer_needs_a_department_and_an_agent_of_it(inbox_app, waiting):
    with inbox_app.test_request_context(), force_locale("en"):
        ticket, bruno = db.session.get(Ticket, waiting["ticket"]), db.session.get(User, waiting["Bruno"])
        support = db.session.get(Department, waiting["support"])
        with pytest.raises(actions.Refused) as refused:
            actions.transfer(ticket, bruno, None, None, None, now())
        assert refused.value.field == "department"
        with pytest.raises(actions.Refused) as refused:
            actions.transfer(ticket, bruno, support, db.session.get(User, waiting["Carla"]), None, now())
        assert refused.value.field == "agent"

        actions.transfer(ticket, bruno, support, db.session.get(User, waiting["Sílvia"]), "Pergunta técnica", now())
        db.session.commit()
        assert (ticket.department_id, ticket.status, ticket.assigned_to_id) == (support.id, TicketStatus.OPEN,
                                                                                 waiting["Sílvia"])
        event = db.session.scalars(db.select(TicketEvent).where(TicketEvent.kind == "transferred")).one()
        assert event.details["comment"] == "Pergunta técnica" and event.details["from_department"] == waiting["sales"]
        # Both departments' pages hear of it: the ticket reached one, and left the other (told no more than that).
        [moved] = db.session.scalars(db.select(LiveEvent).where(LiveEvent.kind == "ticket.transferred")).all()
        [left] = db.session.scalars(db.select(LiveEvent).where(LiveEvent.kind == "ticket.left")).all()
        assert (moved.department_id, left.department_id) == (support.id, waiting["sales"])
        assert "event_id" not in (left.payload or {})

        actions.transfer(ticket, db.session.get(User, waiting["Sílvia"]), db.session.get(Department, waiting["sales"]),
                         None, None, now())
        assert (ticket.status, ticket.assigned_to_id) == (TicketStatus.QUEUED, None)  # back to the Vendas queue


def test_close_asks_for_subjects_only_when_the_setting_says_so_and_there_are_subjects(inbox_app, waiting):
    with inbox_app.test_request_context(), force_locale("en"):
        ticket, bruno = db.session.get(Ticket, waiting["ticket"]), db.session.get(User, waiting["Bruno"])
        settings = store.company_settings()
        settings.subject_required_on_close = True
        db.session.commit()
        actions.accept(ticket, bruno, now())
        exchange = store.save_subject(None, "Troca")
        with pytest.raises(actions.Refused) as refused:
            actions.close(ticket, bruno, [], None, now())
        assert refused.value.field == "subjects"
        with pytest.raises(actions.Refused):
            actions.close(ticket, bruno, [exchange.id + 99], None, now())
        actions.close(ticket, bruno, [exchange.id], "Trocou o 42 pelo 43", now())
        db.session.commit()
        assert (ticket.status, ticket.closed_by_id, [s.name for s in ticket.subjects]) == (TicketStatus.CLOSED,
                                                                                           bruno.id, ["Troca"])
        assert kinds_of_events(ticket.id)[-1] == "closed"
        with pytest.raises(actions.Refused, match="closed"):
            actions.reply(ticket, bruno, "Mais uma coisa", now())


def test_the_next_message_after_closing_opens_a_new_ticket(inbox_app, waiting, meta):
    with inbox_app.test_request_context(), force_locale("en"):
        ticket = db.session.get(Ticket, waiting["ticket"])
        actions.close(ticket, db.session.get(User, waiting["Admin"]), [], None, now())
        db.session.commit()
        first = ticket.protocol
    meta(customer({"mid": "m-3", "text": "Voltei"}))
    with inbox_app.app_context():
        newest = db.session.scalars(db.select(Ticket).order_by(Ticket.id.desc())).first()
        assert newest.id != waiting["ticket"] and newest.protocol != first and newest.status != TicketStatus.CLOSED
