"""POST /webhooks/instagram/bare: the ingest benchmark's baseline (bench/webhook_ingest.py), never for Meta.

It does what the real endpoint does before storing (size limit, signature, JSON) and then stores nothing, so the
benchmark can tell the cost of keeping a delivery apart from the cost of HTTP, Flask and the checks. create_app
registers it only when WEBHOOK_BARE_ENDPOINT is on.
"""
from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.extensions import csrf
from webapp.meta.signatures import verify

bp = Blueprint("webhooks_bare", __name__, url_prefix="/webhooks")


@bp.post("/instagram/bare")
@csrf.exempt  # signed like Meta's deliveries, as the endpoint it stands in for
def receive_bare():
    request.max_content_length = current_app.config["WEBHOOK_MAX_BYTES"]
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return jsonify(error="body too large"), 413
    if not verify(body, request.headers.get("X-Hub-Signature-256"), current_app.config["FACEBOOK_CLIENT_SECRET"]):
        return jsonify(error="invalid signature"), 401
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return jsonify(error="malformed JSON"), 400
    return jsonify(received=True), 200
