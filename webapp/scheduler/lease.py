"""A lease in the database: at most one holder at a time, taken over when the holder stops renewing it."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.scheduler.models import SchedulerLease

LEASE_NAME = "scheduler"
EXPIRED = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def hold(holder: str, ttl: dt.timedelta, now: dt.datetime, name: str = LEASE_NAME) -> bool:
    """Take or renew the lease; True when `holder` has it until now + ttl."""
    if db.session.get(SchedulerLease, name) is None:
        db.session.add(SchedulerLease(name=name, holder=holder, expires_at=now + ttl))
        try:
            db.session.commit()
            return True
        except IntegrityError:  # another process created it first: compete below like everyone else
            db.session.rollback()
    # One atomic UPDATE decides: the row changes only for its holder, or for anyone once it expired.
    result = db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name,
               or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
    )
    db.session.commit()
    return result.rowcount == 1


def release(holder: str, name: str = LEASE_NAME) -> None:
    """Give the lease up at shutdown so another process takes over at once."""
    db.session.execute(
        update(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=EXPIRED)
    )
    db.session.commit()
