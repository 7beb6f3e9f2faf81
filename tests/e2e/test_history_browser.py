"""Histórico in a real browser, at desktop and phone size: find a ticket by its protocol without reloading the page,
read its transcript, and come back to the same search.

The admin reads English: the assertions hold before and after the pt-BR catalog gains these texts.
"""
import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_sign_in_browser import sign_in
from webapp.extensions import db
from webapp.messages.models import Author, Direction, Message, MessageStatus
from webapp.team.models import User
from webapp.tickets import actions
from webapp.tickets.models import Contact, Ticket, TicketStatus

pytestmark = pytest.mark.browser


def closed_ticket(app, shop, user_id, protocol, igsid, name, text, opened_at):
    """A ticket of Vendas in which the customer wrote `text` and the admin closed with a comment."""
    with app.test_request_context():
        contact = Contact(connection_id=shop["connection"], igsid=igsid, name=name)
        db.session.add(contact)
        db.session.flush()
        ticket = Ticket(protocol=protocol, connection_id=shop["connection"], contact_id=contact.id,
                        department_id=shop["sales"], status=TicketStatus.QUEUED, opened_at=opened_at)
        db.session.add(ticket)
        db.session.flush()
        db.session.add(Message(connection_id=shop["connection"], contact_id=contact.id, ticket_id=ticket.id,
                               mid=f"mid-{protocol}", direction=Direction.INBOUND, author=Author.CUSTOMER, kind="text",
                               text=text, status=MessageStatus.RECEIVED, sent_at=opened_at))
        actions.close(ticket, db.session.get(User, user_id), [], "Resolvido por telefone",
                      opened_at + dt.timedelta(minutes=5))
        db.session.commit()
        return ticket.id


def test_find_a_ticket_by_protocol_and_read_its_transcript(page, screen, app, shop, make_user):
    admin = make_user("admin", name="Ana Admin", departments=(), language="en")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    closed_ticket(app, shop, admin["id"], "20990101-0007", "700001", "Carla Mendes", "Quero trocar o tamanho",
                  now - dt.timedelta(days=2))
    closed_ticket(app, shop, admin["id"], "20990102-0001", "700002", "Diego Rocha", "Chegou quebrado",
                  now - dt.timedelta(hours=3))
    sign_in(page, admin["email"])
    page.goto("/history")
    results = page.locator("#history-results")
    expect(results).to_contain_text("2 tickets")
    expect(results.get_by_role("link", name="20990102-0001")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")  # gone if the browser reloads

    page.get_by_label("Protocol").fill("20990101")
    expect(results).to_contain_text("1 ticket")
    expect(results.get_by_role("link", name="20990102-0001")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/history\?.*protocol=20990101"))  # the search is in the URL, to share
    assert page.evaluate("window.stillTheSamePage") is True
    expect(results).to_contain_text("Carla Mendes")
    page.go_back()  # the search before, asked again from the server (no customer data is kept in the browser)
    expect(results).to_contain_text("2 tickets")
    expect(page.get_by_label("Protocol")).to_have_value("")
    page.go_forward()
    expect(results).to_contain_text("1 ticket")
    expect(page.get_by_label("Protocol")).to_have_value("20990101")
    if screen == "phone":
        page.wait_for_load_state("load")  # measure layout only once the stylesheet applies
        assert page.evaluate("document.documentElement.scrollWidth") <= 360

    results.get_by_role("link", name="20990101-0007").click()
    expect(page.get_by_role("heading", name="Ticket 20990101-0007", level=1)).to_be_visible()
    expect(page.get_by_text("Quero trocar o tamanho")).to_be_visible()
    expect(page.get_by_text("Ana Admin closed the ticket")).to_be_visible()
    expect(page.locator(".history-facts")).to_contain_text("Resolvido por telefone")
    expect(page.get_by_role("link", name="Open in Chat")).to_have_count(0)  # closed: nothing left to do there
    if screen == "phone":
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.get_by_role("link", name="Back to History").click()
    expect(page.get_by_label("Protocol")).to_have_value("20990101")
    expect(page.locator("#history-results").get_by_role("link", name="20990101-0007")).to_be_visible()
