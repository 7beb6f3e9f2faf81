"""Instagram connections: one linked Instagram professional account, through its Facebook page."""
from __future__ import annotations

import datetime as dt
import enum

from flask_babel import lazy_pgettext
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.database import UTCDateTime, string_enum, utcnow
from webapp.extensions import db
from webapp.team.models import Department


class ConnectionStatus(str, enum.Enum):
    NOT_LINKED = "not_linked"
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    DISCONNECTED = "disconnected"

    @property
    def label(self):
        return STATUS_LABELS[self]

    @property
    def tone(self) -> str:
        return {"active": "ok", "needs_reauth": "warn"}.get(self.value, "off")


# A connection is feminine in Portuguese ("conexão ativa"): the context keeps these apart from a user's "Ativo".
STATUS_LABELS = {
    ConnectionStatus.ACTIVE: lazy_pgettext("connection status", "Active"),
    ConnectionStatus.NOT_LINKED: lazy_pgettext("connection status", "Not linked"),
    ConnectionStatus.NEEDS_REAUTH: lazy_pgettext("connection status", "Needs reauthorization"),
    ConnectionStatus.DISCONNECTED: lazy_pgettext("connection status", "Disconnected"),
}


class Connection(db.Model):
    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    default_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id"))
    status: Mapped[ConnectionStatus] = mapped_column(string_enum(ConnectionStatus), default=ConnectionStatus.NOT_LINKED)
    # Why the status is what it is, in Meta's words (kept for admins; never shown to agents).
    status_detail: Mapped[str | None] = mapped_column(Text)

    page_id: Mapped[str | None] = mapped_column(String(32))
    page_name: Mapped[str | None] = mapped_column(String(255))
    # Unique while linked, NULL otherwise: one Instagram account feeds one connection at a time.
    instagram_account_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    instagram_username: Mapped[str | None] = mapped_column(String(64))
    instagram_picture_url: Mapped[str | None] = mapped_column(Text)
    page_token_ciphertext: Mapped[str | None] = mapped_column(Text)

    linked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    default_department: Mapped[Department] = relationship()
    bot = relationship("Bot")

    @property
    def is_linked(self) -> bool:
        return self.status in (ConnectionStatus.ACTIVE, ConnectionStatus.NEEDS_REAUTH)

    def __repr__(self) -> str:
        return f"<Connection {self.name!r} {self.status.value}>"


class LinkAttempt(db.Model):
    """A Facebook Login that came back, waiting for the admin to choose a page.

    The long-lived user token is kept here, encrypted, for the few minutes of the choice: never in the cookie.
    """

    __tablename__ = "connection_link_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    user_token_ciphertext: Mapped[str] = mapped_column(Text)
    facebook_user_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LegalText(db.Model):
    """This installation's privacy policy and terms of use, shown before Facebook Login (pt-BR and en)."""

    __tablename__ = "legal_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    privacy_pt_br: Mapped[str] = mapped_column(Text)
    privacy_en: Mapped[str] = mapped_column(Text)
    terms_pt_br: Mapped[str] = mapped_column(Text)
    terms_en: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
