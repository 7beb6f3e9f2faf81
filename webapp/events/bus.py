"""The event bus: record an event with the change it reports, and wake whoever listens once it is committed.

Recording is a row in `live_events` (same transaction: no event without its change, no change without its
event). Waking is in process by default; issue 7's Redis bus replaces `_wake` behind the same calls.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from webapp.events.models import LiveEvent
from webapp.extensions import db

log = logging.getLogger(__name__)

_listeners: list[Callable[[], None]] = []
_lock = threading.Lock()


def publish(kind: str, *, ticket=None, department_id: int | None = None, connection_id: int | None = None,
            **payload) -> LiveEvent:
    """Add the event to the current transaction; listeners hear of it after the commit."""
    if ticket is not None:
        department_id = department_id or ticket.department_id
        connection_id = connection_id or ticket.connection_id
    row = LiveEvent(kind=kind, ticket_id=ticket.id if ticket is not None else None, department_id=department_id,
                    connection_id=connection_id, payload=payload or None)
    db.session.add(row)
    db.session.info["live_events_pending"] = True
    return row


def subscribe(listener: Callable[[], None]) -> Callable[[], None]:
    """Call `listener()` after each commit that recorded events (it reads the new rows); returns the unsubscribe."""
    with _lock:
        _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def _wake(session: Session) -> None:
    if not session.info.pop("live_events_pending", False):
        return
    for listener in list(_listeners):
        try:
            listener()
        except Exception:  # a broken listener must not undo a committed change
            log.exception("live event listener failed")


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    _wake(session)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("live_events_pending", None)
