"""Attachments from the composer: a file an agent sends, checked by its bytes, kept under MEDIA_ROOT/outbound and
handed to Meta by link.

Instagram's Send API takes a file only by URL, and downloads it when it accepts the send (meta-platform.md §4.1),
so each file gets an unguessable token (32 random bytes) and Meta reads it at PUBLIC_BASE_URL/media/out/<token>
(webapp.messages.views says how long that link answers). Agents see the same file through an address that checks
who they are, never through the token.

What Instagram takes (meta-platform.md §4.2, Meta's attachment-upload page): images png, jpeg, gif up to 8 MB;
video mp4, ogg, avi, mov, webm, audio aac, m4a, wav, mp4 and PDF files up to 25 MB. The type is read from the file's
first bytes, never from the name or the type the browser claims: an MP3, a WebP or a page renamed .png is refused
before anything is stored, and the stored type is the one the bytes showed. An MP4 goes as video (whether it
holds only sound is written in its tracks, often at the end of the file); M4A is the audio flavour.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from flask_babel import format_decimal, gettext
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from webapp.extensions import db
from webapp.messages import media, outbound
from webapp.messages.models import Author, Message, OutboundFile
from webapp.team.models import User
from webapp.tickets import actions
from webapp.tickets.models import Ticket

PUBLIC_PATH = "/media/out/"  # + token: the route in webapp.messages.views
FOLDER = "outbound"  # under MEDIA_ROOT
HEAD_BYTES = 4096  # enough to tell every accepted format apart
CHUNK_BYTES = 64 * 1024
NAME_LIMIT = 255  # OutboundFile.original_name


@dataclass(frozen=True)
class Format:
    kind: str  # the Send API's attachment type: image, video, audio, file
    content_type: str
    extension: str


JPEG = Format("image", "image/jpeg", ".jpg")
PNG = Format("image", "image/png", ".png")
GIF = Format("image", "image/gif", ".gif")
MP4 = Format("video", "video/mp4", ".mp4")
MOV = Format("video", "video/quicktime", ".mov")
WEBM = Format("video", "video/webm", ".webm")
AVI = Format("video", "video/x-msvideo", ".avi")
OGV = Format("video", "video/ogg", ".ogv")
AAC = Format("audio", "audio/aac", ".aac")
M4A = Format("audio", "audio/mp4", ".m4a")
WAV = Format("audio", "audio/wav", ".wav")
PDF = Format("file", "application/pdf", ".pdf")
ACCEPTED = (JPEG, PNG, GIF, MP4, MOV, WEBM, AVI, OGV, AAC, M4A, WAV, PDF)


def accept_attribute() -> str:
    """The file picker's `accept`: what sniff() takes, by type and by extension (phones name types loosely)."""
    return ",".join(sorted({f.content_type for f in ACCEPTED}) + sorted({f.extension for f in ACCEPTED}))

# ISO media files (MP4 and relatives) name their flavour in the "ftyp" box. Only those Instagram takes are listed:
# HEIC and AVIF images, 3GP videos and protected M4P audio share the container but are refused.
AUDIO_BRANDS = frozenset({b"M4A ", b"M4B "})
VIDEO_BRANDS = frozenset({b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
                          b"M4V ", b"M4VH", b"M4VP", b"dash", b"mmp4", b"MSNV", b"XAVC", b"f4v "})


def sniff(head: bytes) -> Format | None:
    """The format of a file from its first bytes (magic numbers); None for anything Instagram does not take."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head.startswith(b"%PDF-"):
        return PDF
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return MOV
        return M4A if brand in AUDIO_BRANDS else MP4 if brand in VIDEO_BRANDS else None
    if head.startswith(b"RIFF"):
        return {b"WAVE": WAV, b"AVI ": AVI}.get(head[8:12])  # WebP is RIFF too: refused
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM, or Matroska (refused)
        return WEBM if b"webm" in head[:64] else None
    if head.startswith(b"OggS"):  # Ogg video is Theora; Ogg audio (Vorbis, Opus) is not on Instagram's list
        return OGV if b"\x80theora" in head[:512] else None
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # AAC's ADTS frame (MP3's layer bits differ)
        return AAC
    return None


def limits(config) -> dict[str, int]:
    """The largest file of each kind, in bytes."""
    largest = int(config["ATTACHMENT_MAX_BYTES"])
    return {"image": int(config["ATTACHMENT_IMAGE_MAX_BYTES"]), "video": largest, "audio": largest, "file": largest}


def public_url(token: str, config) -> str:
    return f"{config['PUBLIC_BASE_URL'].rstrip('/')}{PUBLIC_PATH}{token}"


# ---- attaching ----------------------------------------------------------------------------------------


def attach(ticket: Ticket, user: User, storage: FileStorage | None, now: dt.datetime,
           caption: str | None = None) -> Message:
    """The agent sends a file: checked, kept, and queued for the sender as one attachment message, with the same
    rules as a text reply (actions.reply): not on closed tickets, not on another agent's chat, never while the
    tunnel is closed; answering a waiting ticket takes it. A caption goes as a text message right after (Instagram
    sends one text or one attachment per message). The caller commits; if the transaction is rolled back instead,
    the kept file is deleted with it. Refusals raise actions.Refused before anything is stored."""
    actions.check_can_send(ticket, user, now, field="file")
    caption = (caption or "").strip() or None
    if caption is not None:  # checked before the file is kept: a refused caption leaves nothing behind
        actions.check_can_send(ticket, user, now, text=caption, field="caption")

    config = current_app.config
    root = Path(config["MEDIA_ROOT"])
    path, found, size = keep(storage, root / FOLDER / f"{now:%Y}" / f"{now:%m}", limits(config))
    _discard_on_rollback(path)

    actions.take_if_waiting(ticket, user, now)
    record = OutboundFile(token=secrets.token_urlsafe(32), ticket_id=ticket.id, uploaded_by_id=user.id,
                          kind=found.kind, content_type=found.content_type, size=size,
                          path=path.relative_to(root).as_posix(), original_name=display_name(storage.filename),
                          created_at=now)
    db.session.add(record)
    db.session.flush()
    message = outbound.queue(ticket, author=Author.AGENT, author_id=user.id, now=now, attachments=[{
        "type": found.kind, "url": public_url(record.token, config), "outbound_file_id": record.id,
        "name": record.original_name, "content_type": found.content_type, "size": size,
    }])
    record.message_id = message.id
    if caption:
        actions.reply(ticket, user, caption, now)
    return message


def keep(storage: FileStorage | None, folder: Path, largest: dict[str, int]) -> tuple[Path, Format, int]:
    """Copy the upload into `folder` under a random name, reading at most its kind's limit plus one byte: a
    larger file is refused as soon as it passes the limit, and nothing of a refused file stays on disk."""
    stream = storage.stream if storage is not None else None
    head = _read_head(stream) if stream is not None else b""
    if not head:
        if storage is None or not storage.filename:
            raise actions.Refused(gettext("Choose a file to send."), "file")
        raise actions.Refused(gettext("This file is empty."), "file")
    found = sniff(head)
    if found is None:
        raise actions.Refused(gettext(
            "Instagram accepts images (JPEG, PNG, GIF), videos (MP4, MOV, WebM, AVI, OGG), audio (AAC, M4A, WAV) "
            "and PDF documents. This file is none of these."), "file")
    limit = largest[found.kind]
    folder.mkdir(parents=True, exist_ok=True)
    # Written in its final folder, so the rename into place is atomic: a reader never sees half a file.
    handle, partial = tempfile.mkstemp(dir=folder, prefix=".partial-")
    try:
        size = 0
        with os.fdopen(handle, "wb") as out:
            chunk = head
            while chunk:
                size += len(chunk)
                if size > limit:
                    raise _too_large(found.kind, limit)
                out.write(chunk)
                chunk = stream.read(CHUNK_BYTES)
            out.flush()
            os.fsync(out.fileno())
        final = folder / (secrets.token_urlsafe(16) + found.extension)
        os.replace(partial, final)
        partial = None
        return final, found, size
    finally:
        if partial is not None:
            Path(partial).unlink(missing_ok=True)


def _read_head(stream) -> bytes:
    head = b""
    while len(head) < HEAD_BYTES:
        chunk = stream.read(HEAD_BYTES - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _too_large(kind: str, limit: int) -> actions.Refused:
    size = megabytes(limit)
    if kind == "image":
        words = gettext("Instagram accepts images of up to %(size)s MB; this one is larger.", size=size)
    elif kind == "video":
        words = gettext("Instagram accepts videos of up to %(size)s MB; this one is larger.", size=size)
    elif kind == "audio":
        words = gettext("Instagram accepts audio files of up to %(size)s MB; this one is larger.", size=size)
    else:
        words = gettext("Instagram accepts documents of up to %(size)s MB; this one is larger.", size=size)
    return actions.Refused(words, "file")


def megabytes(size: int) -> str:
    """Bytes as decimal megabytes (Meta's "8MB"), in the reader's number format."""
    return format_decimal(size / 1_000_000, format="#,##0.###")


def too_large_words(config) -> str:
    """What the agent reads when the whole request was over what any attachment may have (HTTP 413)."""
    return gettext("This file is larger than Instagram accepts (at most %(size)s MB).",
                   size=megabytes(max(limits(config).values())))


def path_of(record: OutboundFile, app: Flask | None = None) -> Path | None:
    """Where the kept file lives (it may be missing): inside MEDIA_ROOT, whatever the stored path says."""
    return media._inside(Path((app or current_app).config["MEDIA_ROOT"]), record.path)


# ---- names ------------------------------------------------------------------------------------------------


def display_name(filename: str | None) -> str | None:
    """The name the agent's computer gave the file, for display only: no folders, no control characters. It never
    becomes a path on disk (that is random) and reaches a header only through `download_name`."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C")
    name = " ".join(name.split())
    return name[:NAME_LIMIT] or None


def download_name(record: OutboundFile) -> str:
    """A filename for Content-Disposition: the display name's letters, digits and a few signs, with the extension
    of the type the bytes showed; `direto-<kind>-<id>` when nothing is left."""
    extension = Path(record.path).suffix
    stem = Path(record.original_name or "").stem
    stem = re.sub(r"[^\w .()-]+", "_", stem).strip(" ._")[:100]
    return f"{stem or f'direto-{record.kind}-{record.id}'}{extension}"


# ---- a kept file goes when its transaction does not commit ---------------------------------------------------


def _discard_on_rollback(path: Path) -> None:
    db.session.info.setdefault("outbound_files_kept", []).append(path)


@sa_event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    session.info.pop("outbound_files_kept", None)


@sa_event.listens_for(Session, "after_transaction_end")
def _discard(session: Session, transaction) -> None:
    # Runs after the outermost transaction ends; after a commit `_kept` has already cleared the list.
    if transaction.parent is None:
        for path in session.info.pop("outbound_files_kept", ()):
            path.unlink(missing_ok=True)
