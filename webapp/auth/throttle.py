"""Slow down password guessing: too many failures for one e-mail, or from one address, lock sign-in for a while.

Kept in the database so every worker and machine shares the count.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from webapp.database import utcnow
from webapp.extensions import db
from webapp.team.models import LoginAttempt

# An address may fail for several people (an office behind one NAT) before it is locked as a whole.
ADDRESS_FACTOR = 4


def seconds_locked(email: str, remote_addr: str, limit: int, window_seconds: int, now: dt.datetime | None = None) -> int:
    """0 when sign-in may be tried; otherwise how long until the oldest counted failure expires."""
    now = now or utcnow()
    since = now - dt.timedelta(seconds=window_seconds)
    for column, value, allowed in (
        (LoginAttempt.email, email, limit),
        (LoginAttempt.remote_addr, remote_addr, limit * ADDRESS_FACTOR),
    ):
        count, oldest = db.session.execute(
            select(func.count(), func.min(LoginAttempt.created_at)).where(column == value, LoginAttempt.created_at > since)
        ).one()
        if count >= allowed:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.timezone.utc)
            return max(1, int((oldest - since).total_seconds()))
    return 0


def record_failure(email: str, remote_addr: str, window_seconds: int) -> None:
    now = utcnow()
    db.session.add(LoginAttempt(email=email, remote_addr=remote_addr, created_at=now))
    # Old rows are useless: prune them as we go instead of running a cleanup job.
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - dt.timedelta(seconds=window_seconds)))
    db.session.commit()


def clear_failures(email: str) -> None:
    """After a successful sign-in. Only that e-mail's failures go: an address's failures against *other* accounts
    must keep counting, or signing in as oneself would reset someone guessing the admin's password."""
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    db.session.commit()
