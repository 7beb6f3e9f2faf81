"""Chat over HTTP: the lists, the conversation pane, and the forms that act on a ticket, as each role sees them."""
import datetime as dt
import re

import pytest

from tests.conftest import TEST_PASSWORD, AuthActions, csrf_token, htmx
from tests.inbound_support import BIA, NOW, customer, ms
from webapp.extensions import db
from webapp.messages.models import Message, MessageStatus
from webapp.team.models import Role
from webapp.tickets.models import Contact, Ticket, TicketStatus


def signed_in(app, make_user, role, departments, name=None):
    client = app.test_client()
    user = make_user(role, departments=departments, name=name)
    assert AuthActions(client).login(user["email"], TEST_PASSWORD).status_code == 302
    client.user = user
    client.token = csrf_token(client, "/")
    return client


@pytest.fixture
def ana_waits(inbox_app, shop, meta):
    """Ana chose Vendas; her ticket waits there."""
    meta(customer({"mid": "m-1", "text": "Oi! Tem o 42?"}))
    meta(customer({"mid": "m-2", "text": "1"}))
    with inbox_app.app_context():
        ticket = db.session.scalar(db.select(Ticket))
        return ticket.id


def text_of(response) -> str:
    return response.get_data(as_text=True)


def test_the_queue_and_chats_tabs_count_and_an_answer_moves_the_ticket_between_them(inbox_app, ana_waits, make_user):
    bruno = signed_in(inbox_app, make_user, Role.AGENT, ("Vendas",), name="Bruno")
    page = text_of(bruno.get("/"))
    assert re.search(r'id="count-queue">1<', page) and re.search(r'id="count-chats">0<', page)
    assert "Ana Souza" in page or "Protocolo" in page

    answer = bruno.post(f"/tickets/{ana_waits}/messages", data={"text": "Temos sim!", "mode": "message"},
                        headers=htmx(**{"X-CSRFToken": bruno.token}))
    assert answer.status_code == 200
    assert 'class="conversation"' in text_of(answer)  # answering took the ticket: the whole pane comes back

    rows = text_of(bruno.get("/chat/rows?tab=chats", headers=htmx()))
    assert f'id="ticket-row-{ana_waits}"' in rows
    assert re.search(r'id="count-queue" hx-swap-oob="true">0<', rows)
    assert re.search(r'id="count-chats" hx-swap-oob="true">1<', rows)
    assert f'id="ticket-row-{ana_waits}"' not in text_of(bruno.get("/chat/rows?tab=queue", headers=htmx()))


def test_search_finds_by_name_username_and_protocol_and_sorting_by_tunnel(inbox_app, shop, meta, make_user):
    meta(customer({"mid": "a-1", "text": "Oi"}, at=NOW - dt.timedelta(hours=5)))
    meta(customer({"mid": "b-1", "text": "Olá"}, who=BIA))
    with inbox_app.app_context():
        ana, bia = db.session.scalars(db.select(Ticket).order_by(Ticket.id)).all()
        db.session.get(Contact, ana.contact_id).name, db.session.get(Contact, ana.contact_id).username = "Ana Souza", "ana.souza"
        db.session.get(Contact, bia.contact_id).name, db.session.get(Contact, bia.contact_id).username = "Bia Lima", "bia_l"
        db.session.commit()
        ana_id, bia_id, bia_protocol = ana.id, bia.id, bia.protocol
    admin = signed_in(inbox_app, make_user, Role.ADMIN, ())

    def found(**query):
        body = text_of(admin.get("/chat/rows", query_string=query, headers=htmx()))
        return re.findall(r'id="ticket-row-(\d+)"', body)

    assert found(q="souza") == [str(ana_id)]
    assert found(q="@bia_l") == [str(bia_id)]
    assert found(q=bia_protocol) == [str(bia_id)]
    assert found(q="ninguém") == []
    # Ana wrote five hours earlier: her tunnel closes first; the default (waiting longest) also puts her first.
    assert found(sort="tunnel") == [str(ana_id), str(bia_id)]
    assert found(sort="newest") == [str(bia_id), str(ana_id)]


def test_the_conversation_shows_every_kind_and_customer_html_only_as_text(inbox_app, ana_waits, meta, make_user):
    meta(customer({"mid": "m-3", "text": "<script>alert('x')</script><b>negrito</b>"}))
    meta(customer({"mid": "m-4", "attachments": [{"type": "ig_reel", "payload": {
        "url": "https://lookaside.fbsbx.com/reel", "title": "<img src=x onerror=alert(1)>", "reel_video_id": "9"}}]}))
    meta(customer({"mid": "m-5", "attachments": [{"type": "story_mention", "payload": {
        "url": "https://lookaside.fbsbx.com/story"}}]}))
    meta(customer({"mid": "m-6", "text": "sobre isso", "reply_to": {"mid": "m-1"}}))
    meta(customer({"mid": "m-1", "is_deleted": True}))
    meta(customer(read={"mid": "none"}))
    admin = signed_in(inbox_app, make_user, Role.ADMIN, ())
    page = text_of(admin.get(f"/tickets/{ana_waits}"))
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;b&gt;negrito&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "Reel" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Mencionou você em um story" in page
    assert "O cliente apagou esta mensagem" in page  # m-1 was unsent: the placeholder stays
    assert "Resposta a:" in page
    assert "Robô" in page and "O robô encaminhou o chamado para Vendas" in page
    assert 'id="composer-' in page and "Túnel aberto — fecha em 23 h" in page


def test_an_agent_of_another_department_gets_404_everywhere(inbox_app, ana_waits, make_user):
    stranger = signed_in(inbox_app, make_user, Role.AGENT, ("Suporte",))
    with inbox_app.app_context():
        message_id = db.session.scalar(db.select(Message.id))
    headers = htmx(**{"X-CSRFToken": stranger.token})
    for path in (f"/tickets/{ana_waits}", f"/tickets/{ana_waits}/head", f"/tickets/{ana_waits}/composer",
                 f"/tickets/{ana_waits}/thread", f"/tickets/{ana_waits}/pane", f"/tickets/{ana_waits}/transfer",
                 f"/tickets/{ana_waits}/close"):
        assert stranger.get(path, headers=headers).status_code == 404, path
    for path in (f"/tickets/{ana_waits}/messages", f"/tickets/{ana_waits}/accept", f"/tickets/{ana_waits}/transfer",
                 f"/tickets/{ana_waits}/close", f"/messages/{message_id}/retry"):
        assert stranger.post(path, data={"text": "oi"}, headers=headers).status_code == 404, path
    assert f"ticket-row-{ana_waits}" not in text_of(stranger.get("/"))
    with inbox_app.app_context():
        ticket = db.session.get(Ticket, ana_waits)
        assert ticket.status == TicketStatus.QUEUED and ticket.assigned_to_id is None


def test_a_closed_tunnel_refuses_the_send_in_words_and_keeps_comments(inbox_app, ana_waits, make_user):
    with inbox_app.app_context():
        db.session.get(Ticket, ana_waits).tunnel_closes_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        db.session.commit()
        before = db.session.scalar(db.select(db.func.count()).select_from(Message))
    bruno = signed_in(inbox_app, make_user, Role.AGENT, ("Vendas",), name="Bruno")
    page = text_of(bruno.get(f"/tickets/{ana_waits}"))
    assert 'data-state="tunnel_closed"' in page and "Envio de mensagem só é permitido com túnel aberto" in page
    refused = bruno.post(f"/tickets/{ana_waits}/messages", data={"text": "Oi", "mode": "message"},
                         headers=htmx(**{"X-CSRFToken": bruno.token}))
    assert refused.status_code == 422 and "Envio de mensagem só é permitido com túnel aberto" in text_of(refused)
    with inbox_app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Message)) == before
    noted = bruno.post(f"/tickets/{ana_waits}/messages", data={"text": "Ligar amanhã <b>cedo</b>", "mode": "comment"},
                       headers=htmx(**{"X-CSRFToken": bruno.token}))
    assert noted.status_code == 200 and "Ligar amanhã &lt;b&gt;cedo&lt;/b&gt;" in text_of(noted)
    assert 'class="note"' in text_of(noted)


def test_transfer_and_close_through_their_forms(inbox_app, ana_waits, make_user):
    bruno = signed_in(inbox_app, make_user, Role.AGENT, ("Vendas",), name="Bruno")
    silvia = make_user(Role.AGENT, departments=("Suporte",), name="Sílvia")
    headers = htmx(**{"X-CSRFToken": bruno.token})
    form = text_of(bruno.get(f"/tickets/{ana_waits}/transfer", headers=headers))
    assert 'name="department_id"' in form and "Suporte" in form
    missing = bruno.post(f"/tickets/{ana_waits}/transfer", data={"department_id": ""}, headers=headers)
    assert missing.status_code == 422 and missing.headers["HX-Retarget"] == f"#ticket-panel-{ana_waits}"
    with inbox_app.app_context():
        support = db.session.scalar(db.select(Ticket.department_id).where(Ticket.id == ana_waits))  # Vendas
        from webapp.team.models import find_department_by_name
        support = find_department_by_name("Suporte").id
    agents = text_of(bruno.get(f"/tickets/{ana_waits}/transfer/agents?department_id={support}", headers=headers))
    assert "Sílvia" in agents
    moved = bruno.post(f"/tickets/{ana_waits}/transfer", headers=headers,
                       data={"department_id": support, "agent_id": silvia["id"], "comment": "Dúvida técnica"})
    assert moved.status_code == 200 and "transferido para Sílvia" in text_of(moved)
    # Bruno no longer sees the ticket: the pane says where it went instead of showing it.
    assert bruno.get(f"/tickets/{ana_waits}").status_code == 404

    silvia_client = inbox_app.test_client()
    assert AuthActions(silvia_client).login(silvia["email"]).status_code == 302
    token = csrf_token(silvia_client, "/")
    page = text_of(silvia_client.get(f"/tickets/{ana_waits}"))
    assert "transferiu o chamado para Suporte · Sílvia" in page and "Dúvida técnica" in page
    closed = silvia_client.post(f"/tickets/{ana_waits}/close", data={"comment": "Resolvido"},
                                headers=htmx(**{"X-CSRFToken": token}))
    assert closed.status_code == 200 and "encerrado" in text_of(closed)
    assert 'data-state="closed"' in text_of(closed)


def test_a_failed_message_offers_a_retry_that_queues_the_same_message(inbox_app, ana_waits, make_user):
    bruno = signed_in(inbox_app, make_user, Role.AGENT, ("Vendas",), name="Bruno")
    headers = htmx(**{"X-CSRFToken": bruno.token})
    bruno.post(f"/tickets/{ana_waits}/messages", data={"text": "Oi", "mode": "message"}, headers=headers)
    with inbox_app.app_context():
        message = db.session.scalars(db.select(Message).where(Message.text == "Oi")).one()
        message.status, message.error_code = MessageStatus.FAILED, "551"
        db.session.commit()
        message_id = message.id
    page = text_of(bruno.get(f"/tickets/{ana_waits}"))
    assert "não está disponível no Instagram" in page and "Tentar de novo" in page
    again = bruno.post(f"/messages/{message_id}/retry", headers=headers)
    assert again.status_code == 200 and f'id="message-{message_id}"' in text_of(again)
    assert bruno.post(f"/messages/{message_id}/retry", headers=headers).status_code == 200
    with inbox_app.app_context():
        assert db.session.get(Message, message_id).status == MessageStatus.QUEUED
        assert db.session.scalar(db.select(db.func.count()).select_from(Message).where(Message.text == "Oi")) == 1


def test_csrf_is_required_to_send(inbox_app, ana_waits, make_user):
    bruno = signed_in(inbox_app, make_user, Role.AGENT, ("Vendas",))
    assert bruno.post(f"/tickets/{ana_waits}/messages", data={"text": "Oi"}).status_code == 400


def test_times_are_the_companys_local_time(inbox_app, shop, meta, make_user):
    moment = dt.datetime.now(dt.timezone.utc).replace(hour=15, minute=7, second=0, microsecond=0)
    if moment > dt.datetime.now(dt.timezone.utc):
        moment -= dt.timedelta(days=1)
    meta(customer({"mid": "t-1", "text": "Que horas?"}, at=moment))
    admin = signed_in(inbox_app, make_user, Role.ADMIN, ())
    with inbox_app.app_context():
        ticket_id = db.session.scalar(db.select(Ticket.id))
    assert "12:07" in text_of(admin.get(f"/tickets/{ticket_id}"))  # São Paulo is UTC-3
    assert ms(moment)


def test_a_connection_needing_reauthorization_reaches_open_pages_as_a_banner(inbox_app, shop):
    from webapp.connections import linking
    from webapp.connections.models import Connection, ConnectionStatus
    from webapp.events.models import LiveEvent
    from webapp.inbox import live

    with inbox_app.test_request_context():
        connection = db.session.get(Connection, shop["connection"])
        linking.mark_needs_reauth(connection, "(#190) Error validating access token")
        [event] = db.session.scalars(db.select(LiveEvent).where(LiveEvent.kind == "connection.status")).all()
        assert event.ticket_id is None and event.department_id is None  # every open page hears it
        [(name, banner)] = live.frames(event, "pt_BR")
        assert name == "update" and f'id="connection-banner-{connection.id}"' in banner and "Loja Demo" in banner
        assert 'data-into="connection-banners"' in banner  # only admins' pages have that place

        connection.status = ConnectionStatus.ACTIVE
        db.session.commit()
        newest = db.session.scalars(db.select(LiveEvent).order_by(LiveEvent.id.desc())).first()
        assert live.frames(newest, "pt_BR") == [
            ("update", f'<template id="connection-banner-{connection.id}" data-remove></template>')]


def test_search_ignores_case_in_accented_names_too(inbox_app, shop, meta, make_user):
    meta(customer({"mid": "e-1", "text": "Oi"}))
    with inbox_app.app_context():
        ticket = db.session.scalar(db.select(Ticket))
        db.session.get(Contact, ticket.contact_id).name = "Érica Ângela"
        db.session.commit()
        ticket_id = ticket.id
    admin = signed_in(inbox_app, make_user, Role.ADMIN, ())
    for typed in ("érica", "ÂNGELA", "Érica"):
        rows = text_of(admin.get("/chat/rows", query_string={"q": typed}, headers=htmx()))
        assert f'id="ticket-row-{ticket_id}"' in rows, typed


def test_two_agents_taking_the_same_ticket_at_once_one_is_refused(inbox_app, ana_waits, make_user):
    from webapp.team.models import User
    from webapp.tickets import actions

    bruno = make_user(Role.AGENT, departments=("Vendas",), name="Bruno")
    carla = make_user(Role.AGENT, departments=("Vendas",), name="Carla")
    first, second = inbox_app.app_context(), inbox_app.app_context()
    with first:
        seen_by_bruno = db.session.get(Ticket, ana_waits)  # both read it waiting...
        with second:
            seen_by_carla = db.session.get(Ticket, ana_waits)
            actions.accept(seen_by_carla, db.session.get(User, carla["id"]), dt.datetime.now(dt.timezone.utc))
            db.session.commit()
        with pytest.raises(actions.Refused):  # ...and Bruno's take comes second: it finds the ticket changed
            actions.accept(seen_by_bruno, db.session.get(User, bruno["id"]), dt.datetime.now(dt.timezone.utc))
    with inbox_app.app_context():
        assert db.session.get(Ticket, ana_waits).assigned_to_id == carla["id"]


def test_a_read_receipt_turns_every_message_it_covers_to_seen_on_open_pages(inbox_app, ana_waits, meta, make_user):
    from webapp.events.models import LiveEvent
    from webapp.inbox import live

    bruno = signed_in(inbox_app, make_user, Role.AGENT, ("Vendas",), name="Bruno")
    headers = htmx(**{"X-CSRFToken": bruno.token})
    for text in ("Temos sim!", "Qual cor?"):
        bruno.post(f"/tickets/{ana_waits}/messages", data={"text": text, "mode": "message"}, headers=headers)
    with inbox_app.app_context():  # Meta accepted them (as the sender records it)
        sent = db.session.scalars(db.select(Message).where(Message.author_id == bruno.user["id"])
                                  .order_by(Message.id)).all()
        for number, message in enumerate(sent):
            message.status, message.mid = MessageStatus.SENT, f"out-{number}"
        db.session.commit()
        ids = [m.id for m in sent]
    meta(customer(read={"mid": "out-1"}))
    with inbox_app.test_request_context():
        [event] = db.session.scalars(db.select(LiveEvent).where(LiveEvent.kind == "message.seen")).all()
        [(name, fragments)] = live.frames(event, "pt_BR")
    assert name == "update"
    for message_id in ids:  # both, each as a whole message the page swaps in, marked seen
        assert re.search(rf'id="message-{message_id}".*?status-seen', fragments, re.S)
    assert fragments.count("Bruno") == 2  # each with its author
