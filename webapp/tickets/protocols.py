"""Protocol numbers: unique and gap-tolerant, even with several processes opening tickets at the same moment."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.tickets.models import ProtocolCounter
from webapp.workspace.protocol import format_protocol

ATTEMPTS = 5


def next_sequence(day: dt.date) -> int:
    """Take the next number of `day`. One UPDATE ... RETURNING hands it out: the database serialises writers
    (a row lock on PostgreSQL, the write lock on SQLite), so two callers never get the same number. It commits
    at once, keeping the lock short; a number whose ticket then fails is simply skipped."""
    for _ in range(ATTEMPTS):
        taken = db.session.execute(
            update(ProtocolCounter).where(ProtocolCounter.day == day)
            .values(last_seq=ProtocolCounter.last_seq + 1).returning(ProtocolCounter.last_seq)
        ).scalar_one_or_none()
        if taken is not None:
            db.session.commit()
            return taken
        db.session.add(ProtocolCounter(day=day, last_seq=1))  # the day's first ticket
        try:
            db.session.commit()
            return 1
        except IntegrityError:  # another process opened the day's first ticket: take the next one instead
            db.session.rollback()
    raise RuntimeError(f"could not allocate a protocol number for {day}")


def next_protocol(now: dt.datetime, protocol_format: str, time_zone: str) -> str:
    """The protocol for a ticket opened at `now`: the company's format, its local date, the day's sequence."""
    day = now.astimezone(ZoneInfo(time_zone)).date()
    return format_protocol(protocol_format, day, next_sequence(day))
