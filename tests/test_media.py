"""Customer media: downloaded from Meta's CDN (the sandbox's, over real HTTP) into MEDIA_ROOT within the size cap,
retried without loops, forgotten when unsent, and served only to users who may see the ticket (others: 404).

Shapes the sandbox's CDN never produces (a body without Content-Length, a 500, a download held open) come from a
tiny HTTP server in this module; nothing of our own storage is mocked.
"""
from __future__ import annotations

import datetime as dt
import http.server
import secrets
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.conftest import AuthActions, run_concurrently
from webapp import create_app
from webapp.bots import store as bot_store
from webapp.connections.models import Connection, ConnectionStatus
from webapp.database import utcnow
from webapp.extensions import db
from webapp.messages import media
from webapp.messages.models import Author, Direction, MediaFile, MediaStatus, Message, MessageStatus
from webapp.team import directory
from webapp.team.models import Role, User
from webapp.tickets import access
from webapp.tickets.models import Contact, Ticket, TicketStatus

PHOTO = bytes(range(256)) * 8  # what the local server calls a PNG: the bytes only have to come back intact


# ---- the app, the files, the ticket --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media_app(test_settings):
    """Direto with the media blueprint (registered here until create_app does it)."""
    app = create_app(test_settings)
    if "messages" not in app.blueprints:
        from webapp.messages.views import bp

        app.register_blueprint(bp)
    return app


@pytest.fixture
def media_root(media_app, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "media"
    monkeypatch.setitem(media_app.config, "MEDIA_ROOT", str(root))
    return root


def open_ticket(connection_id: int, department_id: int, igsid: str, **fields) -> Ticket:
    contact = Contact(connection_id=connection_id, igsid=igsid)
    db.session.add(contact)
    db.session.flush()
    ticket = Ticket(protocol=secrets.token_hex(6), connection_id=connection_id, contact_id=contact.id,
                    department_id=department_id, status=fields.pop("status", TicketStatus.QUEUED), **fields)
    db.session.add(ticket)
    db.session.commit()
    return ticket


@pytest.fixture
def world(media_app, media_root):
    """A connection and a ticket queued in Vendas (make_user creates the other departments it names)."""
    with media_app.app_context():
        vendas = directory.ensure_department("Vendas")
        bot = bot_store.ensure_default_bot(vendas.id, menu=[("Vendas", vendas.id)])
        # No Instagram account id: the live server's webhooks never feed this connection.
        connection = Connection(name="Loja", default_department_id=vendas.id, bot_id=bot.id,
                                status=ConnectionStatus.ACTIVE)
        db.session.add(connection)
        db.session.commit()
        ticket = open_ticket(connection.id, vendas.id, "8532027536890212")
        return {"connection": connection.id, "contact": ticket.contact_id, "ticket": ticket.id, "vendas": vendas.id}


def add_media(app, world, url: str | None, kind: str = "image") -> int:
    """An inbound message with one attachment waiting to be downloaded, as the webhook processor stores it."""
    with app.app_context():
        message = Message(connection_id=world["connection"], contact_id=world["contact"], ticket_id=world["ticket"],
                          mid=f"aWdf{secrets.token_urlsafe(12)}", direction=Direction.INBOUND,
                          author=Author.CUSTOMER, kind=kind, status=MessageStatus.RECEIVED,
                          attachments=[{"type": kind, "url": url}])
        message.media = [MediaFile(kind=kind, source_url=url)]
        db.session.add(message)
        db.session.commit()
        return message.media[0].id


def customer_sends(sandbox, kind: str) -> str:
    """Ana sends a photo, video, audio or PDF; the signed CDN link Meta's webhook would carry."""
    item = sandbox.post("messages", customer="ana", kind=kind)["item"]
    return item["message"]["attachments"][0]["payload"]["url"]


def drain(app) -> int:
    with app.app_context():  # as the worker runs it: its own session, removed afterwards
        return media.drain(app)


def row(app, media_id: int) -> MediaFile:
    with app.app_context():
        return db.session.get(MediaFile, media_id)


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def signed_in(app, make_user, role, departments=()):
    client = app.test_client()
    user = make_user(role, departments=departments)
    assert AuthActions(client).login(user["email"]).status_code == 302
    client.user = user
    return client


@pytest.fixture
def agent(media_app, make_user):
    return signed_in(media_app, make_user, Role.AGENT, departments=("Vendas",))


# ---- a small HTTP server for what the sandbox's CDN never does -------------------------------------------------


class Origin(http.server.BaseHTTPRequestHandler):
    """/boom answers 500; /stream sends 40 photos without a length; /held waits for `release`; others: a photo."""

    hits: dict[str, int] = {}
    arrived, release = threading.Event(), threading.Event()

    def do_GET(self):
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path == "/boom":
            return self.send_error(500)
        if self.path == "/held":
            self.arrived.set()
            self.release.wait(30)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        if self.path != "/stream":  # without a length the body ends when the connection closes
            self.send_header("Content-Length", str(len(PHOTO)))
        self.end_headers()
        self.wfile.write(PHOTO * (40 if self.path == "/stream" else 1))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origin():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Origin)
    server.daemon_threads = True
    server.url = lambda path: f"http://127.0.0.1:{server.server_address[1]}{path}"
    server.hits, server.arrived, server.release = Origin.hits, Origin.arrived, Origin.release
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


# ---- downloading ------------------------------------------------------------------------------------------


def test_an_image_is_kept_under_media_root_and_served_to_an_agent_of_the_department(
        media_app, world, media_root, sandbox, agent):
    url = customer_sends(sandbox, "image")
    media_id = add_media(media_app, world, url)

    assert drain(media_app) == 1
    item = row(media_app, media_id)
    assert (item.status, item.content_type, item.attempts, item.error) == (MediaStatus.STORED, "image/png", 1, None)
    now = utcnow()
    assert item.path.startswith(f"{now:%Y}/{now:%m}/") and item.path.endswith(".png")
    original = requests.get(url, timeout=10).content
    assert (media_root / item.path).read_bytes() == original and item.size == len(original)
    assert files_under(media_root) == [media_root / item.path]  # no partial file left behind

    response = agent.get(f"/media/{media_id}")
    assert response.status_code == 200
    assert response.mimetype == "image/png" and response.data == original
    assert response.headers["Content-Disposition"].startswith("inline")
    assert (response.headers["X-Content-Type-Options"], response.headers["Content-Security-Policy"]) == (
        "nosniff", "sandbox")  # a hostile file runs no script in our origin
    assert response.headers["Cache-Control"].startswith("private, max-age=")
    assert drain(media_app) == 0  # nothing left to do

    (media_root / item.path).unlink()  # a file lost on disk is not served
    assert agent.get(f"/media/{media_id}").status_code == 404


@pytest.mark.parametrize("kind, content_type, disposition", [
    ("video", "video/mp4", "inline"),
    ("audio", "audio/wav", "inline"),
    ("file", "application/pdf", "attachment"),
])
def test_each_kind_keeps_its_content_type_and_only_media_play_inline(
        media_app, world, media_root, sandbox, agent, kind, content_type, disposition):
    media_id = add_media(media_app, world, customer_sends(sandbox, kind), kind=kind)
    assert drain(media_app) == 1
    response = agent.get(f"/media/{media_id}")
    assert response.status_code == 200 and response.mimetype == content_type
    assert response.headers["Content-Disposition"].split(";")[0] == disposition
    if disposition == "attachment":
        assert f"filename=direto-file-{media_id}.pdf" in response.headers["Content-Disposition"]
    assert response.headers["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize("length", ["declared", "not declared"])
def test_a_file_over_the_cap_is_too_large_and_nothing_stays_on_disk(
        media_app, world, media_root, sandbox, origin, monkeypatch, agent, length):
    monkeypatch.setitem(media_app.config, "MEDIA_MAX_BYTES", 1000)
    url = customer_sends(sandbox, "video") if length == "declared" else origin.url("/stream")
    media_id = add_media(media_app, world, url, kind="video")
    assert drain(media_app) == 1
    item = row(media_app, media_id)
    assert (item.status, item.path, item.error) == (MediaStatus.TOO_LARGE, None, "larger than 1000 bytes")
    assert files_under(media_root) == []  # the partial file went too
    assert agent.get(f"/media/{media_id}").status_code == 404


def tampered(url: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return parts._replace(query=urlencode({**query, "signature": "0" * len(query["signature"])})).geturl()


@pytest.mark.parametrize("spoil", ["tamper", "expire"])
def test_a_link_the_cdn_refuses_fails_at_once_without_retries(media_app, world, media_root, sandbox, spoil):
    url = customer_sends(sandbox, "image")
    if spoil == "expire":
        sandbox.post("clock", advance_seconds=4 * 24 * 3600)  # past the CDN link's lifetime
    media_id = add_media(media_app, world, tampered(url) if spoil == "tamper" else url)

    assert drain(media_app) == 1
    item = row(media_app, media_id)
    assert (item.status, item.attempts) == (MediaStatus.FAILED, 1) and "403" in item.error
    assert drain(media_app) == 0 and row(media_app, media_id).attempts == 1
    assert files_under(media_root) == []


def test_a_transient_failure_waits_for_its_turn_and_is_given_up_after_the_last_attempt(
        media_app, world, media_root, origin):
    media_id = add_media(media_app, world, origin.url("/boom"))
    assert drain(media_app) == 1
    item = row(media_app, media_id)
    assert (item.status, item.attempts, item.error) == (MediaStatus.PENDING, 1, "HTTP 500")
    assert drain(media_app) == 0  # not due yet: a failing link is no hot loop

    def backdate(seconds: int, attempts: int | None = None):
        with media_app.app_context():
            stored = db.session.get(MediaFile, media_id)
            stored.created_at = utcnow() - dt.timedelta(seconds=seconds)
            if attempts is not None:
                stored.attempts = attempts
            db.session.commit()

    backdate(media.RETRY_AFTER[1] + 1)
    assert drain(media_app) == 1 and drain(media_app) == 0  # the second try, and not the third yet
    assert row(media_app, media_id).attempts == 2

    backdate(media.RETRY_AFTER[-1] + 1, attempts=media.MAX_ATTEMPTS - 1)
    assert drain(media_app) == 1
    item = row(media_app, media_id)
    assert (item.status, item.attempts) == (MediaStatus.FAILED, media.MAX_ATTEMPTS)
    assert item.error == f"gave up after {media.MAX_ATTEMPTS} attempts: HTTP 500"
    assert drain(media_app) == 0


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/photo.png", None])
def test_only_http_links_are_fetched(media_app, world, media_root, url):
    media_id = add_media(media_app, world, url)
    assert drain(media_app) == 1
    item = row(media_app, media_id)
    assert item.status == MediaStatus.FAILED and item.error == "not an http(s) link"
    assert files_under(media_root) == []


def test_a_story_mention_is_never_downloaded(media_app, world, media_root, origin):
    media_id = add_media(media_app, world, origin.url("/story.png"), kind="story_mention")
    assert drain(media_app) == 1
    assert row(media_app, media_id).status == MediaStatus.LINK_ONLY
    assert "/story.png" not in origin.hits and files_under(media_root) == []


def test_drains_racing_in_several_workers_download_each_file_once(media_app, world, media_root, origin):
    paths = [f"/race-{n}.png" for n in range(3)]
    ids = [add_media(media_app, world, origin.url(path)) for path in paths]
    handled = run_concurrently(media_app, lambda: media.drain(media_app), threads=4)
    assert sum(handled) == len(ids)
    assert [origin.hits.get(path) for path in paths] == [1, 1, 1]
    assert all(row(media_app, media_id).status == MediaStatus.STORED for media_id in ids)
    assert len(files_under(media_root)) == len(ids)


# ---- unsend -------------------------------------------------------------------------------------------------


def forget_message_of(app, media_id: int) -> int:
    with app.app_context():
        message = db.session.get(MediaFile, media_id).message
        message.deleted_at = utcnow()
        deleted = media.forget(message)
        db.session.commit()
        return deleted


def test_forget_deletes_the_kept_file_and_the_link_answers_404(media_app, world, media_root, sandbox, agent):
    media_id = add_media(media_app, world, customer_sends(sandbox, "image"))
    drain(media_app)
    assert agent.get(f"/media/{media_id}").status_code == 200

    assert forget_message_of(media_app, media_id) == 1
    assert files_under(media_root) == []
    item = row(media_app, media_id)
    assert (item.status, item.path, item.source_url) == (MediaStatus.FAILED, None, None)
    assert agent.get(f"/media/{media_id}").status_code == 404
    assert drain(media_app) == 0  # never fetched again


def test_a_message_unsent_while_its_file_downloads_keeps_nothing(media_app, world, media_root, origin):
    media_id = add_media(media_app, world, origin.url("/held"))
    downloading = threading.Thread(target=drain, args=(media_app,))
    downloading.start()
    try:
        assert origin.arrived.wait(10)
        forget_message_of(media_app, media_id)
    finally:
        origin.release.set()
        downloading.join(30)
    assert row(media_app, media_id).status == MediaStatus.FAILED
    assert files_under(media_root) == []


# ---- who sees what ------------------------------------------------------------------------------------------


@pytest.fixture
def stored_image(media_app, world, media_root, sandbox) -> int:
    media_id = add_media(media_app, world, customer_sends(sandbox, "image"))
    assert drain(media_app) == 1
    return media_id


@pytest.mark.parametrize("role, departments, assigned, status", [
    (Role.AGENT, ("Suporte",), False, 404),  # another department's media does not exist for them
    (Role.AGENT, ("Suporte",), True, 200),  # ...unless the ticket is assigned to them
    (Role.ADMIN, (), False, 200),
    (Role.SUPERVISOR, (), False, 200),
])
def test_media_is_served_to_whoever_may_see_the_ticket(
        media_app, make_user, world, stored_image, role, departments, assigned, status):
    client = signed_in(media_app, make_user, role, departments=departments)
    if assigned:
        with media_app.app_context():
            db.session.get(Ticket, world["ticket"]).assigned_to_id = client.user["id"]
            db.session.commit()
    assert client.get(f"/media/{stored_image}").status_code == status
    assert client.get(f"/media/{stored_image + 1000}").status_code == 404  # a missing id, for everyone


def test_an_anonymous_visitor_is_sent_to_sign_in(media_app, stored_image):
    response = media_app.test_client().get(f"/media/{stored_image}")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_a_range_request_answers_206_with_that_part(media_app, world, media_root, sandbox, agent):
    media_id = add_media(media_app, world, customer_sends(sandbox, "video"), kind="video")
    drain(media_app)
    whole = agent.get(f"/media/{media_id}").data
    response = agent.get(f"/media/{media_id}", headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert response.data == whole[100:200]


def test_can_see_and_visible_apply_the_same_rule(media_app, make_user, world):
    roles = {"admin": (Role.ADMIN, ()), "supervisor": (Role.SUPERVISOR, ()), "vendas": (Role.AGENT, ("Vendas",)),
             "suporte": (Role.AGENT, ("Suporte",)), "assigned": (Role.AGENT, ("Suporte",)),
             "inactive": (Role.AGENT, ("Vendas",))}
    people = {who: make_user(role, departments=d, active=who != "inactive")["id"] for who, (role, d) in roles.items()}
    with media_app.app_context():
        queued = db.session.get(Ticket, world["ticket"])
        taken = open_ticket(world["connection"], world["vendas"], "8532027536890299", status=TicketStatus.OPEN,
                            assigned_to_id=people["assigned"])
        both = {queued.id, taken.id}
        expected = {"admin": both, "supervisor": both, "vendas": both, "suporte": set(), "assigned": {taken.id},
                    "inactive": set(), None: set()}
        for who, wanted in expected.items():
            user = db.session.get(User, people[who]) if who else None
            assert set(db.session.scalars(access.visible(db.select(Ticket.id), user))) == wanted, who
            assert {t.id for t in (queued, taken) if access.can_see(user, t)} == wanted, who
