"""The event bus: record an event with the change it reports, and wake whoever listens once it is committed.

Recording is a row in `live_events` (same transaction: no event without its change, no change without its
event). Waking is in process; with REDIS_URL, each such commit is also published once on Redis, so the hubs of
every other process wake too (webapp.events.relay).
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from flask import Flask, current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from webapp.events import relay
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


def wake_sources(app: Flask) -> tuple[Callable, ...]:
    """What wakes a hub of `app`: this process's commits, and with Redis every other process's."""
    url = app.config.get("REDIS_URL")
    return (subscribe, relay.for_url(url).subscribe) if url else (subscribe,)


def _wake(session: Session) -> None:
    if not session.info.pop("live_events_pending", False):
        return
    for listener in list(_listeners):
        try:
            listener()
        except Exception:  # a broken listener must not undo a committed change
            log.exception("live event listener failed")
    url = current_app.config.get("REDIS_URL") if has_app_context() else None
    if url:
        relay.for_url(url).publish()


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    _wake(session)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("live_events_pending", None)
