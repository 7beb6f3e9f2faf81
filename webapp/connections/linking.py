"""Linking a connection to a page after Facebook Login, keeping it healthy, and disconnecting it.

The order of choose_page() is what keeps a connection from ever being half linked: the page token is fetched, the
app subscribed and the subscription read back before anything about the connection changes.
"""
from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from webapp.connections.models import Connection, ConnectionStatus, LinkAttempt
from webapp.core import crypto
from webapp.database import utcnow
from webapp.extensions import db
from webapp.meta import errors
from webapp.meta.client import WEBHOOK_FIELDS, GraphClient, Page

log = logging.getLogger(__name__)

ATTEMPT_TTL = dt.timedelta(minutes=30)


class LinkError(Exception):
    """Linking stopped. `kind` names the situation (the view turns it into words and a way back)."""

    def __init__(self, kind: str, meta_error: errors.MetaError | None = None, missing: list[str] | None = None):
        super().__init__(kind)
        self.kind = kind
        self.meta_error = meta_error
        self.missing = missing or []


@dataclass(frozen=True)
class PageChoice:
    page: Page
    state: str  # available | no_instagram | linked_elsewhere | other_account
    linked_to: str | None = None

    @property
    def available(self) -> bool:
        return self.state == "available"


# ---- after Facebook Login ---------------------------------------------------------------------------


def record_login(connection: Connection, user_id: int, short_lived_token: str, client: GraphClient, config) -> LinkAttempt:
    """Exchange for a long-lived token, check the permissions, and keep the token (encrypted) for the page choice."""
    try:
        token = client.long_lived_user_token(short_lived_token)
        missing = client.permissions(token).missing()
        if missing:
            raise LinkError("declined", missing=missing)
        profile = client.me(token)
    except errors.MetaError as error:
        raise LinkError("graph", meta_error=error) from error
    db.session.execute(delete(LinkAttempt).where(LinkAttempt.connection_id == connection.id))
    attempt = LinkAttempt(
        connection_id=connection.id,
        user_id=user_id,
        user_token_ciphertext=crypto.encrypt(token, config),
        facebook_user_name=profile.get("name"),
    )
    db.session.add(attempt)
    db.session.commit()
    return attempt


def current_attempt(connection: Connection, user_id: int) -> LinkAttempt | None:
    forget_expired_attempts()
    return db.session.scalar(
        select(LinkAttempt).where(LinkAttempt.connection_id == connection.id, LinkAttempt.user_id == user_id)
    )


def forget_expired_attempts() -> None:
    """An abandoned login must not keep a long-lived user token around (also run by the daily job)."""
    db.session.execute(delete(LinkAttempt).where(LinkAttempt.created_at < utcnow() - ATTEMPT_TTL))
    db.session.commit()


def page_choices(connection: Connection, attempt: LinkAttempt, client: GraphClient, config) -> list[PageChoice]:
    """Every page of the profile, each marked with whether this connection may take it."""
    try:
        pages = client.pages(crypto.decrypt(attempt.user_token_ciphertext, config))
    except errors.MetaError as error:
        raise LinkError("graph", meta_error=error) from error
    ig_ids = [p.instagram.id for p in pages if p.instagram]
    taken = dict(
        db.session.execute(
            select(Connection.instagram_account_id, Connection.name).where(
                Connection.instagram_account_id.in_(ig_ids), Connection.id != connection.id
            )
        ).all()
    ) if ig_ids else {}
    choices = []
    for page in pages:
        if page.instagram is None:
            choices.append(PageChoice(page, "no_instagram"))
        elif page.instagram.id in taken:
            choices.append(PageChoice(page, "linked_elsewhere", linked_to=taken[page.instagram.id]))
        elif connection.instagram_account_id and page.instagram.id != connection.instagram_account_id:
            # Reauthorizing keeps the account: switching accounts would mix two customers' histories.
            choices.append(PageChoice(page, "other_account"))
        else:
            choices.append(PageChoice(page, "available"))
    return choices


def choose_page(connection: Connection, attempt: LinkAttempt, page_id: str, client: GraphClient, config,
                actor_id: int) -> None:
    """Subscribe the app to the chosen page, check it, and only then mark the connection active."""
    choice = next((c for c in page_choices(connection, attempt, client, config) if c.page.id == page_id), None)
    if choice is None:
        raise LinkError("page_gone")
    if not choice.available:
        raise LinkError(choice.state)
    page = choice.page
    if not page.access_token:
        raise LinkError("no_page_token")
    try:
        client.subscribe(page.id, page.access_token)
        subscribed = client.subscribed_fields(page.id, page.access_token)
    except errors.MetaError as error:
        raise LinkError("graph", meta_error=error) from error
    missing = sorted(set(WEBHOOK_FIELDS) - subscribed)
    if missing:
        raise LinkError("subscription", missing=missing)

    connection.page_id = page.id
    connection.page_name = page.name
    connection.instagram_account_id = page.instagram.id
    connection.instagram_username = page.instagram.username
    connection.instagram_picture_url = page.instagram.picture_url
    # A page token obtained with a long-lived user token does not expire (meta-platform.md §1.4).
    connection.page_token_ciphertext = crypto.encrypt(page.access_token, config)
    connection.status = ConnectionStatus.ACTIVE
    connection.status_detail = None
    connection.linked_at = connection.checked_at = utcnow()
    connection.linked_by_id = actor_id
    db.session.delete(attempt)
    try:
        db.session.commit()
    except IntegrityError as error:  # another admin linked the same account a moment ago
        db.session.rollback()
        raise LinkError("linked_elsewhere") from error


# ---- health -----------------------------------------------------------------------------------------


def page_token(connection: Connection, config) -> str | None:
    """The decrypted page token; None when there is none, or when the configured keys cannot read it."""
    if not connection.page_token_ciphertext:
        return None
    try:
        return crypto.decrypt(connection.page_token_ciphertext, config)
    except crypto.TokenDecryptError:
        log.error("connection %s: its page token cannot be decrypted (TOKEN_ENCRYPTION_KEY changed?)", connection.id)
        return None


def mark_needs_reauth(connection: Connection, detail: str) -> None:
    if connection.status == ConnectionStatus.ACTIVE:
        log.warning("connection %s needs reauthorization: %s", connection.id, detail)
    connection.status = ConnectionStatus.NEEDS_REAUTH
    connection.status_detail = detail
    db.session.commit()


@contextmanager
def guarded(connection: Connection):
    """Wrap every Graph call made with a connection's token: a 190 anywhere flags it for reauthorization."""
    try:
        yield
    except errors.TokenInvalid as error:
        mark_needs_reauth(connection, str(error))
        raise


def check_health(connection: Connection, client: GraphClient, config) -> bool:
    """Is the app still subscribed with every field, with a token that works? Flags the connection if not."""
    if not connection.is_linked:
        return False
    token = page_token(connection, config)
    if token is None:
        mark_needs_reauth(connection, "the stored page token cannot be read: reauthorize to store a new one")
        return False
    try:
        with guarded(connection):
            subscribed = client.subscribed_fields(connection.page_id, token)
    except errors.TokenInvalid:
        return False
    except errors.MetaError as error:
        if error.retryable:  # Meta being busy says nothing about our link: try again next time
            log.info("health check of connection %s postponed: %s", connection.id, error)
            return connection.status == ConnectionStatus.ACTIVE
        mark_needs_reauth(connection, str(error))
        return False
    missing = sorted(set(WEBHOOK_FIELDS) - subscribed)
    if missing:
        mark_needs_reauth(connection, "webhook subscription missing: " + ", ".join(missing))
        return False
    connection.status = ConnectionStatus.ACTIVE
    connection.status_detail = None
    connection.checked_at = utcnow()
    db.session.commit()
    return True


def disconnect(connection: Connection, client: GraphClient, config) -> None:
    """Unsubscribe (best effort: a dead token must not block it), forget the token, keep the history."""
    token = page_token(connection, config)
    if token and connection.page_id:
        try:
            client.unsubscribe(connection.page_id, token)
        except errors.MetaError as error:
            log.warning("unsubscribing connection %s failed, disconnecting anyway: %s", connection.id, error)
    connection.page_token_ciphertext = None
    connection.instagram_account_id = None
    connection.status = ConnectionStatus.DISCONNECTED
    connection.status_detail = None
    db.session.execute(delete(LinkAttempt).where(LinkAttempt.connection_id == connection.id))
    db.session.commit()
