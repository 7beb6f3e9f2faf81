"""Customer media kept under MEDIA_ROOT: Meta's CDN links expire within days, so what customers send is downloaded.

`drain` is the background worker's unit of work. Each PENDING MediaFile is claimed by an UPDATE that bumps
`attempts` only if it still holds the value read, so of several processes exactly one downloads a given try.
The claim is committed before the download starts: a process that dies mid-download leaves a claimed try
behind, and the row comes back on the retry schedule. The result is written only if the row is still PENDING
with that same claim, so a file unsent meanwhile (`forget`) is discarded instead of kept.

Retries: attempt n may start RETRY_AFTER[n] seconds after the row was created (MediaFile has no "next attempt"
column). A link that is gone (403/404/410: expired or tampered signature) fails at once; other failures are
retried until MAX_ATTEMPTS, then FAILED with the reason. A row whose first try started late (a backlog) may get
its remaining tries in quick succession: bounded by MAX_ATTEMPTS, never a loop.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests
from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update

from webapp.database import utcnow
from webapp.events import bus
from webapp.extensions import db
from webapp.messages.models import MediaFile, MediaStatus, Message
from webapp.tickets.models import Ticket

BATCH_SIZE = 10
CHUNK_BYTES = 64 * 1024
CONNECT_TIMEOUT = 5  # seconds
READ_TIMEOUT = 30  # seconds between two bytes
# A whole download may not take longer: a server that trickles bytes cannot hold the worker.
DOWNLOAD_DEADLINE = 120
# Seconds after creation at which try n may start; each gap is longer than one download may last, so a try
# still running is never claimed again by another process.
RETRY_AFTER = (0, 3 * 60, 10 * 60, 30 * 60, 2 * 60 * 60)
MAX_ATTEMPTS = len(RETRY_AFTER)
GONE = frozenset({403, 404, 410})  # the CDN will not give this file again
NEVER_KEPT = frozenset({"story_mention"})  # meta-platform.md §3.4: shown from its URL only
FALLBACK_TYPE = "application/octet-stream"
CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "image/heic": ".heic", "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm",
    "video/ogg": ".ogv", "video/x-msvideo": ".avi", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
    "audio/aac": ".aac", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/ogg": ".ogg",
    "audio/webm": ".weba", "application/pdf": ".pdf",
}


@dataclass
class Outcome:
    """What one try ended with. `status` None: a failure worth another try."""

    status: MediaStatus | None
    error: str | None = None
    path: Path | None = None
    size: int | None = None
    content_type: str | None = None


def drain(app: Flask) -> int:
    """Download a batch of pending media; return how many rows this process handled (0: nothing due)."""
    root = Path(app.config["MEDIA_ROOT"])
    max_bytes = int(app.config["MEDIA_MAX_BYTES"])
    rows = db.session.execute(
        select(MediaFile.id, MediaFile.attempts, MediaFile.kind, MediaFile.source_url)
        .where(MediaFile.status == MediaStatus.PENDING, _due(utcnow()))
        .order_by(MediaFile.id)
        .limit(BATCH_SIZE)
    ).all()
    db.session.commit()  # no transaction stays open while downloading
    handled = 0
    for row in rows:
        if not _claim(row.id, row.attempts):
            continue  # another process took this try
        handled += 1
        if row.kind in NEVER_KEPT:
            outcome = Outcome(MediaStatus.LINK_ONLY)
        else:
            outcome = fetch(row.source_url, root, max_bytes)
        _record(row.id, row.attempts + 1, outcome, root)
    return handled


def _due(now: dt.datetime):
    return or_(*(
        and_(MediaFile.attempts == attempt, MediaFile.created_at <= now - dt.timedelta(seconds=delay))
        for attempt, delay in enumerate(RETRY_AFTER)
    ))


def _claim(media_id: int, attempts: int) -> bool:
    result = db.session.execute(
        update(MediaFile)
        .where(MediaFile.id == media_id, MediaFile.status == MediaStatus.PENDING, MediaFile.attempts == attempts)
        .values(attempts=attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _record(media_id: int, attempts: int, outcome: Outcome, root: Path) -> None:
    """Write the outcome of our try, unless the row moved on meanwhile (unsent): then drop what we kept."""
    if outcome.status is None and attempts < MAX_ATTEMPTS:
        values = {"error": outcome.error}  # stays PENDING: the schedule brings it back
    elif outcome.status is None:
        values = {"status": MediaStatus.FAILED, "error": f"gave up after {attempts} attempts: {outcome.error}"}
    else:
        values = {"status": outcome.status, "error": outcome.error, "size": outcome.size,
                  "content_type": outcome.content_type,
                  "path": outcome.path.relative_to(root).as_posix() if outcome.path else None}
    result = db.session.execute(
        update(MediaFile)
        .where(MediaFile.id == media_id, MediaFile.status == MediaStatus.PENDING, MediaFile.attempts == attempts)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1 and "status" in values:
        # Open pages swap "downloading…" for the file (or the reason it could not be kept).
        message = db.session.get(MediaFile, media_id, populate_existing=True).message
        bus.publish("message.changed", ticket=db.session.get(Ticket, message.ticket_id), message_id=message.id)
    db.session.commit()
    if result.rowcount != 1 and outcome.path is not None:
        outcome.path.unlink(missing_ok=True)


def fetch(url: str | None, root: Path, max_bytes: int) -> Outcome:
    """One try at downloading `url` into root/YYYY/MM/ under a random name, at most `max_bytes`."""
    if not url or urlsplit(url).scheme.lower() not in ("http", "https"):
        return Outcome(MediaStatus.FAILED, "not an http(s) link")
    try:
        with requests.get(url, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)) as response:
            if response.status_code in GONE:
                return Outcome(MediaStatus.FAILED, f"link expired or gone (HTTP {response.status_code})")
            if not 200 <= response.status_code < 300:
                return Outcome(None, f"HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                return _too_large(max_bytes)
            return _keep(response, root, max_bytes, content_type_of(response.headers.get("Content-Type")))
    except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL, requests.exceptions.MissingSchema):
        return Outcome(MediaStatus.FAILED, "not an http(s) link")  # e.g. a redirect to another scheme
    except requests.Timeout:
        return Outcome(None, "timed out")
    except requests.RequestException as error:
        return Outcome(None, f"unreachable ({type(error).__name__})")
    except OSError as error:  # the disk, not the network: another try may find room
        return Outcome(None, f"could not write the file ({error.strerror or type(error).__name__})")


def _keep(response: requests.Response, root: Path, max_bytes: int, content_type: str) -> Outcome:
    now = utcnow()
    folder = root / f"{now:%Y}" / f"{now:%m}"
    folder.mkdir(parents=True, exist_ok=True)
    # Written under MEDIA_ROOT itself, so the rename into place is atomic: a reader never sees half a file.
    handle, partial = tempfile.mkstemp(dir=folder, prefix=".partial-")
    try:
        size = 0
        deadline = time.monotonic() + DOWNLOAD_DEADLINE
        with os.fdopen(handle, "wb") as out:
            # Decoded bytes are counted: a compressed body cannot unpack past the cap.
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    return _too_large(max_bytes)
                if time.monotonic() > deadline:
                    return Outcome(None, "too slow")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        final = folder / (secrets.token_urlsafe(16) + EXTENSIONS.get(content_type, ".bin"))
        os.replace(partial, final)
        partial = None
        return Outcome(MediaStatus.STORED, path=final, size=size, content_type=content_type)
    finally:
        if partial is not None:
            Path(partial).unlink(missing_ok=True)


def _too_large(max_bytes: int) -> Outcome:
    return Outcome(MediaStatus.TOO_LARGE, f"larger than {max_bytes} bytes")


def content_type_of(header: str | None) -> str:
    """The media type the CDN declared, without parameters; we never guess from the bytes."""
    value = (header or "").split(";", 1)[0].strip().lower()
    if len(value) > 100 or not CONTENT_TYPE.match(value):
        return FALLBACK_TYPE
    return value


def _inside(root: Path, relative: str | None) -> Path | None:
    """root/relative, unless it would leave root (a stored path is never trusted to stay inside)."""
    if not relative:
        return None
    base = root.resolve()
    path = (base / relative).resolve()
    return path if path.is_relative_to(base) and path != base else None


def path_of(media_file: MediaFile, app: Flask | None = None) -> Path | None:
    """Where a STORED file lives on disk (it may still be missing); None for anything not stored."""
    if media_file.status != MediaStatus.STORED:
        return None
    return _inside(Path((app or current_app).config["MEDIA_ROOT"]), media_file.path)


def forget(message: Message, app: Flask | None = None) -> int:
    """The customer unsent `message`: delete its kept files and mark its media so nothing is served or fetched.

    The rows are marked first, so a download in flight cannot store its file afterwards (it discards it). The
    caller commits, as part of applying the unsend. Returns how many files were deleted.
    """
    root = Path((app or current_app).config["MEDIA_ROOT"])
    db.session.execute(
        update(MediaFile)
        .where(MediaFile.message_id == message.id)
        .values(status=MediaStatus.FAILED, error="unsent by the customer", source_url=None)
        .execution_options(synchronize_session="fetch")
    )
    deleted = 0
    for relative in db.session.scalars(
        select(MediaFile.path).where(MediaFile.message_id == message.id, MediaFile.path.is_not(None))
    ):
        path = _inside(root, relative)
        if path is not None and path.is_file():
            path.unlink(missing_ok=True)
            deleted += 1
    db.session.execute(
        update(MediaFile)
        .where(MediaFile.message_id == message.id)
        .values(path=None, size=None)
        .execution_options(synchronize_session="fetch")
    )
    return deleted
