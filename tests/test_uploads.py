"""Attachments from the composer: images, video, audio and PDF within Instagram's limits, recognised by their bytes,
kept under MEDIA_ROOT/outbound, queued like a reply (same permissions, same tunnel rule), and handed to Meta through
an unguessable link under PUBLIC_BASE_URL that the sandbox really downloads, as Meta does.

Files are built here with the right magic numbers; the database, the disk and the sandbox are real.
"""
from __future__ import annotations

import datetime as dt
import io
import secrets
import shutil
import struct
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.datastructures import FileStorage

from tests.conftest import CSRF_META, TEST_PASSWORD, AuthActions, csrf_token
from tests.inbound_support import rows
from tests.test_connections import admin, setup  # noqa: F401  (fixtures)
from tests.test_send import WAIT, business_messages, open_ticket, settled, stored, words  # noqa: F401
from webapp.database import utcnow
from webapp.extensions import db
from webapp.messages import sender, uploads
from webapp.messages.models import Author, Message, MessageStatus, OutboundFile, TicketEvent
from webapp.team.models import Role, User
from webapp.tickets.models import Contact, Ticket, TicketStatus


# ---- files, built from their magic numbers ---------------------------------------------------------------


def png() -> bytes:
    """A real 1×1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00\xff")) + chunk(b"IEND", b""))


def iso_media(brand: bytes) -> bytes:
    """An MP4-family file: its ftyp box, then an empty mdat."""
    ftyp = brand + b"\x00\x00\x02\x00" + brand + b"isom"
    return struct.pack(">I", 8 + len(ftyp)) + b"ftyp" + ftyp + struct.pack(">I", 8 + 64) + b"mdat" + bytes(64)


def riff(form: bytes) -> bytes:
    body = form + b"fmt " + struct.pack("<I", 16) + bytes(16)
    return b"RIFF" + struct.pack("<I", len(body)) + body


PNG = png()
FILES = {
    "png": (PNG, "image", "image/png", ".png"),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(64) + b"\xff\xd9",
             "image", "image/jpeg", ".jpg"),
    "gif": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
            b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", "image", "image/gif", ".gif"),
    "mp4": (iso_media(b"isom"), "video", "video/mp4", ".mp4"),
    "mov": (iso_media(b"qt  "), "video", "video/quicktime", ".mov"),
    "webm": (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm" + bytes(64),
             "video", "video/webm", ".webm"),
    "avi": (riff(b"AVI "), "video", "video/x-msvideo", ".avi"),
    "ogv": (b"OggS\x00\x02" + bytes(22) + b"\x01\x2a\x80theora" + bytes(32), "video", "video/ogg", ".ogv"),
    "m4a": (iso_media(b"M4A "), "audio", "audio/mp4", ".m4a"),
    "wav": (riff(b"WAVE"), "audio", "audio/wav", ".wav"),
    "aac": (b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(16), "audio", "audio/aac", ".aac"),
    "pdf": (b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", "file", "application/pdf", ".pdf"),
}
NOT_FOR_INSTAGRAM = {
    "a page renamed .png": (b"<!doctype html><script>alert(document.cookie)</script>", "foto.png", "image/png"),
    "a program": (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64), "fatura.pdf", "application/pdf"),
    "an SVG": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg", "image/svg+xml"),
    "an MP3": (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(64), "audio.mp3", "audio/mpeg"),
    "an MP3 frame": (b"\xff\xfb\x90\x64" + bytes(64), "audio.mp3", "audio/mpeg"),
    "a WebP": (b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32), "foto.webp", "image/webp"),
    "a HEIC": (iso_media(b"heic"), "foto.heic", "image/heic"),
    "a 3GP": (iso_media(b"3gp4"), "video.3gp", "video/3gpp"),
    "a Matroska": (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska" + bytes(32), "video.mkv", "video/mp4"),
    "an Ogg Vorbis": (b"OggS\x00\x02" + bytes(22) + b"\x01\x1e\x01vorbis" + bytes(32), "audio.ogg", "audio/ogg"),
    "a ZIP": (b"PK\x03\x04" + bytes(64), "fotos.zip", "application/zip"),
}


# ---- the ticket, the people, the upload --------------------------------------------------------------------


@pytest.fixture
def media_root(inbox_app, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "media"
    monkeypatch.setitem(inbox_app.config, "MEDIA_ROOT", str(root))
    return root


@pytest.fixture
def new_ticket(inbox_app, shop, media_root):
    """A ticket of @loja.demo in Vendas whose tunnel is open (or not, with `closes_in`)."""

    def make(status=TicketStatus.QUEUED, closes_in=dt.timedelta(hours=2), department="sales", **fields) -> int:
        with inbox_app.app_context():
            contact = Contact(connection_id=shop["connection"], igsid=str(secrets.randbelow(10**16)), name="Ana")
            db.session.add(contact)
            db.session.flush()
            ticket = Ticket(protocol=secrets.token_hex(6), connection_id=shop["connection"], contact_id=contact.id,
                            department_id=shop[department], status=status,
                            tunnel_closes_at=utcnow() + closes_in, **fields)
            db.session.add(ticket)
            db.session.commit()
            return ticket.id

    return make


@pytest.fixture
def ticket(new_ticket) -> int:
    return new_ticket()


def signed_in(app, make_user, role=Role.AGENT, departments=("Vendas",)):
    """A signed-in client reading English (the words are asserted), with a CSRF token for its requests."""
    client = app.test_client()
    user = make_user(role, departments=departments, language="en")
    assert AuthActions(client).login(user["email"]).status_code == 302
    client.user, client.token = user, csrf_token(client, "/no-such-page")
    return client


@pytest.fixture
def agent(inbox_app, make_user):
    return signed_in(inbox_app, make_user)


def upload(client, ticket_id: int, data: bytes | None, name="foto.png", claimed="application/octet-stream",
           csrf=True, **form):
    if data is not None:
        form["file"] = (io.BytesIO(data), name, claimed)
    headers = {"X-CSRFToken": client.token} if csrf else {}
    headers["HX-Request"] = "true"  # as the composer sends it
    return client.post(f"/tickets/{ticket_id}/attachments", data=form, headers=headers,
                       content_type="multipart/form-data")


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def the_file(app) -> OutboundFile:
    [record] = rows(app, OutboundFile)
    return record


def refusal(response) -> str:
    body = response.get_data(as_text=True)
    assert body.startswith('<p class="field-error" role="alert">') and body.endswith("</p>"), body
    return body.removeprefix('<p class="field-error" role="alert">').removesuffix("</p>")


def nothing_kept(app, media_root) -> bool:
    return files_under(media_root) == [] and rows(app, OutboundFile) == [] and rows(app, Message) == []


# ---- sending a file -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FILES))
def test_each_kind_is_kept_queued_and_served_to_meta_by_its_link(inbox_app, ticket, media_root, agent, name):
    data, kind, content_type, extension = FILES[name]
    response = upload(agent, ticket, data, name=f"arquivo-{name}.bin")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert f'id="message-{the_file(inbox_app).message_id}"' in response.get_data(as_text=True)

    record = the_file(inbox_app)
    assert (record.kind, record.content_type, record.size, record.original_name) == (
        kind, content_type, len(data), f"arquivo-{name}.bin")
    assert record.ticket_id == ticket and record.uploaded_by_id == agent.user["id"]
    assert record.path.startswith("outbound/") and record.path.endswith(extension)
    assert files_under(media_root) == [media_root / record.path]  # no partial file left behind
    assert (media_root / record.path).read_bytes() == data
    assert len(record.token) >= 43  # 32 random bytes

    [message] = rows(inbox_app, Message)
    assert record.message_id == message.id
    assert (message.kind, message.author, message.author_id, message.text) == (kind, Author.AGENT, agent.user["id"], None)
    assert message.attachments == [{"type": kind, "url": f"http://localhost/media/out/{record.token}",
                                    "outbound_file_id": record.id, "name": f"arquivo-{name}.bin",
                                    "content_type": content_type, "size": len(data)}]

    # The answer is the message as the conversation shows it, from the agents' own link (never Meta's).
    shown = response.get_data(as_text=True)
    assert f'id="message-{message.id}"' in shown and f"/media/outbound/{record.id}" in shown
    assert record.token not in shown

    public = inbox_app.test_client().get(urlsplit(message.attachments[0]["url"]).path)  # Meta: nobody signed in
    assert public.status_code == 200 and public.data == data and public.mimetype == content_type
    assert public.headers["Content-Disposition"].startswith("inline")
    assert (public.headers["X-Content-Type-Options"], public.headers["Content-Security-Policy"]) == ("nosniff", "sandbox")
    assert public.headers["Cache-Control"].startswith("private")


def test_the_type_comes_from_the_bytes_never_from_the_name_or_the_browser(inbox_app, ticket, media_root, agent):
    assert upload(agent, ticket, PNG, name="../../etc/orçamento final.pdf", claimed="application/pdf").status_code == 201
    record = the_file(inbox_app)
    assert (record.kind, record.content_type) == ("image", "image/png")
    assert record.original_name == "orçamento final.pdf"  # for display: no folders
    assert record.path.endswith(".png") and "orçamento" not in record.path  # the path on disk is ours
    public = inbox_app.test_client().get(f"/media/out/{record.token}")
    assert public.mimetype == "image/png"
    assert "orçamento final.png" in requests.utils.unquote(public.headers["Content-Disposition"])


def test_a_waiting_ticket_is_taken_by_the_agent_who_sends_a_file(inbox_app, ticket, media_root, agent):
    response = upload(agent, ticket, PNG)
    # Sending took the ticket: the page gets the whole conversation again (its head and composer changed too).
    assert response.status_code == 201 and 'class="conversation"' in response.get_data(as_text=True)
    [taken] = rows(inbox_app, Ticket)
    assert (taken.status, taken.assigned_to_id) == (TicketStatus.OPEN, agent.user["id"])
    assert [e.kind for e in rows(inbox_app, TicketEvent)] == ["accepted"]

    again = upload(agent, ticket, PNG).get_data(as_text=True)  # already theirs: just the new message
    assert 'class="conversation"' not in again and 'class="msg out' in again


def test_a_caption_follows_the_file_as_its_own_text_message(inbox_app, ticket, media_root, agent):
    assert upload(agent, ticket, FILES["pdf"][0], name="boleto.pdf", caption="  Segue o boleto.  ").status_code == 201
    file_message, caption = rows(inbox_app, Message)
    assert (file_message.kind, file_message.text, caption.kind, caption.text) == ("file", None, "text", "Segue o boleto.")
    assert caption.author_id == agent.user["id"] and caption.sent_at == file_message.sent_at


def test_a_caption_over_instagrams_limit_refuses_the_file_too(inbox_app, ticket, media_root, agent):
    response = upload(agent, ticket, PNG, caption="é" * 501)
    assert response.status_code == 422
    words = refusal(response)  # the limit is less than 1000 when the company signs messages with the agent's name
    assert words.startswith("Instagram accepts at most ") and words.endswith(" bytes in a message; this one has 1002.")
    assert nothing_kept(inbox_app, media_root)


def test_attach_queues_one_message_and_a_rollback_takes_the_file_away(inbox_app, ticket, media_root, make_user):
    user_id = make_user(Role.ADMIN, departments=())["id"]
    with inbox_app.app_context():
        user, now = db.session.get(User, user_id), utcnow()
        message = uploads.attach(db.session.get(Ticket, ticket), user, _storage(PNG), now)
        assert (message.status, message.next_attempt_at) == (MessageStatus.QUEUED, now)
        assert len(files_under(media_root)) == 1
        db.session.rollback()  # the caller did not commit: nothing of it stays
    assert nothing_kept(inbox_app, media_root)

    with inbox_app.app_context():
        uploads.attach(db.session.get(Ticket, ticket), db.session.get(User, user_id), _storage(PNG), utcnow())
        db.session.commit()
    assert files_under(media_root) == [media_root / the_file(inbox_app).path]


def _storage(data: bytes, name="foto.png"):
    return FileStorage(io.BytesIO(data), filename=name, content_type="image/png")


# ---- refused ------------------------------------------------------------------------------------------------


ACCEPTED = ("Instagram accepts images (JPEG, PNG, GIF), videos (MP4, MOV, WebM, AVI, OGG), audio (AAC, M4A, WAV) "
            "and PDF documents. This file is none of these.")


@pytest.mark.parametrize("what", list(NOT_FOR_INSTAGRAM))
def test_a_file_instagram_does_not_take_is_refused_and_nothing_is_kept(inbox_app, ticket, media_root, agent, what):
    data, name, claimed = NOT_FOR_INSTAGRAM[what]
    response = upload(agent, ticket, data, name=name, claimed=claimed)
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert refusal(response) == ACCEPTED
    assert nothing_kept(inbox_app, media_root)
    assert rows(inbox_app, Ticket)[0].status == TicketStatus.QUEUED  # not taken either


def test_no_file_or_an_empty_one_is_refused(inbox_app, ticket, media_root, agent):
    assert refusal(upload(agent, ticket, None)) == "Choose a file to send."
    response = upload(agent, ticket, b"", name="vazio.png")
    assert response.status_code == 422 and refusal(response) == "This file is empty."
    assert nothing_kept(inbox_app, media_root)


def test_an_image_over_8_mb_is_refused_while_one_of_8_mb_goes(inbox_app, ticket, media_root, agent):
    exactly = PNG + bytes(8_000_000 - len(PNG))
    response = upload(agent, ticket, exactly + b"\x00")
    assert response.status_code == 422
    assert refusal(response) == "Instagram accepts images of up to 8 MB; this one is larger."
    assert nothing_kept(inbox_app, media_root)  # the part written before the limit went too

    assert upload(agent, ticket, exactly).status_code == 201
    assert the_file(inbox_app).size == 8_000_000


@pytest.mark.parametrize("name, words", [
    ("mp4", "Instagram accepts videos of up to 0.001 MB; this one is larger."),
    ("wav", "Instagram accepts audio files of up to 0.001 MB; this one is larger."),
    ("pdf", "Instagram accepts documents of up to 0.001 MB; this one is larger."),
])
def test_video_audio_and_documents_have_their_own_limit(inbox_app, ticket, media_root, agent, monkeypatch, name, words):
    monkeypatch.setitem(inbox_app.config, "ATTACHMENT_MAX_BYTES", 1000)
    data = FILES[name][0]
    response = upload(agent, ticket, data + bytes(1001 - len(data)))
    assert response.status_code == 422 and refusal(response) == words
    assert nothing_kept(inbox_app, media_root)
    assert upload(agent, ticket, data + bytes(1000 - len(data))).status_code == 201


def test_a_request_over_the_servers_limit_gets_words_not_an_error_page(inbox_app, ticket, media_root, agent, monkeypatch):
    monkeypatch.setitem(inbox_app.config, "MAX_CONTENT_LENGTH", 10_000)
    response = upload(agent, ticket, PNG + bytes(20_000))
    assert response.status_code == 413
    assert refusal(response) == "This file is larger than Instagram accepts (at most 25 MB)."
    assert nothing_kept(inbox_app, media_root)


def test_nothing_is_sent_while_the_tunnel_is_closed(inbox_app, new_ticket, media_root, agent):
    ticket = new_ticket(closes_in=-dt.timedelta(seconds=1))
    response = upload(agent, ticket, PNG)
    assert response.status_code == 422
    assert refusal(response) == "Messages can only be sent while the tunnel is open"
    assert nothing_kept(inbox_app, media_root)


def test_a_closed_ticket_or_another_agents_chat_takes_no_file(inbox_app, new_ticket, media_root, agent, make_user):
    closed = new_ticket(status=TicketStatus.CLOSED)
    assert refusal(upload(agent, closed, PNG)) == "This ticket is closed."
    colleague = make_user(Role.AGENT, departments=("Vendas",))["id"]
    theirs = new_ticket(status=TicketStatus.OPEN, assigned_to_id=colleague)
    response = upload(agent, theirs, PNG)
    assert response.status_code == 422 and refusal(response) == "Another agent is already handling this ticket."
    assert nothing_kept(inbox_app, media_root)


def test_a_ticket_the_user_may_not_see_does_not_exist_for_them(inbox_app, ticket, media_root, make_user):
    other = signed_in(inbox_app, make_user, departments=("Suporte",))
    assert upload(other, ticket, PNG).status_code == 404
    assert upload(other, ticket + 1000, PNG).status_code == 404
    assert nothing_kept(inbox_app, media_root)


def test_an_anonymous_visitor_is_sent_to_sign_in(inbox_app, ticket, media_root):
    client = inbox_app.test_client()
    client.token = csrf_token(client)
    response = upload(client, ticket, PNG)
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert nothing_kept(inbox_app, media_root)


def test_an_upload_without_the_csrf_token_is_refused(inbox_app, ticket, media_root, agent):
    assert upload(agent, ticket, PNG, csrf=False).status_code == 400
    assert nothing_kept(inbox_app, media_root)


# ---- reading the files back ---------------------------------------------------------------------------------


@pytest.fixture
def sent_file(inbox_app, ticket, media_root, agent) -> OutboundFile:
    assert upload(agent, ticket, FILES["mp4"][0], name="demo.mp4").status_code == 201
    return the_file(inbox_app)


@pytest.mark.parametrize("role, departments, status", [
    (Role.AGENT, ("Vendas",), 200),
    (Role.AGENT, ("Suporte",), 404),  # another department's file does not exist for them
    (Role.SUPERVISOR, (), 200),
])
def test_agents_see_the_file_through_their_own_link(inbox_app, make_user, sent_file, role, departments, status):
    client = signed_in(inbox_app, make_user, role, departments)
    response = client.get(f"/media/outbound/{sent_file.id}")
    assert response.status_code == status
    if status == 200:
        assert response.data == FILES["mp4"][0] and response.mimetype == "video/mp4"
        assert response.headers["Content-Disposition"].startswith("inline")
        assert response.headers["Content-Security-Policy"] == "sandbox"
    assert client.get(f"/media/outbound/{sent_file.id + 1000}").status_code == 404


def test_a_pdf_is_downloaded_by_agents_and_a_range_request_answers_its_part(inbox_app, ticket, media_root, agent):
    data = FILES["pdf"][0]
    upload(agent, ticket, data, name="boleto.pdf")
    record = the_file(inbox_app)
    response = agent.get(f"/media/outbound/{record.id}")
    assert response.headers["Content-Disposition"] == "attachment; filename=boleto.pdf"
    part = agent.get(f"/media/outbound/{record.id}", headers={"Range": "bytes=5-9"})
    assert part.status_code == 206 and part.data == data[5:10]


def test_the_agents_link_needs_a_signed_in_user(inbox_app, sent_file):
    response = inbox_app.test_client().get(f"/media/outbound/{sent_file.id}")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"


def age(app, record: OutboundFile, status: MessageStatus, hours: float = 2) -> None:
    with app.app_context():
        kept = db.session.get(OutboundFile, record.id)
        kept.created_at = kept.created_at - dt.timedelta(hours=hours)
        db.session.get(Message, kept.message_id).status = status
        db.session.commit()


@pytest.mark.parametrize("status, served", [
    (MessageStatus.QUEUED, 200),
    (MessageStatus.SENDING, 200),
    (MessageStatus.FAILED, 200),  # the retry button sends the same link again
    (MessageStatus.SENT, 404),  # Instagram has its copy: a leaked link no longer works
    (MessageStatus.SEEN, 404),
])
def test_metas_link_answers_while_the_message_may_still_go(inbox_app, sent_file, status, served):
    public = inbox_app.test_client()
    age(inbox_app, sent_file, status, hours=0)
    assert public.get(f"/media/out/{sent_file.token}").status_code == 200  # just uploaded: always
    age(inbox_app, sent_file, status, hours=2)
    assert public.get(f"/media/out/{sent_file.token}").status_code == served


@pytest.mark.parametrize("token", [secrets.token_urlsafe(32), "short", "a" * 43 + "%2e%2e"])
def test_an_unknown_token_is_not_found(inbox_app, sent_file, token):
    assert inbox_app.test_client().get(f"/media/out/{token}").status_code == 404


def test_a_file_lost_on_disk_is_not_served(inbox_app, sent_file, media_root, agent):
    (media_root / sent_file.path).unlink()
    assert inbox_app.test_client().get(f"/media/out/{sent_file.token}").status_code == 404
    assert agent.get(f"/media/outbound/{sent_file.id}").status_code == 404


# ---- Meta downloads the file: the sandbox over real HTTP ------------------------------------------------------


def live_session(live_server, make_user) -> tuple[requests.Session, str]:
    """A supervisor signed in to the live server, and the CSRF token its pages carry."""
    user = make_user(Role.SUPERVISOR, departments=(), language="en")
    session = requests.Session()
    login_page = session.get(f"{live_server.url}/login", timeout=WAIT).text
    response = session.post(f"{live_server.url}/login", allow_redirects=False, timeout=WAIT, data={
        "email": user["email"], "password": TEST_PASSWORD, "csrf_token": CSRF_META.search(login_page).group(1)})
    assert response.status_code == 302, response.text
    page = session.get(f"{live_server.url}/no-such-page", timeout=WAIT).text
    return session, CSRF_META.search(page).group(1)


def image_sent_to_ana(sandbox) -> bytes:
    """What Ana's phone shows: one image from the business; its bytes, from Meta's CDN."""
    [shown] = business_messages(sandbox)
    [attachment] = shown["attachments"]
    assert attachment["type"] == "image"
    return requests.get(attachment["payload"]["url"], timeout=WAIT).content


def test_an_uploaded_image_reaches_the_customer_once(meta_app, open_ticket, sandbox, live_server, make_user):  # noqa: F811
    ticket = open_ticket()
    session, token = live_session(live_server, make_user)
    response = session.post(f"{live_server.url}/tickets/{ticket.id}/attachments",
                            headers={"X-CSRFToken": token, "HX-Request": "true"},
                            files={"file": ("foto.png", PNG, "image/png")}, timeout=WAIT)
    assert response.status_code == 201, response.text
    [message] = rows(meta_app, Message, Message.ticket_id == ticket.id, Message.kind == "image")
    assert message.attachments[0]["url"].startswith(f"{live_server.url}/media/out/")

    message = settled(meta_app, message.id)  # whichever process sends it, Meta fetches the link
    assert (message.status, message.error_code) == (MessageStatus.SENT, None)
    assert image_sent_to_ana(sandbox) == PNG
    assert business_messages(sandbox)[0]["mid"] == message.mid
    assert sender.drain(meta_app) == 0 and len(business_messages(sandbox)) == 1


def test_a_link_meta_cannot_fetch_fails_in_plain_words_and_a_retry_sends_it_once(
        meta_app, open_ticket, admin, sandbox, live_server, tmp_path, monkeypatch):  # noqa: F811
    ticket = open_ticket()
    served = Path(meta_app.config["MEDIA_ROOT"])  # the live server's too: the same instance folder
    # The file is kept where the server Meta reaches cannot find it (as with web servers that share no disk).
    monkeypatch.setitem(meta_app.config, "PUBLIC_BASE_URL", live_server.url)
    monkeypatch.setitem(meta_app.config, "MEDIA_ROOT", str(tmp_path))
    response = admin.post(f"/tickets/{ticket.id}/attachments", headers={"X-CSRFToken": admin.token, "HX-Request": "true"},
                          data={"file": (io.BytesIO(PNG), "foto.png", "image/png")}, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    record = the_file(meta_app)

    message = settled(meta_app, record.message_id)
    assert (message.status, message.error_code) == (MessageStatus.FAILED, "100/2018047")
    assert words(meta_app, message) == "Instagram refused the message: (#100) Upload attachment failure."
    assert business_messages(sandbox) == []

    served = served / record.path
    served.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / record.path, served)
    try:
        with meta_app.app_context():
            assert sender.retry(db.session.get(Message, message.id), utcnow()) is True
            db.session.commit()
        message = settled(meta_app, message.id)
        assert (message.status, message.error_code) == (MessageStatus.SENT, None)
        assert image_sent_to_ana(sandbox) == PNG
        with meta_app.app_context():  # sent: the button does nothing more
            assert sender.retry(db.session.get(Message, message.id), utcnow()) is False
        assert sender.drain(meta_app) == 0 and len(business_messages(sandbox)) == 1
        assert stored(meta_app, message.id).attempts == 1  # a fresh set of attempts, used once
    finally:
        served.unlink(missing_ok=True)
