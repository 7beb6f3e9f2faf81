from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, String, Table, Text, UniqueConstraint, func, or_, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.database import UTCDateTime, string_enum, utcnow
from webapp.extensions import db

if TYPE_CHECKING:
    from webapp.workspace.models import Subject


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

    @classmethod
    def matching(cls, text: str):
        """Name or @username containing what was typed, in any case, typed literally (an @user_name's underscore is
        no wildcard)."""
        text = text.strip().lstrip("@").lower()
        return or_(func.lower(cls.name).contains(text, autoescape=True),
                   func.lower(cls.username).contains(text, autoescape=True))


class TicketStatus(str, enum.Enum):
    BOT = "bot"  # the triage bot is talking
    QUEUED = "queued"  # waiting in a department's queue
    OPEN = "open"  # an agent took it
    CLOSED = "closed"


WAITING = (TicketStatus.BOT, TicketStatus.QUEUED)  # with the bot or in a queue: the tickets the Fila lists
# The same, as the SQL of the partial index below; a query must spell it so for the planner to use the index.
WAITING_SQL = f"status IN ({', '.join(repr(status.value) for status in WAITING)})"


class Ticket(db.Model):
    """One attendance of one contact, from opening to closing (a *chamado*), known by its protocol number."""

    __tablename__ = "tickets"
    __table_args__ = (
        # At most one ticket that is not closed per contact: two webhooks at once cannot open two.
        Index("uq_tickets_contact_not_closed", "contact_id", unique=True,
              sqlite_where=text("status != 'closed'"), postgresql_where=text("status != 'closed'")),
        # The queue: waiting tickets in time order, found without walking past the (many more) closed ones.
        Index("ix_tickets_waiting", "opened_at", sqlite_where=text(WAITING_SQL), postgresql_where=text(WAITING_SQL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol: Mapped[str] = mapped_column(String(32), unique=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[TicketStatus] = mapped_column(string_enum(TicketStatus), index=True)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
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
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # an agent last took it
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    contact: Mapped[Contact] = relationship()
    subjects: Mapped[list["Subject"]] = relationship(secondary="ticket_subjects", order_by="Subject.name")


# The subjects chosen when the ticket was closed (History filters by them).
ticket_subjects = Table(
    "ticket_subjects",
    db.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("subject_id", ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True, index=True),
)
