"""Keeping what Meta sent, durably and once."""
from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.webhooks.models import WebhookDelivery


def keep(body: bytes, object_type: str | None) -> tuple[WebhookDelivery, bool]:
    """Store the raw delivery and commit; (delivery, False) when the same bytes were already stored.

    Insert first: a redelivery is the exception, so the usual path is one INSERT, and the unique digest, not a
    prior SELECT, decides (which also covers two workers receiving the same redelivery at once).
    """
    digest = hashlib.sha256(body).hexdigest()
    delivery = WebhookDelivery(body_sha256=digest, body=body, object_type=object_type)
    db.session.add(delivery)
    try:
        db.session.commit()
        return delivery, True
    except IntegrityError:
        db.session.rollback()
        return db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.body_sha256 == digest)), False
