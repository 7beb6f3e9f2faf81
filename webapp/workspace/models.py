"""Subjects, quick replies and the company settings (a single row)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.bots.hours import DEFAULT_TIME_ZONE
from webapp.database import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.team.models import Department
from webapp.workspace.protocol import DEFAULT_PROTOCOL_FORMAT


class Subject(db.Model):
    """A category an agent picks when closing a ticket."""

    __tablename__ = "subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # Case- and space-insensitive name: "Troca" and " troca" are the same subject.
    name_key: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Subject {self.name!r}>"


class QuickReply(db.Model):
    """A saved text an agent inserts by typing /shortcut in the composer."""

    __tablename__ = "quick_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored without the slash, lower case: "boasvindas" is typed as /boasvindas.
    shortcut: Mapped[str] = mapped_column(String(40), unique=True)
    text: Mapped[str] = mapped_column(Text)
    # None: every agent sees it; otherwise only that department's agents.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    department: Mapped[Department | None] = relationship()

    def __repr__(self) -> str:
        return f"<QuickReply /{self.shortcut}>"


class CompanySettings(db.Model):
    """The one row of company-wide settings (id 1); read it through webapp.workspace.store.company_settings()."""

    __tablename__ = "company_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    protocol_format: Mapped[str] = mapped_column(String(80), default=DEFAULT_PROTOCOL_FORMAT)
    subject_required_on_close: Mapped[bool] = mapped_column(Boolean, default=False)
    # "*Ana:*\n" before each message an agent sends, so the customer knows who answers.
    agent_name_in_messages: Mapped[bool] = mapped_column(Boolean, default=True)
    time_zone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIME_ZONE)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
