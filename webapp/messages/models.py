"""Messages, the changes that arrive before their message, customer media, and the ticket timeline."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.database import UTCDateTime, string_enum, utcnow
from webapp.extensions import db


class Direction(str, enum.Enum):
    INBOUND = "in"  # from the customer
    OUTBOUND = "out"  # from the business: an agent, the bot, or someone in the Instagram app


class Author(str, enum.Enum):
    CUSTOMER = "customer"
    AGENT = "agent"
    BOT = "bot"
    INSTAGRAM_APP = "instagram_app"  # sent from the Instagram app: seen only as an echo


class MessageStatus(str, enum.Enum):
    RECEIVED = "received"  # inbound
    QUEUED = "queued"  # stored, waiting for the sender (also: waiting for a retry)
    SENDING = "sending"  # handed to Meta, no answer yet
    SENT = "sent"  # Meta answered with a message id (or its echo came back)
    SEEN = "seen"  # the customer read it
    FAILED = "failed"  # refused (Meta's reason in plain words, or the tunnel was closed); can be retried


class Message(db.Model):
    """One message of a ticket, in either direction. `mid` is Meta's id: unique per connection, so duplicate
    deliveries, redeliveries and echoes of our own sends can never make a second row."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("connection_id", "mid"),
        Index("ix_messages_ticket_sent", "ticket_id", "sent_at"),
        Index("ix_messages_outbox", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    mid: Mapped[str | None] = mapped_column(String(255))  # None until Meta accepted an outbound message
    direction: Mapped[Direction] = mapped_column(string_enum(Direction))
    author: Mapped[Author] = mapped_column(string_enum(Author))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # text, image, video, audio, file, share, ig_post, ig_reel, reel, story_mention, ig_story, unsupported,
    # postback, referral, like_heart: Meta's names, so a new kind needs no migration.
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(Text)
    # [{"type", "url", "title", "media_id"}] as Meta sent them; the kept copies are MediaFile rows.
    attachments: Mapped[list | None] = mapped_column(JSON)
    # reply_to (mid or story), quick_reply payload, postback, referral, quick replies offered by the bot...
    details: Mapped[dict | None] = mapped_column(JSON)
    reply_to_mid: Mapped[str | None] = mapped_column(String(255))
    # Meta's timestamp for what came from Meta; our clock for what we send. The conversation is ordered by it.
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    status: Mapped[MessageStatus] = mapped_column(string_enum(MessageStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error_code: Mapped[str | None] = mapped_column(String(40))  # e.g. "551", "10/2534022", "tunnel_closed"
    error: Mapped[str | None] = mapped_column(Text)  # in plain words, for the agent
    seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # unsent: content gone, placeholder kept
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    num_edit: Mapped[int] = mapped_column(default=0)
    reaction: Mapped[str | None] = mapped_column(String(32))  # the customer's emoji on this message
    reacted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    media: Mapped[list["MediaFile"]] = relationship(back_populates="message", order_by="MediaFile.position",
                                                    cascade="all, delete-orphan")

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class EarlyChange(db.Model):
    """A change (unsend, edit, reaction, seen, echo) whose message is not here yet: Meta does not guarantee
    order. Applied the moment a message with this mid appears, so out-of-order arrival ends in the right state."""

    __tablename__ = "message_early_changes"
    __table_args__ = (Index("ix_message_early_changes_mid", "connection_id", "mid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    mid: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(20))  # unsend, edit, react, unreact, seen, echo
    payload: Mapped[dict] = mapped_column(JSON)  # the messaging[] item, as Meta sent it
    happened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class MediaStatus(str, enum.Enum):
    PENDING = "pending"  # to download
    STORED = "stored"
    FAILED = "failed"  # unreachable, expired or refused; `error` says why
    TOO_LARGE = "too_large"
    LINK_ONLY = "link_only"  # story mentions: shown from their URL, never stored (meta-platform.md §3.4)


class MediaFile(db.Model):
    """A customer's attachment, kept under MEDIA_ROOT: Meta's CDN links expire within days."""

    __tablename__ = "media_files"
    __table_args__ = (UniqueConstraint("message_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)  # index in the message's attachments
    kind: Mapped[str] = mapped_column(String(20))
    source_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[MediaStatus] = mapped_column(string_enum(MediaStatus), default=MediaStatus.PENDING, index=True)
    path: Mapped[str | None] = mapped_column(String(255))  # relative to MEDIA_ROOT
    content_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[Message] = relationship(back_populates="media")


class TicketEvent(db.Model):
    """The ticket's timeline besides messages: opened, bot routing, out of hours, tunnel notices, transfers..."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    details: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboundFile(db.Model):
    """A file an agent attached, kept under MEDIA_ROOT/outbound. Meta downloads it from its unguessable `token` URL
    (under PUBLIC_BASE_URL), the only way the Send API takes a file by link."""

    __tablename__ = "outbound_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))  # image, video, audio, file: the Send API's attachment types
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column()
    path: Mapped[str] = mapped_column(String(255))  # relative to MEDIA_ROOT
    original_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
