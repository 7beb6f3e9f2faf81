"""Kept customer media, served only to users who may see the ticket (anything else: 404, as if it did not exist)."""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, send_file
from flask_login import current_user, login_required

from webapp.extensions import db
from webapp.messages import media
from webapp.messages.models import MediaFile, MediaStatus
from webapp.tickets import access
from webapp.tickets.models import Ticket

bp = Blueprint("messages", __name__)

# The browser may keep a file for a while, but only for this user: a shared cache must never hold it.
MAX_AGE = 3600
INLINE_FAMILIES = ("image/", "audio/", "video/")


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
    inline = content_type.startswith(INLINE_FAMILIES)
    response = send_file(
        path,
        mimetype=content_type,
        as_attachment=not inline,
        # Our own words only: nothing the customer or the CDN chose reaches the header.
        download_name=f"direto-{_safe_kind(item.kind)}-{item.id}{path.suffix}",
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
