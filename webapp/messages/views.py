"""Media in and out of conversations.

Kept customer media and the files agents attached are served only to users who may see the ticket (anything else:
404, as if it did not exist). Meta alone reads attachments without signing in, by their unguessable token, and
only while it may still need them. Agents attach files here too (the composer's upload).
"""
from __future__ import annotations

import datetime as dt
import logging
import re

from flask import Blueprint, abort, current_app, make_response, render_template, request, send_file
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from webapp.database import utcnow
from webapp.extensions import db
from webapp.inbox import conversation
from webapp.messages import media, uploads
from webapp.messages.models import MediaFile, MediaStatus, Message, MessageStatus, OutboundFile
from webapp.tickets import access, actions, tunnel
from webapp.tickets.models import Ticket

log = logging.getLogger(__name__)

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
MESSAGE_PARTIAL = "inbox/_sent.html"  # the Chat page's fragment for a message it sent


@bp.get("/media/<int:media_id>")
@login_required
def media_file(media_id: int):
    item = db.session.get(MediaFile, media_id)
    if item is None:
        abort(404)
    message = item.message
    if not access.can_see(current_user, db.session.get(Ticket, message.ticket_id)):
        abort(404)
    path = media.path_of(item, current_app)
    if item.status != MediaStatus.STORED or message.is_deleted or path is None or not path.is_file():
        abort(404)
    content_type = item.content_type or media.FALLBACK_TYPE
    # Our own words only: nothing the customer or the CDN chose reaches the header.
    return _file(path, content_type, f"direto-{_safe_kind(item.kind)}-{item.id}{path.suffix}",
                 inline=content_type.startswith(INLINE_FAMILIES))


# ---- what agents send ------------------------------------------------------------------------------------


@bp.post("/tickets/<int:ticket_id>/attachments")
@login_required
def attach(ticket_id: int):
    """The composer's upload (multipart field `file`, optional `caption`): 201 once the message is queued, 422 with
    the reason in words otherwise."""
    ticket = db.session.get(Ticket, ticket_id)
    if not access.can_see(current_user, ticket):
        abort(404)
    was_waiting = ticket.status in actions.WAITING
    try:
        message = uploads.attach(ticket, current_user, request.files.get("file"), utcnow(),
                                 caption=request.form.get("caption"))
    except actions.Refused as error:
        return _field_error(str(error), 422)
    db.session.commit()
    response = make_response(_message_fragment(message, ticket), 201)
    # The open page hears of the message live as well; a ticket taken by this answer changes its header too.
    took = was_waiting and ticket.status not in actions.WAITING
    response.headers["HX-Trigger"] = "message-queued, ticket-accepted" if took else "message-queued"
    return response


@bp.errorhandler(413)
def too_large(error):
    """A request over MAX_CONTENT_LENGTH (the CSRF check reads the form before any view): words the composer can
    show, not an error page. Only the upload takes a body on this blueprint."""
    return _field_error(uploads.too_large_words(current_app.config), 413)


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
    if record is None or not access.can_see(current_user, db.session.get(Ticket, record.ticket_id)):
        abort(404)
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


def _field_error(words: str, status: int):
    response = make_response(Markup('<p class="field-error" role="alert">{}</p>').format(words), status)
    response.mimetype = "text/html"
    return response


def _message_fragment(message: Message, ticket: Ticket) -> str:
    """The new message as the Chat page shows it (the same partial that answers a text reply), so the page need not
    wait for the live event. The message is committed by now: a rendering problem must not answer an error, or
    the agent would send the file a second time; the live event shows the message anyway."""
    try:
        return render_template(MESSAGE_PARTIAL, ticket=ticket, thread=conversation.one(message, ticket), item=message)
    except Exception:
        log.exception("the queued message %s could not be rendered", message.id)
        return ""


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
