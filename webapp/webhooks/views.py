"""GET|POST /webhooks/instagram: Meta's verification handshake, and signed deliveries kept before the 200.

What Meta sends is checked (signature over the raw bytes, size, JSON) and then stored as is; turning it into
messages and tickets happens after the answer, so a slow or failing step never makes Meta wait or retry.
No input, however malformed, is answered with a 5xx; when the database is away, deliveries wait on disk
(webapp.webhooks.spool) and are still answered 200.
"""
from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.core import workers
from webapp.database import UNAVAILABLE
from webapp.extensions import csrf, db
from webapp.meta.signatures import equal, verify
from webapp.webhooks import processor, spool, store

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.get("/instagram")
def verify_subscription():
    """Meta's handshake when the callback URL is saved in the App Dashboard: echo hub.challenge."""
    expected = current_app.config["META_VERIFY_TOKEN"] or ""
    token = request.args.get("hub.verify_token", "")
    if request.args.get("hub.mode") == "subscribe" and expected and equal(expected, token):
        return request.args.get("hub.challenge", ""), 200, {"Content-Type": "text/plain"}
    return jsonify(error="verification failed"), 403


@bp.post("/instagram")
@csrf.exempt  # Meta cannot carry our CSRF token; the signature authenticates instead
def receive():
    with workers.answering():  # background processing steps aside while Meta waits for this answer
        return _receive()


class Refused(Exception):
    def __init__(self, status: int, error: str):
        self.status, self.error = status, error


def signed_json() -> tuple[bytes, object]:
    """The raw body and its JSON, once the size, the signature over the exact bytes and the JSON were checked;
    raises Refused (413, 401, 400) otherwise. Shared with the benchmark's bare endpoint."""
    request.max_content_length = current_app.config["WEBHOOK_MAX_BYTES"]
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise Refused(413, "body too large") from None
    if not verify(body, request.headers.get("X-Hub-Signature-256"), current_app.config["FACEBOOK_CLIENT_SECRET"]):
        current_app.logger.warning("webhook refused: missing or wrong X-Hub-Signature-256 (%d bytes)", len(body))
        raise Refused(401, "invalid signature")
    try:
        return body, json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested JSON
        raise Refused(400, "malformed JSON") from None


def _receive():
    try:
        body, payload = signed_json()
    except Refused as refused:
        return jsonify(error=refused.error), refused.status
    object_type = payload.get("object") if isinstance(payload, dict) else None
    try:
        delivery_id, new = store.keep(body, object_type if isinstance(object_type, str) else None)
    except UNAVAILABLE as error:  # the database is away: the disk keeps it meanwhile
        db.session.rollback()
        return _spooled(body, error)
    if new:
        _process(delivery_id)
    return jsonify(received=True, delivery=delivery_id, duplicate=not new), 200


def _spooled(body: bytes, error: Exception):
    """The database is away: keep the delivery on disk and answer 200; only a disk that fails too makes it a 503,
    for Meta to deliver again later."""
    try:
        spool.keep(body)
    except OSError:
        current_app.logger.exception("webhook delivery lost for now: no database (%s) and no spool", error)
        return jsonify(error="temporarily unavailable"), 503, {"Retry-After": "5"}
    current_app.logger.warning("database unavailable (%s): webhook delivery kept on disk", type(error).__name__)
    return jsonify(received=True, spooled=True), 200


def _process(delivery_id: int) -> None:
    """The delivery is committed: processing it can no longer lose it, and must not turn into a 5xx."""
    mode = current_app.config["WEBHOOK_PROCESSING"]
    if mode == "background":
        workers.wake(processor.WORKER)
    elif mode == "inline":
        try:
            processor.process_now(delivery_id, current_app._get_current_object())
        except Exception:  # kept as pending/processing: the worker or the sweep takes it again
            db.session.rollback()
            current_app.logger.exception("webhook delivery %s: inline processing failed", delivery_id)
