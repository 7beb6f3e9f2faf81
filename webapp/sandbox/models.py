"""The sandbox's own storage: it plays Meta, so it shares no table and no metadata with Direto.

Plain SQLAlchemy 2 (own DeclarativeBase, engine and sessions). Times are epoch milliseconds, as on Meta's
wire. Everything that must be shared by several worker processes (knobs, faults, the clock offset, the
webhook outbox) is a row here, never a Python global.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Knob(Base):
    """A run-time setting (batching, retry schedule, Human Agent feature, clock offset...)."""

    __tablename__ = "knob"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class FbUser(Base):
    """A Facebook user who can log in through the dialog; `id` is app-scoped, as Graph returns it."""

    __tablename__ = "fb_user"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class IgAccount(Base):
    """An Instagram professional account (the `1784…` id that webhooks carry in `entry.id`)."""

    __tablename__ = "ig_account"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Page(Base):
    __tablename__ = "page"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100))
    ig_account_id: Mapped[str | None] = mapped_column(ForeignKey("ig_account.id"), unique=True, nullable=True)


class PageRole(Base):
    """A user's role on a page: pages can have several people, so one page can show up for two users."""

    __tablename__ = "page_role"
    user_id: Mapped[str] = mapped_column(ForeignKey("fb_user.id"), primary_key=True)
    page_id: Mapped[str] = mapped_column(ForeignKey("page.id"), primary_key=True)
    tasks: Mapped[list] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Customer(Base):
    """A person on Instagram. They get one IGSID per business account (see Conversation)."""

    __tablename__ = "customer"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(100), unique=True)
    color: Mapped[str] = mapped_column(String(7))
    follower_count: Mapped[int] = mapped_column(Integer, default=0)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)


class Conversation(Base):
    """One customer as seen by one business account: the IGSID, the 24-hour window, consent, blocking."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("customer_key", "ig_account_id"),)
    igsid: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_key: Mapped[str] = mapped_column(ForeignKey("customer.key"))
    ig_account_id: Mapped[str] = mapped_column(ForeignKey("ig_account.id"))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    consented_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # first message: profile allowed
    last_inbound_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # opens the window
    typing_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    follows_business: Mapped[bool] = mapped_column(Boolean, default=False)
    business_follows: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=0)  # bumped on every change, for the phone's polling


class Message(Base):
    """A message in a conversation, from the customer (inbound) or the business (outbound)."""

    __tablename__ = "message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mid: Mapped[str] = mapped_column(String(255), unique=True)
    igsid: Mapped[str] = mapped_column(ForeignKey("conversation.igsid"), index=True)
    from_customer: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(32))  # text, attachment, postback, referral...
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    attachments: Mapped[list | None] = mapped_column(JSON, nullable=True)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)  # reply_to, quick replies, postback, referral...
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    num_edit: Mapped[int] = mapped_column(Integer, default=0)
    customer_reaction: Mapped[str | None] = mapped_column(String(32), nullable=True)
    business_reaction: Mapped[str | None] = mapped_column(String(32), nullable=True)
    seen_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # seen by the other side


class Grant(Base):
    """A permission the user granted or declined to the app (what /me/permissions lists)."""

    __tablename__ = "permission_grant"
    user_id: Mapped[str] = mapped_column(ForeignKey("fb_user.id"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # granted | declined


class OAuthCode(Base):
    __tablename__ = "oauth_code"
    code: Mapped[str] = mapped_column(String(400), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("fb_user.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    used_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AccessToken(Base):
    """A user or page token. expires_ms == 0 means it never expires (page token from a long-lived user token)."""

    __tablename__ = "access_token"
    token: Mapped[str] = mapped_column(String(400), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # USER | PAGE
    user_id: Mapped[str] = mapped_column(ForeignKey("fb_user.id"))
    page_id: Mapped[str | None] = mapped_column(ForeignKey("page.id"), nullable=True)
    parent_token: Mapped[str | None] = mapped_column(String(400), nullable=True)
    long_lived: Mapped[bool] = mapped_column(Boolean, default=False)
    issued_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int] = mapped_column(BigInteger)
    invalid_subcode: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 458 = app removed


class Subscription(Base):
    """The app subscribed to a page's webhooks (POST /{page-id}/subscribed_apps)."""

    __tablename__ = "subscription"
    page_id: Mapped[str] = mapped_column(ForeignKey("page.id"), primary_key=True)
    fields: Mapped[list] = mapped_column(JSON)


class Fault(Base):
    """An injected failure for one endpoint (or '*'); `remaining` None means until cleared."""

    __tablename__ = "fault"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(32), index=True)
    code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subcode: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    drop: Mapped[bool] = mapped_column(Boolean, default=False)
    remaining: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fired: Mapped[int] = mapped_column(Integer, default=0)


class WebhookEvent(Base):
    """One `messaging[]` item waiting to be packed into a delivery (several per POST when batching)."""

    __tablename__ = "webhook_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ig_account_id: Mapped[str] = mapped_column(String(32))
    field: Mapped[str] = mapped_column(String(32))
    item: Mapped[dict] = mapped_column(JSON)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|packing|packed|skipped
    claim: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("delivery.id"), nullable=True)


class Delivery(Base):
    """One signed POST to the webhook URL, retried until acknowledged or the schedule runs out."""

    __tablename__ = "delivery"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the exact bytes signed and sent, every attempt
    signature: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16), default="messaging")  # messaging | test
    event_count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|sending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_ms: Mapped[int] = mapped_column(BigInteger)
    lease_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    created_ms: Mapped[int] = mapped_column(BigInteger)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("delivery.id"), index=True)
    started_ms: Mapped[int] = mapped_column(BigInteger)
    url: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_excerpt: Mapped[str] = mapped_column(Text, default="")


class MediaAsset(Base):
    """Media the business sent by URL: Meta fetches it once and serves its own copy from its CDN."""

    __tablename__ = "media_asset"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_ms: Mapped[int] = mapped_column(BigInteger)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL so the phone's polling reads while the delivery worker writes; wait on locks instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, and no fsync per commit
    cursor.close()


class Store:
    """The sandbox's engine and sessions. One per sandbox app (and so one per worker process)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        Base.metadata.create_all(self.engine)

    def drop_all(self) -> None:
        Base.metadata.drop_all(self.engine)

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session
