"""Bots (triage robots) and the business-hours schedules they follow."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.bots import hours
from webapp.database import UTCDateTime, utcnow
from webapp.extensions import db
from webapp.team.models import Department


class BusinessHours(db.Model):
    """A named weekly schedule with holidays, in one time zone."""

    __tablename__ = "business_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    name_key: Mapped[str] = mapped_column(String(80), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), default=hours.DEFAULT_TIME_ZONE)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    intervals: Mapped[list["BusinessHoursInterval"]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan",
        order_by="(BusinessHoursInterval.weekday, BusinessHoursInterval.start_minute)",
    )
    holidays: Mapped[list["Holiday"]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", order_by="Holiday.date"
    )

    def rules(self) -> hours.WeeklySchedule:
        """The plain data webapp.bots.hours decides with."""
        return hours.schedule_from(
            self.time_zone,
            ((i.weekday, i.start_minute, i.end_minute) for i in self.intervals),
            (h.date for h in self.holidays),
        )

    def __repr__(self) -> str:
        return f"<BusinessHours {self.name!r}>"


class BusinessHoursInterval(db.Model):
    """Open on `weekday` (0 = Monday) from start to end minute after local midnight (end excluded, ≤ 1440)."""

    __tablename__ = "business_hours_intervals"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("business_hours.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)

    schedule: Mapped[BusinessHours] = relationship(back_populates="intervals")


class Holiday(db.Model):
    """A date on which a schedule stays closed all day."""

    __tablename__ = "business_hours_holidays"
    __table_args__ = (UniqueConstraint("schedule_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("business_hours.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(80))

    schedule: Mapped[BusinessHours] = relationship(back_populates="holidays")


class Bot(db.Model):
    """The triage bot a connection uses: greets, offers a numbered menu, routes to a department."""

    __tablename__ = "bots"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    name_key: Mapped[str] = mapped_column(String(80), unique=True)
    greeting: Mapped[str] = mapped_column(Text)
    invalid_answer_message: Mapped[str] = mapped_column(Text)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    # Where a ticket goes after max_attempts invalid answers.
    fallback_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    out_of_hours_message: Mapped[str] = mapped_column(Text)
    # After this long without an answer the ticket goes to the connection's default department.
    no_answer_timeout_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # None: the bot attends at any hour.
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("business_hours.id"), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    options: Mapped[list["BotMenuOption"]] = relationship(
        back_populates="bot", cascade="all, delete-orphan", order_by="BotMenuOption.position"
    )
    fallback_department: Mapped[Department] = relationship()
    schedule: Mapped[BusinessHours | None] = relationship()

    def __repr__(self) -> str:
        return f"<Bot {self.name!r}>"


class BotMenuOption(db.Model):
    """Menu option number `position` (1, 2, ...): the customer answers the number, the ticket goes to the department."""

    __tablename__ = "bot_menu_options"
    __table_args__ = (UniqueConstraint("bot_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))

    bot: Mapped[Bot] = relationship(back_populates="options")
    department: Mapped[Department] = relationship()
