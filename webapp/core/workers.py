"""Background work of one serving process: drain loops woken right after a commit that gave them work.

Each worker (webhook processing, sending, media downloads, profile fetches) is a loop that calls its `drain`
function until it reports nothing left, then sleeps until woken or until `idle` seconds pass (so it also picks
up work other processes stored, and work a crash left behind). Under gunicorn's gevent worker, threads are
greenlets. What a worker does is claimed in the database, so several processes can run the same workers.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import Callable

from flask import Flask, has_request_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from webapp.extensions import db

log = logging.getLogger(__name__)

# Webhook requests this process is serving right now: background work steps aside for them (Meta waits for the
# answer, and gives up after 20 s), and catches up when they are done.
_answering = 0
MAX_DEFER = 0.5  # seconds a unit of background work waits at most, so a steady stream cannot starve it

# name -> the running Worker of this process
_running: dict[str, "Worker"] = {}
# name -> (drain, idle seconds): what start_all starts
_registry: dict[str, tuple[Callable[[Flask], int], float]] = {}


@contextmanager
def answering():
    """Wrap the serving of a request that must not wait behind background work (the webhook)."""
    global _answering
    _answering += 1
    try:
        yield
    finally:
        _answering -= 1


def pause_point() -> None:
    """Called by background work between two units (an event, a message, a file). Under gevent a database call
    never yields, so without this a backlog would hold the whole process: requests would wait, and gunicorn
    would kill the worker. Inline work (inside a request) does not pause."""
    if has_request_context():
        return
    time.sleep(0)  # gevent patches time.sleep: other greenlets (the requests) run now
    waited = 0.0
    while _answering and waited < MAX_DEFER:
        time.sleep(0.002)
        waited += 0.002


def register(name: str, drain: Callable[[Flask], int], idle: float = 5.0) -> None:
    """`drain(app)` does a bounded amount of work and returns how much it did (0 = nothing left)."""
    _registry[name] = (drain, idle)


class Worker:
    def __init__(self, app: Flask, name: str, drain: Callable[[Flask], int], idle: float):
        self.app, self.name, self.drain, self.idle = app, name, drain, idle
        self.woken = threading.Event()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def wake(self) -> None:
        self.woken.set()

    def run_once(self) -> int:
        with self.app.app_context():
            try:
                return self.drain(self.app)
            finally:
                db.session.remove()

    def _loop(self) -> None:
        while not self.stopped.is_set():
            self.woken.clear()
            try:
                while not self.stopped.is_set() and self.run_once():
                    pass
            except Exception:  # the database may be restarting: try again after the idle wait
                log.exception("background worker %s failed", self.name)
            self.woken.wait(self.idle)

    def start(self) -> "Worker":
        self.thread = threading.Thread(target=self._loop, name=f"direto-{self.name}", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.woken.set()


def start_all(app: Flask, only: tuple[str, ...] | None = None) -> None:
    """Start the registered workers; BACKGROUND_POLL_SECONDS, when set, replaces every idle poll (the tests' live
    server sets it long: it then works only on what it was woken for, never on the tests' own rows)."""
    poll = app.config.get("BACKGROUND_POLL_SECONDS")
    for name, (drain, idle) in _registry.items():
        if name not in _running and (only is None or name in only):
            _running[name] = Worker(app, name, drain, float(poll) if poll else idle).start()


def stop_all() -> None:
    for worker in _running.values():
        worker.stop()
    _running.clear()


def wake(name: str) -> None:
    worker = _running.get(name)
    if worker is not None:
        worker.wake()


def wake_after_commit(name: str) -> None:
    """Wake worker `name` once the current transaction commits (its work is then visible to it)."""
    db.session.info.setdefault("wake_workers", set()).add(name)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for name in session.info.pop("wake_workers", ()):
        wake(name)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("wake_workers", None)
