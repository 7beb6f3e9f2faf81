"""POST /webhooks/instagram/bare: the ingest benchmark's baseline (bench/webhook_ingest.py), never for Meta.

It does what the real endpoint does before storing (size limit, signature, JSON) and then stores nothing, so the
benchmark can tell the cost of keeping a delivery apart from the cost of HTTP, Flask and the checks. create_app
registers it only when WEBHOOK_BARE_ENDPOINT is on.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from webapp.extensions import csrf
from webapp.webhooks.views import Refused, signed_json

bp = Blueprint("webhooks_bare", __name__, url_prefix="/webhooks")


@bp.post("/instagram/bare")
@csrf.exempt  # signed like Meta's deliveries, as the endpoint it stands in for
def receive_bare():
    try:
        signed_json()
    except Refused as refused:
        return jsonify(error=refused.error), refused.status
    return jsonify(received=True), 200
