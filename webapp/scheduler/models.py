from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.database import UTCDateTime
from webapp.extensions import db


class SchedulerLease(db.Model):
    """Who runs the jobs now, and until when (renewed every tick; free once expired)."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ScheduledJob(db.Model):
    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    next_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
