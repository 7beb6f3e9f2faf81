"""Keeping what Meta sent, durably and once."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from webapp.database import utcnow
from webapp.extensions import db
from webapp.webhooks.models import DeliveryStatus, WebhookDelivery


# Built once, on the table rather than the mapped class: the ORM's insert machinery costs more than the INSERT.
_INSERT = insert(WebhookDelivery.__table__).returning(WebhookDelivery.__table__.c.id)


def keep(body: bytes, object_type: str | None, received_at: dt.datetime | None = None) -> tuple[int, bool]:
    """Store the raw delivery and commit; (delivery id, new). A second copy of the same bytes is not new.

    Insert first: a redelivery is the exception, so the usual path is one INSERT … RETURNING and one commit (no ORM
    flush, no reload after the commit: this is the hot path of the webhook), and the unique digest, not a prior
    SELECT, decides (which also covers two workers receiving the same redelivery at once). `received_at`: when
    it came, if not now (a delivery kept on disk while the database was away).
    """
    digest = hashlib.sha256(body).hexdigest()
    try:
        delivery_id = db.session.connection().execute(_INSERT, {
            "body_sha256": digest, "body": body, "object_type": object_type, "status": DeliveryStatus.PENDING,
            "attempts": 0, "received_at": received_at or utcnow()}).scalar_one()
        db.session.commit()
        return delivery_id, True
    except IntegrityError:
        db.session.rollback()
        return db.session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.body_sha256 == digest)), False
