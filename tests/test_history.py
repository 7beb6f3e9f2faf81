"""Histórico: every ticket a user may see, closed or not, found by period, department, agent, connection, subject,
protocol and status, a page at a time, and each ticket's full transcript.

The search is tested as plain rules (webapp.history.search) and over HTTP. People here read English, so the
assertions hold before and after the pt-BR catalog gains these texts.
"""
import datetime as dt
import itertools
import re

import pytest
from sqlalchemy import event

from tests.conftest import TEST_PASSWORD, AuthActions, htmx
from tests.inbound_support import customer
from webapp.connections.models import Connection, ConnectionStatus
from webapp.extensions import db
from webapp.history import search
from webapp.messages.models import Author, Direction, Message, MessageStatus
from webapp.team.models import Role, User
from webapp.tickets import actions
from webapp.tickets.models import Contact, Ticket, TicketStatus
from webapp.workspace.models import Subject
from webapp.workspace.store import company_settings

SAO_PAULO = search.zone_named("America/Sao_Paulo")
UTC = dt.timezone.utc
_igsids = itertools.count(9_000_000)


def local(year, month, day, hour=12, minute=0) -> dt.datetime:
    """A moment given in São Paulo's time (the company's default zone), as the database keeps it (UTC)."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SAO_PAULO).astimezone(UTC)


def add_ticket(connection_id, department_id, protocol, opened_at, *, status=TicketStatus.CLOSED, agent_id=None,
               name=None, username=None, subjects=()) -> int:
    """A ticket as History finds it weeks later; inside an app context."""
    contact = Contact(connection_id=connection_id, igsid=str(next(_igsids)), name=name, username=username)
    db.session.add(contact)
    db.session.flush()
    ticket = Ticket(protocol=protocol, connection_id=connection_id, contact_id=contact.id, department_id=department_id,
                    status=status, assigned_to_id=agent_id, opened_at=opened_at,
                    closed_at=opened_at + dt.timedelta(hours=1) if status == TicketStatus.CLOSED else None)
    ticket.subjects = list(subjects)
    db.session.add(ticket)
    db.session.commit()
    return ticket.id


def signed_in(app, make_user, role, departments=(), name=None):
    client = app.test_client()
    user = make_user(role, departments=departments, name=name, language="en")
    assert AuthActions(client).login(user["email"], TEST_PASSWORD).status_code == 302
    client.user = user
    return client


def text_of(response) -> str:
    return response.get_data(as_text=True)


def protocols_in(page: str) -> list[str]:
    return re.findall(r'class="protocol history-open" href="[^"]*">([^<]+)</a>', page)


@pytest.fixture
def history(inbox_app, shop, make_user):
    """Two connections, agents of Vendas and Suporte, two subjects, and tickets of March 2026:

    | protocol      | opened (São Paulo)  | connection | department | agent | status | subjects |
    | 20260302-0001 | 2 Mar 09:00         | Loja Demo  | Vendas     | Bruno | closed | Troca    |
    | 20260305-0001 | 5 Mar 15:00         | Café       | Vendas     | Carla | closed | Entrega  |
    | 20260310-0001 | 10 Mar 23:30        | Loja Demo  | Suporte    | Sílvia| closed | Troca    |
    | 20260311-0001 | 11 Mar 00:30        | Loja Demo  | Vendas     |       | queued |          |
    | 20260320-0001 | 20 Mar 10:00        | Café       | Suporte    | Bruno | open   |          |
    """
    people = {name: make_user("agent", name=name, departments=departments, language="en")["id"]
              for name, departments in (("Bruno", ("Vendas",)), ("Carla", ("Vendas",)), ("Sílvia", ("Suporte",)))}
    with inbox_app.app_context():
        cafe = Connection(name="Café", default_department_id=shop["sales"], bot_id=shop["bot"],
                          status=ConnectionStatus.ACTIVE)
        exchange, delivery = Subject(name="Troca", name_key="troca"), Subject(name="Entrega", name_key="entrega")
        db.session.add_all([cafe, exchange, delivery])
        db.session.commit()
        shop_id, sales, support = shop["connection"], shop["sales"], shop["support"]
        tickets = {
            "0302": add_ticket(shop_id, sales, "20260302-0001", local(2026, 3, 2, 9), agent_id=people["Bruno"],
                               name="Ana Souza", username="ana.souza", subjects=[exchange]),
            "0305": add_ticket(cafe.id, sales, "20260305-0001", local(2026, 3, 5, 15), agent_id=people["Carla"],
                               name="Bia Lima", subjects=[delivery]),
            "0310": add_ticket(shop_id, support, "20260310-0001", local(2026, 3, 10, 23, 30), agent_id=people["Sílvia"],
                               username="cadu", subjects=[exchange]),
            "0311": add_ticket(shop_id, sales, "20260311-0001", local(2026, 3, 11, 0, 30), status=TicketStatus.QUEUED),
            "0320": add_ticket(cafe.id, support, "20260320-0001", local(2026, 3, 20, 10), status=TicketStatus.OPEN,
                               agent_id=people["Bruno"]),
        }
        return {**shop, **people, "cafe": cafe.id, "exchange": exchange.id, "delivery": delivery.id,
                "tickets": tickets}


def found(inbox_app, user_id, **args) -> list[str]:
    """Protocols `search.find` gives this user for these URL arguments (March 2026 unless said otherwise)."""
    with inbox_app.app_context():
        filters = search.Filters.parse({"from": "2026-03-01", "to": "2026-03-31", **args}, today=dt.date(2026, 3, 31))
        page = search.find(db.session.get(User, user_id), filters, SAO_PAULO)
        assert page.total == len(page.rows)
        return [row.ticket.protocol for row in page.rows]


# ---- the filters, as plain rules ----------------------------------------------------------------------------


def test_filters_fall_back_to_the_last_30_days_and_ignore_what_they_cannot_read():
    today = dt.date(2026, 3, 31)
    default = search.Filters.parse({}, today=today)
    assert (default.date_from, default.date_to) == (dt.date(2026, 3, 2), today)
    assert default.status == search.Status.ALL and default.query_args() == {"from": "2026-03-02", "to": "2026-03-31"}
    odd = search.Filters.parse({"from": "yesterday", "to": "0001-01-01", "status": "lost", "department": "1 OR 1=1",
                                "agent": "-3", "subject": "²", "protocol": " 2026 03 ", "contact": "  @ana   souza "},
                               today=today)
    assert (odd.date_from, odd.date_to, odd.status, odd.department_id, odd.agent_id, odd.subject_id) == \
        (dt.date(2026, 3, 2), today, search.Status.ALL, None, None, None)
    assert (odd.protocol, odd.contact) == ("202603", "@ana souza")
    swapped = search.Filters.parse({"from": "2026-03-20", "to": "2026-03-10"}, today=today)
    assert (swapped.date_from, swapped.date_to) == (dt.date(2026, 3, 10), dt.date(2026, 3, 20))


def test_the_period_is_made_of_the_companys_local_days():
    filters = search.Filters.parse({"from": "2026-03-10", "to": "2026-03-10"}, today=dt.date(2026, 3, 31))
    assert filters.window(SAO_PAULO) == (dt.datetime(2026, 3, 10, 3, tzinfo=UTC), dt.datetime(2026, 3, 11, 3, tzinfo=UTC))
    tokyo = search.zone_named("Asia/Tokyo")
    assert filters.window(tokyo) == (dt.datetime(2026, 3, 9, 15, tzinfo=UTC), dt.datetime(2026, 3, 10, 15, tzinfo=UTC))
    assert search.zone_named("Mars/Olympus") == SAO_PAULO  # an unknown stored name falls back to the default


def test_each_filter_narrows_the_list(inbox_app, history, make_user):
    admin = make_user("admin", departments=(), language="en")["id"]
    assert found(inbox_app, admin) == ["20260320-0001", "20260311-0001", "20260310-0001", "20260305-0001",
                                       "20260302-0001"]  # newest first
    assert found(inbox_app, admin, **{"from": "2026-03-05", "to": "2026-03-10"}) == ["20260310-0001", "20260305-0001"]
    assert found(inbox_app, admin, status="closed") == ["20260310-0001", "20260305-0001", "20260302-0001"]
    assert found(inbox_app, admin, status="open") == ["20260320-0001", "20260311-0001"]
    assert found(inbox_app, admin, department=str(history["support"])) == ["20260320-0001", "20260310-0001"]
    assert found(inbox_app, admin, agent=str(history["Bruno"])) == ["20260320-0001", "20260302-0001"]
    assert found(inbox_app, admin, connection=str(history["cafe"])) == ["20260320-0001", "20260305-0001"]
    assert found(inbox_app, admin, subject=str(history["exchange"])) == ["20260310-0001", "20260302-0001"]
    assert found(inbox_app, admin, protocol="2026031") == ["20260311-0001", "20260310-0001"]
    assert found(inbox_app, admin, protocol="20260305-0001") == ["20260305-0001"]
    assert found(inbox_app, admin, protocol="2026%") == []  # a wildcard is a character, not a pattern
    assert found(inbox_app, admin, contact="SOUZA") == ["20260302-0001"]
    assert found(inbox_app, admin, contact="@cadu") == ["20260310-0001"]
    assert found(inbox_app, admin, department=str(history["sales"]), status="closed",
                 connection=str(history["connection"])) == ["20260302-0001"]


def test_a_ticket_at_2330_local_time_belongs_to_that_day(inbox_app, history, make_user):
    admin = make_user("admin", departments=(), language="en")["id"]
    # 10 March 23:30 in São Paulo is 11 March 02:30 UTC; 11 March 00:30 is 03:30 UTC.
    assert found(inbox_app, admin, **{"from": "2026-03-10", "to": "2026-03-10"}) == ["20260310-0001"]
    assert found(inbox_app, admin, **{"from": "2026-03-11", "to": "2026-03-11"}) == ["20260311-0001"]
    client = signed_in(inbox_app, make_user, Role.ADMIN)
    page = text_of(client.get("/history?from=2026-03-10&to=2026-03-10"))
    assert protocols_in(page) == ["20260310-0001"] and "10/03/2026 23:30" in page
    with inbox_app.app_context():  # the company moves to Tokyo: the same UTC moment is 11 March there
        company_settings().time_zone = "Asia/Tokyo"
        db.session.commit()
    assert protocols_in(text_of(client.get("/history?from=2026-03-11&to=2026-03-11"))) == \
        ["20260311-0001", "20260310-0001"]


def test_an_agent_sees_their_departments_and_their_own_tickets_only(inbox_app, history):
    # Bruno (Vendas) sees Vendas' tickets and the Suporte ticket assigned to him; never Sílvia's Suporte ticket.
    assert found(inbox_app, history["Bruno"]) == ["20260320-0001", "20260311-0001", "20260305-0001", "20260302-0001"]
    assert found(inbox_app, history["Bruno"], department=str(history["support"])) == ["20260320-0001"]
    assert found(inbox_app, history["Sílvia"]) == ["20260320-0001", "20260310-0001"]
    assert found(inbox_app, history["Sílvia"], protocol="20260302") == []
    with inbox_app.app_context():
        options = search.choices(db.session.get(User, history["Bruno"]))
        assert [d.name for d in options.departments] == ["Vendas"]
        assert [a.name for a in options.agents] == ["Bruno", "Carla"]  # people of his departments, not Sílvia
        everything = search.choices(db.session.get(User, history["Sílvia"]))
        assert [c.name for c in everything.connections] == ["Café", "Loja Demo"]
        assert [s.name for s in everything.subjects] == ["Entrega", "Troca"]


def test_an_agent_gets_404_for_another_departments_transcript(inbox_app, history, make_user):
    bruno = inbox_app.test_client()
    with inbox_app.app_context():
        email = db.session.get(User, history["Bruno"]).email
    assert AuthActions(bruno).login(email, TEST_PASSWORD).status_code == 302
    page = text_of(bruno.get("/history?from=2026-03-01&to=2026-03-31"))
    assert "20260310-0001" not in page and "20260302-0001" in page
    assert f'<option value="{history["support"]}"' not in page  # the department filter offers his departments only
    assert bruno.get(f"/history/{history['tickets']['0310']}").status_code == 404
    assert bruno.get(f"/history/{history['tickets']['0320']}").status_code == 200  # Suporte, but his
    assert bruno.get("/history/999999").status_code == 404
    assert inbox_app.test_client().get("/history").status_code == 302  # signed out: to the login page


def test_pages_follow_each_other_without_gaps_or_repeats(inbox_app, shop, make_user):
    admin = make_user("admin", departments=(), language="en")["id"]
    with inbox_app.app_context():
        same_moment = local(2026, 3, 15, 10)
        for n in range(7):  # three tickets opened at the very same moment: the id breaks the tie
            moment = same_moment if n in (2, 3, 4) else local(2026, 3, 10 + n, 8)
            add_ticket(shop["connection"], shop["sales"], f"P{n}", moment)
        user = db.session.get(User, admin)
        filters = search.Filters.parse({"from": "2026-03-01", "to": "2026-03-31"}, today=dt.date(2026, 3, 31))
        everything = [r.ticket.protocol for r in search.find(user, filters, SAO_PAULO, size=100).rows]
        pages, page = [], search.find(user, filters, SAO_PAULO, size=2)
        while True:
            pages.append([r.ticket.protocol for r in page.rows])
            assert page.total == 7
            if page.older is None:
                break
            page = search.find(user, filters, SAO_PAULO, before=page.older, size=2)
        assert sum(pages, []) == everything and [len(p) for p in pages] == [2, 2, 2, 1]
        back = []
        while page.newer is not None:
            page = search.find(user, filters, SAO_PAULO, after=page.newer, size=2)
            back.append([r.ticket.protocol for r in page.rows])
        assert back == list(reversed(pages[:-1]))
        assert search.find(user, filters, SAO_PAULO, before=987654, size=2).rows[0].ticket.protocol == everything[0]


def test_the_list_is_paged_by_50_over_http(inbox_app, shop, make_user):
    client = signed_in(inbox_app, make_user, Role.SUPERVISOR)
    with inbox_app.app_context():
        start = local(2026, 3, 1, 8)
        for n in range(55):
            add_ticket(shop["connection"], shop["sales"], f"20260301-{n:04d}", start + dt.timedelta(minutes=n))
    first = text_of(client.get("/history?from=2026-03-01&to=2026-03-31"))
    assert "55 tickets" in first
    assert protocols_in(first)[:2] == ["20260301-0054", "20260301-0053"] and len(protocols_in(first)) == 50
    older = re.search(r'href="(/history\?[^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "from=2026-03-01" in older  # the filters travel with the page
    second = text_of(client.get(older, headers=htmx()))
    assert protocols_in(second) == [f"20260301-{n:04d}" for n in range(4, -1, -1)]
    assert "<html" not in second and 'rel="prev"' in second and 'rel="next"' not in second


def test_the_list_reads_a_fixed_number_of_queries_whatever_its_length(inbox_app, shop, make_user):
    admin = make_user("admin", departments=(), language="en")["id"]
    with inbox_app.app_context():
        exchange = Subject(name="Troca", name_key="troca")
        db.session.add(exchange)
        agent = db.session.scalar(db.select(User).where(User.id == admin))
        for n in range(40):
            add_ticket(shop["connection"], shop["sales"], f"Q{n}", local(2026, 3, 5, 8) + dt.timedelta(minutes=n),
                       agent_id=agent.id, name=f"Cliente {n}", subjects=[exchange])
        filters = search.Filters.parse({"from": "2026-03-01", "to": "2026-03-31"}, today=dt.date(2026, 3, 31))

        def statements(size):
            db.session.expire_all()
            user = db.session.get(User, admin)
            seen = []
            listener = lambda *args: seen.append(args[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                page = search.find(user, filters, SAO_PAULO, size=size)
                assert all(row.subjects == ["Troca"] and row.agent == agent.name for row in page.rows)
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
            return len(seen)

        assert statements(2) == statements(40)


def test_htmx_gets_the_results_alone_and_a_browser_the_whole_page(inbox_app, history, make_user):
    client = signed_in(inbox_app, make_user, Role.ADMIN)
    page = client.get("/history?from=2026-03-01&to=2026-03-31&protocol=20260305")
    body = text_of(page)
    assert page.status_code == 200 and "HX-Request" in page.headers["Vary"]
    assert re.search(r'<form[^>]*id="history-filters"[^>]*method="get"', body)
    assert 'value="20260305"' in body and protocols_in(body) == ["20260305-0001"]
    fragment = text_of(client.get("/history?from=2026-03-01&to=2026-03-31&protocol=20260305", headers=htmx()))
    assert 'id="history-results"' in fragment
    assert "<form" not in fragment and "<html" not in fragment and protocols_in(fragment) == ["20260305-0001"]
    restored = text_of(client.get("/history", headers=htmx(**{"HX-History-Restore-Request": "true"})))
    assert "<html" in restored  # htmx restoring a page it no longer has in memory gets all of it


def test_empty_results_say_what_to_do(inbox_app, history, make_user):
    client = signed_in(inbox_app, make_user, Role.ADMIN)
    assert "No tickets in this period" in text_of(client.get("/history?from=2025-01-01&to=2025-01-31"))
    none = text_of(client.get("/history?from=2026-03-01&to=2026-03-31&protocol=999"))
    assert "No ticket matches these filters" in none and "0 tickets" in none


def test_html_in_a_customers_name_and_text_is_shown_as_text(inbox_app, shop, meta, make_user):
    meta(customer({"mid": "m-1", "text": "<img src=x onerror=alert(1)> tem o 42?"}))
    with inbox_app.app_context():
        ticket = db.session.scalar(db.select(Ticket))
        contact = db.session.get(Contact, ticket.contact_id)
        contact.name, contact.username = "<script>alert('nome')</script>", "x\"><b>u"
        db.session.commit()
        ticket_id = ticket.id
    client = signed_in(inbox_app, make_user, Role.ADMIN)
    listed = text_of(client.get("/history"))
    assert "&lt;script&gt;alert(&#39;nome&#39;)&lt;/script&gt;" in listed and "<script>alert" not in listed
    assert "@x&#34;&gt;&lt;b&gt;u" in listed and '"><b>u' not in listed
    transcript = text_of(client.get(f"/history/{ticket_id}"))
    assert "&lt;img src=x onerror=alert(1)&gt; tem o 42?" in transcript and "<img src=x" not in transcript
    assert "&lt;script&gt;alert(&#39;nome&#39;)&lt;/script&gt;" in transcript and "<script>alert" not in transcript


@pytest.fixture
def attended(inbox_app, shop, meta, make_user):
    """Ana wrote, chose Vendas; Bruno took the ticket, answered (Instagram refused it), commented and closed it."""
    meta(customer({"mid": "m-1", "text": "Oi! Tem o 42?"}))
    meta(customer({"mid": "m-2", "text": "1"}))
    bruno = make_user("agent", name="Bruno", departments=("Vendas",), language="en")
    with inbox_app.test_request_context():
        exchange = Subject(name="Troca", name_key="troca")
        db.session.add(exchange)
        db.session.commit()
        ticket, user = db.session.scalar(db.select(Ticket)), db.session.get(User, bruno["id"])
        now = dt.datetime.now(UTC)
        actions.accept(ticket, user, now)
        db.session.add(Message(connection_id=ticket.connection_id, contact_id=ticket.contact_id, ticket_id=ticket.id,
                               direction=Direction.OUTBOUND, author=Author.AGENT, author_id=user.id, kind="text",
                               text="Temos sim!", status=MessageStatus.FAILED, error_code="551",
                               sent_at=now + dt.timedelta(seconds=1)))
        actions.comment(ticket, user, "Cliente quer trocar", now + dt.timedelta(seconds=2))
        db.session.commit()
        return {"ticket": ticket.id, "bruno": bruno, "exchange": exchange.id, "user": user.id}


def test_the_transcript_shows_the_facts_every_message_and_every_event(inbox_app, attended, make_user):
    client = signed_in(inbox_app, make_user, Role.SUPERVISOR)
    ticket_id = attended["ticket"]
    still_open = text_of(client.get(f"/history/{ticket_id}"))
    assert f'href="/tickets/{ticket_id}"' in still_open  # not closed yet: it can be opened in the Chat
    with inbox_app.test_request_context():
        ticket = db.session.get(Ticket, ticket_id)
        actions.close(ticket, db.session.get(User, attended["user"]), [attended["exchange"]],
                      "Trocou o 42 pelo 43", dt.datetime.now(UTC) + dt.timedelta(seconds=3))
        db.session.commit()
        protocol = ticket.protocol
    page = text_of(client.get(f"/history/{ticket_id}"))
    assert f"Ticket {protocol}" in page and "Loja Demo" in page and "Vendas" in page and "Bruno" in page
    assert "Oi! Tem o 42?" in page and "Temos sim!" in page  # the customer's and the agent's messages
    for line in (f"Ticket {protocol} opened", "The bot sent the ticket to Vendas", "Bruno took the ticket",
                 "Internal comment by Bruno", "Cliente quer trocar", "Bruno closed the ticket"):
        assert line in page, line
    assert "Closing comment" in page and "Trocou o 42 pelo 43" in page and "Troca" in page
    assert "by Bruno" in page
    assert f'href="/tickets/{ticket_id}"' not in page  # closed: nothing to do in the Chat
    assert "/retry" not in page and "Try again" not in page  # a transcript is read-only
    order = [page.index(text) for text in ("Oi! Tem o 42?", "Bruno took the ticket", "Temos sim!",
                                           "Cliente quer trocar", "Bruno closed the ticket")]
    assert order == sorted(order)


def test_the_transcript_link_keeps_the_filters_for_the_way_back(inbox_app, history, make_user):
    client = signed_in(inbox_app, make_user, Role.ADMIN)
    page = text_of(client.get("/history?from=2026-03-01&to=2026-03-31&status=closed&protocol=20260305"))
    link = re.search(r'href="(/history/\d+\?[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "status=closed" in link and "protocol=20260305" in link
    transcript = text_of(client.get(link))
    back = re.search(r'class="history-back" href="([^"]*)"', transcript).group(1).replace("&amp;", "&")
    assert back.startswith("/history?") and "status=closed" in back and "protocol=20260305" in back
