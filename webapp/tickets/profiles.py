"""A contact's Instagram profile (name, @username, picture), read from Meta with the connection's page token.

Meta may refuse (230: no consent yet; 9010: no such user, or they blocked the business) or fail: the contact
then stays as it is, the reason is kept, and the message that brought it is never held back or dropped.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select

from webapp.connections import linking
from webapp.connections.models import Connection
from webapp.extensions import db
from webapp.meta import errors
from webapp.meta.client import GraphClient
from webapp.tickets.models import Contact

log = logging.getLogger(__name__)

RETRY_AFTER = dt.timedelta(hours=1)  # a failed or refused fetch is tried again this much later
REFRESH_AFTER = dt.timedelta(days=2)  # Meta's profile_pic links expire within days


def fetch(contact: Contact, connection: Connection, config, now: dt.datetime, client: GraphClient | None = None) -> bool:
    """Read the profile and store what came back; True when it was read. Commits."""
    token = linking.page_token(connection, config) if connection.is_linked else None
    contact.profile_checked_at = now
    if token is None:
        contact.profile_error = "no page token"
        db.session.commit()
        return False
    try:
        with linking.guarded(connection):
            profile = (client or GraphClient.from_config(config)).user_profile(contact.igsid, token)
    except errors.MetaError as error:
        contact.profile_error = f"{type(error).__name__}: {error}"[:255]
        db.session.commit()
        log.info("profile of contact %s not read: %s", contact.id, type(error).__name__)
        return False
    # name and profile_pic may be null (meta-platform.md §5): keep what we knew rather than forget it.
    if profile.get("name"):
        contact.name = str(profile["name"])[:255]
    if profile.get("username"):
        contact.username = str(profile["username"])[:64]
    if profile.get("profile_pic"):
        contact.picture_url = str(profile["profile_pic"])
    contact.profile_error = None
    db.session.commit()
    return True


def due(now: dt.datetime, limit: int = 50) -> list[Contact]:
    """Contacts whose profile failed an hour ago or is old enough for its picture link to have expired."""
    return list(db.session.scalars(select(Contact).where(or_(
        Contact.profile_checked_at.is_(None),
        (Contact.profile_error.is_not(None)) & (Contact.profile_checked_at < now - RETRY_AFTER),
        Contact.profile_checked_at < now - REFRESH_AFTER,
    )).order_by(Contact.profile_checked_at.nulls_first()).limit(limit)))


def refresh_due(app, now: dt.datetime) -> int:
    """The scheduler's pass: fetch what `due` returns (one client, a bounded batch)."""
    client = GraphClient.from_config(app.config)
    contacts = due(now)
    for contact in contacts:
        connection = db.session.get(Connection, contact.connection_id)
        fetch(contact, connection, app.config, now, client)
    return len(contacts)
