"""Media in and out of conversations.

Kept customer media and the files agents attached are served only to users who may see the ticket (anything else:
404, as if it did not exist). Meta alone reads attachments without signing in, by their unguessable token, and
only while it may still need them. (Agents attach files from the Chat's composer: webapp.inbox.views.attach.)
"""
from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, abort, current_app, send_file
from flask_login import login_required
from sqlalchemy import select

from webapp.database import utcnow
from webapp.extensions import db
from webapp.messages import media, uploads
from webapp.messages.models import MediaFile, MediaStatus, Message, MessageStatus, OutboundFile
from webapp.team.access import ticket_or_404
from webapp.tickets import tunnel
from webapp.tickets.models import Ticket

bp = Blueprint("messages", __name__)

# The browser may keep a file for a while, but only for this user: a shared cache must never hold it.
MAX_AGE = 3600
INLINE_FAMILIES = ("image/", "audio/", "video/")
# Meta downloads an attachment when it accepts the send, so the public link answers while the message may still
# go out: queued, sending, or failed (the retry button sends the same link again). Once Instagram has its copy
# the link has no reader left: it answers for PUBLIC_GRACE after the upload (a slow or repeated fetch), then 404
# like an unknown token, so a link that leaked (a log on the way, a forwarded URL) stops working. Agents see the
# file through /media/outbound/<id>, which checks who they are.
PUBLIC_GRACE = dt.timedelta(hours=1)
MAY_STILL_GO = (MessageStatus.QUEUED, MessageStatus.SENDING)
TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


@bp.get("/media/<int:media_id>")
@login_required
def media_file(media_id: int):
    item = db.session.get(MediaFile, media_id)
    if item is None:
        abort(404)
    message = item.message
    ticket_or_404(message.ticket_id)
    path = media.path_of(item, current_app)
    if item.status != MediaStatus.STORED or message.is_deleted or path is None or not path.is_file():
        abort(404)
    content_type = item.content_type or media.FALLBACK_TYPE
    # Our own words only: nothing the customer or the CDN chose reaches the header.
    return _file(path, content_type, f"direto-{_safe_kind(item.kind)}-{item.id}{path.suffix}",
                 inline=content_type.startswith(INLINE_FAMILIES))


@bp.get("/media/out/<token>")
def public_file(token: str):
    """Meta's servers fetch the attachment here, without signing in: the token is the only key."""
    record = db.session.scalar(select(OutboundFile).where(OutboundFile.token == token)) \
        if TOKEN.fullmatch(token) else None
    if record is None or not _still_needed(record, utcnow()):
        abort(404)
    path = uploads.path_of(record, current_app)
    if path is None or not path.is_file():
        abort(404)
    response = _file(path, record.content_type, uploads.download_name(record), inline=True)
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.get("/media/outbound/<int:file_id>")
@login_required
def outbound_file(file_id: int):
    """An attachment as agents see it in the conversation."""
    record = db.session.get(OutboundFile, file_id)
    ticket_or_404(record.ticket_id if record is not None else None)
    path = uploads.path_of(record, current_app)
    if path is None or not path.is_file():
        abort(404)
    return _file(path, record.content_type, uploads.download_name(record),
                 inline=record.content_type.startswith(INLINE_FAMILIES))


def _still_needed(record: OutboundFile, now: dt.datetime) -> bool:
    if now - record.created_at < PUBLIC_GRACE:
        return True
    message = db.session.get(Message, record.message_id) if record.message_id is not None else None
    if message is None:
        return False
    if message.status == MessageStatus.FAILED:
        # Retryable (the same link goes again) only while the tunnel is open; after that the link is dead weight.
        return tunnel.is_open(db.session.get(Ticket, message.ticket_id).tunnel_closes_at, now)
    return message.status in MAY_STILL_GO


# ---- answering with a file -------------------------------------------------------------------------------


def _file(path, content_type: str, download_name: str, inline: bool):
    response = send_file(
        path,
        mimetype=content_type,
        as_attachment=not inline,
        download_name=download_name,
        conditional=True,  # Range requests: players seek without downloading everything
        max_age=MAX_AGE,
    )
    response.headers["Cache-Control"] = f"private, max-age={MAX_AGE}"
    response.headers.pop("Expires", None)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened directly, a hostile file (HTML, SVG) runs in a sandbox without our origin: no script, no cookies.
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


def _safe_kind(kind: str | None) -> str:
    return kind if kind and re.fullmatch(r"[a-z_]{1,20}", kind) else "media"
