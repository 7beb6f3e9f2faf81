from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.database import UTCDateTime, string_enum, utcnow
from webapp.extensions import db


class ProtocolCounter(db.Model):
    """The last sequence number handed out on a local day: protocol numbers are YYYYMMDD + the day's sequence."""

    __tablename__ = "protocol_counters"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)


class Contact(db.Model):
    """One Instagram user as one connection sees them: IGSIDs are scoped to the business account."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("connection_id", "igsid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    igsid: Mapped[str] = mapped_column(String(32))
    # Filled by the profile fetch, which Meta may refuse (230, 9010): a contact without them is still a contact.
    name: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(64))
    picture_url: Mapped[str | None] = mapped_column(Text)
    profile_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    profile_error: Mapped[str | None] = mapped_column(String(255))
    default_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketStatus(str, enum.Enum):
    BOT = "bot"  # the triage bot is talking
    QUEUED = "queued"  # waiting in a department's queue
    OPEN = "open"  # an agent took it
    CLOSED = "closed"


class Ticket(db.Model):
    """One attendance of one contact, from opening to closing (a *chamado*), known by its protocol number."""

    __tablename__ = "tickets"
    __table_args__ = (
        # At most one ticket that is not closed per contact: two webhooks at once cannot open two.
        Index("uq_tickets_contact_not_closed", "contact_id", unique=True,
              sqlite_where=text("status != 'closed'"), postgresql_where=text("status != 'closed'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol: Mapped[str] = mapped_column(String(32), unique=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[TicketStatus] = mapped_column(string_enum(TicketStatus), index=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_customer_message_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    tunnel_closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    # The last tunnel notice given for the current closing time (None, "closing_soon", "closed"): the scheduler
    # gives each once, and a customer message that renews the tunnel clears it.
    tunnel_notice: Mapped[str | None] = mapped_column(String(20))
    last_message_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The triage bot's state while status is "bot": invalid answers so far, when it gives up waiting.
    bot_attempts: Mapped[int] = mapped_column(default=0)
    bot_deadline_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    out_of_hours_sent: Mapped[bool] = mapped_column(default=False)
    # How the customer came (an ad or an ig.me link), shown on the ticket.
    referral: Mapped[dict | None] = mapped_column(JSON)

    contact: Mapped[Contact] = relationship()
