"""Live updates over server-sent events, GET /events (product.md §4, Live updates).

Most tests run against the live server (gunicorn, one gevent worker, as in production): the customer's DMs are
webhooks signed as Meta signs them, and a small EventSource (tests/live_support.py) reads the stream over a real socket.
What needs other settings (a heartbeat of a fraction of a second, a small catch-up limit) runs an in-process app
on a threaded server, with events recorded by the test itself. Nothing here waits a fixed time for an event.
"""
from __future__ import annotations

import datetime as dt
import json
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.conftest import serve
from tests.live_support import (
    ANA, BIA, CAIO, EventStream, Frame, Parser, dm_with, event_of, newest_event, signed_in, write,
)
from webapp import create_app
from webapp.database import utcnow
from webapp.events import audience, bus, stream
from webapp.events.models import LiveEvent
from webapp.extensions import db
from webapp.scheduler import jobs
from webapp.team import directory
from webapp.team.models import Role, User
from webapp.tickets.models import Ticket

ROOT = Path(__file__).resolve().parent.parent


# ---- the live server ---------------------------------------------------------------------------------


def test_only_a_signed_in_user_gets_a_stream(live_server):
    answer = requests.get(f"{live_server.url}/events", headers={"Accept": "text/event-stream"},
                          allow_redirects=False, timeout=30)
    # 401, not a redirect to the sign-in page: an EventSource stops retrying on it.
    assert answer.status_code == 401 and answer.headers["Content-Type"].startswith("text/plain")


def test_a_customer_dm_reaches_an_open_page_with_its_event_id(app, live_server, make_user, conversations, streams):
    admin = make_user("admin", departments=())
    events = streams(live_server.url, signed_in(live_server.url, admin["email"]))
    assert events.status == 200
    assert events.response.getheader("Content-Type").startswith("text/event-stream")
    assert events.response.getheader("Cache-Control") == "no-cache"
    assert events.response.getheader("X-Accel-Buffering") == "no"
    replayed, start = events.opening()
    assert replayed == [] and start == newest_event(app)  # without a resume point: live from now on

    write(live_server.url, ANA, "Oi! Tem o tênis 42? 👟")
    frames = events.until(dm_with("Oi! Tem o tênis 42? 👟"))
    event_id = event_of(app, "Oi! Tem o tênis 42? 👟")
    [dm] = [f for f in frames if f.event == "dm"]
    assert dm.id == str(event_id) and json.loads(dm.data)["ticket"] == conversations["tickets"][ANA]
    # The lists refresh too ("lists" for a new message, "tickets" when the ticket itself changed).
    refresh = {(f.id, f.data) for f in frames if f.event in ("lists", "tickets")}
    assert refresh == {(dm.id, str(conversations["tickets"][ANA]))}


def test_a_page_that_reconnects_gets_exactly_what_it_missed(app, live_server, make_user, conversations, streams):
    cookie = signed_in(live_server.url, make_user("admin", departments=())["email"])
    watcher = streams(live_server.url, cookie)  # stays connected: what a page that never left received
    watcher.opening()
    page = streams(live_server.url, cookie)
    page.opening()
    write(live_server.url, ANA, "primeira")
    seen = int(page.until(dm_with("primeira"))[-1].id)
    page.close()

    write(live_server.url, BIA, "segunda")
    write(live_server.url, CAIO, "terceira")
    event_of(app, "segunda"), event_of(app, "terceira")
    newest = newest_event(app)
    watcher.until(lambda frame: frame.id == str(newest) and frame.event == "dm")  # a DM's last frame
    missed = [f for f in watcher.received if int(f.id) > seen]
    assert sorted(json.loads(f.data)["text"] for f in missed if f.event == "dm") == ["segunda", "terceira"]

    for resumed in (streams(live_server.url, cookie, after=seen),
                    streams(live_server.url, cookie, last_event_id=seen),
                    streams(live_server.url, cookie, after=seen, last_event_id=1)):  # the larger one counts
        replayed, goes_on_from = resumed.opening()
        assert [(f.id, f.event, f.data) for f in replayed if f.event != "update"] == \
            [(f.id, f.event, f.data) for f in missed if f.event != "update"]
        assert [(f.id, f.event) for f in replayed] == [(f.id, f.event) for f in missed]
        assert goes_on_from == newest
    # A page that saw everything gets nothing again.
    assert streams(live_server.url, cookie, after=newest).opening() == ([], newest)


def test_an_agent_hears_the_tickets_of_their_departments_and_their_own(app, live_server, make_user, conversations,
                                                                        streams):
    sales_agent = make_user("agent", departments=("Vendas",))
    support_agent = make_user("agent", departments=("Suporte",))
    admin = make_user("admin", departments=())
    with app.app_context():  # Caio's ticket waits in Vendas, but it is the Suporte agent's
        db.session.get(Ticket, conversations["tickets"][CAIO]).assigned_to_id = support_agent["id"]
        db.session.commit()
    sales, support, everything = (streams(live_server.url, signed_in(live_server.url, user["email"]))
                                  for user in (sales_agent, support_agent, admin))
    for each in (sales, support, everything):
        each.opening()

    write(live_server.url, ANA, "para vendas")
    to_sales = event_of(app, "para vendas")
    sales.until(dm_with("para vendas"))
    write(live_server.url, BIA, "para suporte")
    to_support = event_of(app, "para suporte")
    # Events reach a stream in the order of their ids: had Ana's reached the Suporte agent, it would be here.
    assert str(to_sales) not in {frame.id for frame in support.until(dm_with("para suporte"))}
    write(live_server.url, CAIO, "do caio")
    assert str(to_support) not in {frame.id for frame in sales.until(dm_with("do caio"))}
    support.until(dm_with("do caio"))  # assigned to them, in another department

    heard = everything.until(dm_with("do caio"))
    assert [json.loads(f.data)["text"] for f in heard if f.event == "dm"] == ["para vendas", "para suporte", "do caio"]


def test_a_transfer_reaches_the_department_the_ticket_left(app, live_server, make_user, conversations, streams):
    from webapp.tickets import actions

    sales_agent = make_user("agent", departments=("Vendas",))
    support_agent = make_user("agent", departments=("Suporte",))
    supervisor = make_user("supervisor", departments=())
    sales, support = (streams(live_server.url, signed_in(live_server.url, user["email"]))
                      for user in (sales_agent, support_agent))
    for each in (sales, support):
        each.opening()

    # Written by this process, not the server's: the server finds it by polling, as it finds other workers' events.
    with app.app_context():
        ticket = db.session.get(Ticket, conversations["tickets"][ANA])
        actions.transfer(ticket, db.session.get(User, supervisor["id"]), directory.find_department_by_name("Suporte"),
                         None, "segredo interno", utcnow())
        db.session.commit()
        [moved] = db.session.scalars(select(LiveEvent).where(LiveEvent.kind == "ticket.transferred")).all()
        [left_row] = db.session.scalars(select(LiveEvent).where(LiveEvent.kind == "ticket.left")).all()
    assert (moved.department_id, left_row.department_id) == (conversations["support"], conversations["sales"])
    ana = str(conversations["tickets"][ANA])
    # Vendas hears that its lists changed, and nothing of what the transfer said (the comment is internal, and
    # the ticket is no longer theirs to see).
    left = sales.until(lambda frame: frame.event == "tickets")
    assert (left[-1].id, left[-1].data) == (str(left_row.id), ana)
    assert not any("segredo interno" in frame.data for frame in left)
    arrived = support.until(lambda frame: frame.event == "tickets")
    assert arrived[-1].id == str(moved.id)
    assert any("segredo interno" in frame.data for frame in arrived if frame.event == "update")

    # From now on Ana's ticket is Suporte's: Vendas hears Caio, not her.
    write(live_server.url, ANA, "agora no suporte")
    support.until(dm_with("agora no suporte"))
    write(live_server.url, CAIO, "ainda em vendas")
    assert "agora no suporte" not in [json.loads(f.data)["text"] for f in sales.until(dm_with("ainda em vendas"))
                                      if f.event == "dm"]


# ---- other settings: an in-process app on a threaded server, events recorded by the test --------------


@pytest.fixture(scope="module")
def quick(test_settings):
    """Direto with a heartbeat of 0.3 s and a catch-up limit of 3 events, served in this process."""
    app = create_app({**test_settings, "SSE_HEARTBEAT": 0.3, "SSE_CATCH_UP_LIMIT": 3, "SSE_POLL": 0.2})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.url = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    stream.stop_hub(app)


def publish(app, ticket_id: int, kind: str = "ticket.queued", **payload) -> int:
    """Record a live event about the ticket, as the code that changes a ticket does; its id."""
    with app.app_context():
        event = bus.publish(kind, ticket=db.session.get(Ticket, ticket_id), **payload)
        db.session.commit()
        return event.id


def test_an_idle_stream_gets_a_keepalive_every_heartbeat(quick, make_user, conversations, streams):
    events = streams(quick.url, signed_in(quick.url, make_user("admin", departments=())["email"]))
    events.opening()
    started = time.monotonic()
    while len(events.comments) < 2:
        events._read(time.monotonic() + 5)
    assert events.comments[:2] == ["keepalive", "keepalive"] and not events.frames
    assert time.monotonic() - started < 3  # 0.3 s apart, with room for a slow machine


@pytest.mark.parametrize("change", ["deactivated", "password changed"])
def test_a_stream_ends_when_its_user_may_no_longer_listen(quick, make_user, conversations, streams, change):
    agent = make_user("agent", departments=("Vendas",))
    cookie = signed_in(quick.url, agent["email"])
    events = streams(quick.url, cookie)
    events.opening()
    with quick.app_context():
        user = db.session.get(User, agent["id"])
        if change == "deactivated":
            user.active = False
        else:
            user.set_password("another horse 43", method="pbkdf2:sha256:1000")  # rotates the session token
        db.session.commit()
    events.wait_for_end(timeout=5)
    assert EventStream(quick.url, cookie).status == 401  # and the page's reconnect is refused


def test_a_stream_hears_what_its_user_may_see_now_while_others_listen(quick, make_user, conversations, streams):
    """Every heartbeat reloads each listener's role and departments, and a user removed among several listening is
    cut off whatever the order the hub meets them in."""
    admin, agent, leaving = (make_user("admin", departments=()), make_user("agent", departments=("Vendas",)),
                             make_user("agent", departments=("Vendas",)))
    pages = {who["id"]: streams(quick.url, signed_in(quick.url, who["email"])) for who in (admin, agent, leaving)}
    for page in pages.values():
        page.opening()
    with quick.app_context():
        directory_user = db.session.get(User, agent["id"])
        directory_user.role = Role.SUPERVISOR  # a supervisor sees every department
        db.session.get(User, leaving["id"]).active = False
        db.session.commit()
    pages[leaving["id"]].wait_for_end(timeout=5)
    # Wait for the next heartbeat's reload: the ended stream shows one happened, the next one surely applied it.
    pages[agent["id"]].comments.clear()
    while len(pages[agent["id"]].comments) < 2:
        pages[agent["id"]]._read(time.monotonic() + 5)
    support = publish(quick, conversations["tickets"][BIA])  # Bia's ticket is in Suporte
    assert pages[agent["id"]].until(lambda frame: frame.event == "tickets")[-1].id == str(support)


def test_a_page_that_missed_too_much_is_told_to_reload(quick, make_user, conversations, streams):
    cookie = signed_in(quick.url, make_user("admin", departments=())["email"])
    ana = conversations["tickets"][ANA]
    seen = publish(quick, ana)
    missed = [publish(quick, ana) for _ in range(3)]
    replayed, goes_on_from = streams(quick.url, cookie, after=seen).opening()
    assert [(f.id, f.data) for f in replayed if f.event == "tickets"] == [(str(i), str(ana)) for i in missed]
    assert {f.id for f in replayed} == {str(i) for i in missed} and goes_on_from == missed[-1]

    newest = publish(quick, ana)  # four missed: more than SSE_CATCH_UP_LIMIT
    replayed, goes_on_from = streams(quick.url, cookie, after=seen).opening()
    assert replayed == [Frame(str(newest), "resync", str(newest))] and goes_on_from == newest
    # An id this log never gave (another database, or one emptied since) is no resume point either.
    assert streams(quick.url, cookie, after=newest + 1000).opening()[0] == [Frame(str(newest), "resync", str(newest))]


def test_an_event_that_fails_to_render_is_skipped_and_the_stream_goes_on(quick, make_user, conversations, streams,
                                                                          monkeypatch):
    from webapp.inbox import live

    real = live.frames

    def frames(event, language):
        if (event.payload or {}).get("broken"):
            raise RuntimeError("a template error")
        return real(event, language)

    monkeypatch.setattr(live, "frames", frames)
    events = streams(quick.url, signed_in(quick.url, make_user("admin", departments=())["email"]))
    events.opening()
    publish(quick, conversations["tickets"][ANA], broken=True)
    fine = publish(quick, conversations["tickets"][BIA])
    assert {frame.id for frame in events.until(lambda frame: frame.event == "tickets")} == {str(fine)}


def test_events_read_while_the_database_went_away_are_read_again(quick, make_user, conversations, streams,
                                                                 monkeypatch):
    """PostgreSQL restarting half-way through a batch: its events come at the next poll, not never."""
    from sqlalchemy.exc import OperationalError

    from webapp.inbox import live

    real, failed = live.frames, []

    def frames(event, language):
        if (event.payload or {}).get("unlucky") and not failed:
            failed.append(event.id)
            raise OperationalError("SELECT contacts", {}, Exception("terminating connection due to administrator command"))
        return real(event, language)

    monkeypatch.setattr(live, "frames", frames)
    events = streams(quick.url, signed_in(quick.url, make_user("admin", departments=())["email"]))
    events.opening()
    first = publish(quick, conversations["tickets"][BIA])
    unlucky = publish(quick, conversations["tickets"][ANA], unlucky=True)
    seen = events.until(lambda frame: frame.event == "tickets" and frame.id == str(unlucky))
    assert failed == [unlucky]
    assert [frame.id for frame in seen if frame.event == "tickets"] == [str(first), str(unlucky)]


def test_a_stream_goes_on_after_the_newest_events_are_deleted(quick, make_user, conversations, streams):
    """Deleting a ticket deletes its events; SQLite then gives their ids again. Pages must not take the new
    events for ones they already saw: on SQLite they are told to reload, on PostgreSQL the ids just go on."""
    events = streams(quick.url, signed_in(quick.url, make_user("admin", departments=())["email"]))
    events.opening()
    first = publish(quick, conversations["tickets"][ANA])
    events.until(lambda frame: frame.event == "tickets" and frame.id == str(first))
    with quick.app_context():
        db.session.execute(LiveEvent.__table__.delete().where(LiveEvent.id == first))
        db.session.commit()
    again = publish(quick, conversations["tickets"][BIA])
    frame = events.until(lambda frame: frame.event in ("tickets", "resync"))[-1]
    if again == first:  # SQLite
        assert frame == Frame(str(again), "resync", str(again))
    else:
        assert (frame.id, frame.event, frame.data) == (str(again), "tickets", str(conversations["tickets"][BIA]))
    after = publish(quick, conversations["tickets"][CAIO])
    assert events.until(lambda frame: frame.event == "tickets")[-1] == Frame(str(after), "tickets",
                                                                              str(conversations["tickets"][CAIO]))


def test_data_of_several_lines_is_sent_as_several_data_lines():
    encoded = audience.encode(7, [("update", "<li>\r\n  um\n\n  dois\r</li>\n"), ("tickets", "3")])
    assert encoded.count(b"data: ") == 7 and b"\r" not in encoded
    parser = Parser()
    parser.feed(encoded)
    assert list(parser.frames) == [Frame("7", "update", "<li>\n  um\n\n  dois\n</li>\n"), Frame("7", "tickets", "3")]


def test_old_live_events_are_forgotten_but_the_newest_is_kept(app, conversations):
    long_ago = utcnow() - jobs.LIVE_EVENTS_KEPT - dt.timedelta(minutes=1)
    with app.app_context():
        for kind in ("ticket.queued", "ticket.accepted", "ticket.closed"):
            bus.publish(kind, ticket=db.session.get(Ticket, conversations["tickets"][ANA])).created_at = long_ago
        db.session.commit()
        jobs.forget_live_events(app)
        assert [e.kind for e in db.session.scalars(select(LiveEvent))] == ["ticket.closed"]
        recent = bus.publish("ticket.new", ticket=db.session.get(Ticket, conversations["tickets"][BIA]))
        db.session.commit()
        jobs.forget_live_events(app)
        assert [e.id for e in db.session.scalars(select(LiveEvent))] == [recent.id]


def test_stopping_the_server_ends_its_open_streams_at_once(app, test_settings, make_user, tmp_path):
    """gunicorn waits up to graceful_timeout (5 s) for open requests on SIGTERM: streams must not make it wait."""
    server = serve(test_settings, tmp_path / "server.log", DIRETO_SCHEDULER="0", DIRETO_WORKERS="0", META_SANDBOX="0")
    try:
        cookie = signed_in(server.url, make_user("admin", departments=())["email"])
        open_streams = [EventStream(server.url, cookie) for _ in range(3)]
        for each in open_streams:
            each.opening()
        asked = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        for each in open_streams:
            each.wait_for_end(timeout=10)
            each.close()  # as a browser's reconnect would (answered 503 and closed): no idle keep-alive left
        server.process.wait(timeout=10)
        assert time.monotonic() - asked < 4, server.log()
        assert "graceful timeout" not in server.log()
    finally:
        server.stop()
