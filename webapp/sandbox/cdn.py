"""The sandbox's CDN: generated samples, media the business sent, avatars. Media URLs in webhooks point
here (through PUBLIC_BASE_URL), never at the internet."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, request
from sqlalchemy import select

from . import media
from .models import Customer, FbUser, IgAccount, MediaAsset
from .runtime import current

cdn = Blueprint("cdn", __name__, url_prefix="/cdn")

AVATAR_COLORS = {"ig": "#c13584", "user": "#1877f2"}


def _cached(response: Response) -> Response:
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@cdn.get("/ig_messaging_cdn/")
def asset():
    sandbox = current()
    asset_id = request.args.get("asset_id", "")
    expires = request.args.get("oe", "")
    expected = media.signature(sandbox.settings.app_secret, asset_id, expires)
    if not hmac.compare_digest(request.args.get("signature", ""), expected):
        abort(403, "URL signature mismatch")
    if expires and int(expires, 16) * 1000 < sandbox.now_ms():
        abort(403, "URL signature expired")  # story media: gone after 24 hours, as on Instagram
    if asset_id in media.samples():
        content_type, data = media.samples()[asset_id]
        return _cached(Response(data, mimetype=content_type))
    if asset_id.startswith("avatar-"):
        with sandbox.store.tx() as session:
            customer = session.get(Customer, asset_id.removeprefix("avatar-"))
            if customer is None:
                abort(404)
            return _cached(Response(media.avatar_svg(customer.name, customer.color), mimetype="image/svg+xml"))
    with sandbox.store.tx() as session:
        row = session.get(MediaAsset, asset_id)
        if row is None:
            abort(404)
        return _cached(Response(row.data, mimetype=row.content_type))


@cdn.get("/avatars/<kind>/<key>.svg")
def avatar(kind: str, key: str):
    """Profile pictures of business accounts (`ig`), Facebook users (`user`) and customers (`customer`)."""
    sandbox = current()
    with sandbox.store.tx() as session:
        if kind == "ig":
            row = session.scalars(select(IgAccount).where(IgAccount.key == key)).first()
            label, color = (row.name, AVATAR_COLORS["ig"]) if row else ("", "")
        elif kind == "user":
            row = session.get(FbUser, key)
            label, color = (row.name, AVATAR_COLORS["user"]) if row else ("", "")
        elif kind == "customer":
            row = session.get(Customer, key)
            label, color = (row.name, row.color) if row else ("", "")
        else:
            row = None
        if row is None:
            abort(404)
    return _cached(Response(media.avatar_svg(label, color), mimetype="image/svg+xml"))
