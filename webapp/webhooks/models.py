from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.database import UTCDateTime, string_enum, utcnow
from webapp.extensions import db


class DeliveryStatus(str, enum.Enum):
    PENDING = "pending"  # stored, not yet turned into messages and tickets
    PROCESSING = "processing"  # claimed by one process; reclaimed if it stays so (the process died)
    PROCESSED = "processed"
    IGNORED = "ignored"  # understood, nothing to do (an unknown account, a test shape)
    FAILED = "failed"  # processing raised; retried by the scheduler


class WebhookDelivery(db.Model):
    """One POST from Meta, byte for byte, kept until processed: a crash after the 200 loses nothing."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Meta redelivers the same bytes when it saw no 2xx: the digest makes the second copy a no-op.
    body_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    object_type: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[DeliveryStatus] = mapped_column(
        string_enum(DeliveryStatus), default=DeliveryStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # after a failure
