"""The sandbox's run-time state: settings, storage, knobs, the clock and the webhook worker.

One `Sandbox` exists per sandbox Flask app (so one per worker process); anything the processes must agree
on lives in the database, read through `knobs()`.
"""
from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Callable

from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from .models import Knob, Store
from .settings import SandboxSettings

CLOCK_CACHE_SECONDS = 0.5


def knob_defaults(settings: SandboxSettings) -> dict[str, Any]:
    """Run-time knobs and their defaults; PATCH /sandbox/api/settings changes them."""
    return {
        "batching": settings.batching,  # several events per POST
        "batch_max_events": 100,  # Meta: up to 1000 per POST
        "batch_window_ms": 1000,  # how long the worker waits to gather a batch
        "shuffle_batches": False,  # deliver a batch's events out of order, as Meta may
        "entry_id": "ig",  # entry[].id: the IG account id ("ig", the docs) or its page id ("page")
        "retry_schedule": list(settings.retry_schedule),  # seconds before each retry
        "webhook_timeout": settings.webhook_timeout,
        "webhook_url": settings.webhook_url,
        "sha1_signature": True,  # also send the legacy X-Hub-Signature
        "escape_slashes": False,  # older docs: Meta escapes '/' as '\/'
        "require_subscription": True,  # deliver only for pages subscribed with subscribed_apps
        # Messenger disables webhooks (unsubscribes the app) after about an hour of failures; None = never.
        "unsubscribe_after_seconds": None,
        "human_agent": False,  # the app has the Human Agent feature (HUMAN_AGENT tag)
        "text_limit_bytes": 1000,
        "media_url_lifetime_hours": 72,  # CDN links in webhooks expire (stories: 24 h); 0 = never
        "short_lived_seconds": 6683,  # a short-lived user token (about 2 h)
        "long_lived_seconds": 5183944,  # about 60 days
        "clock_offset_ms": 0,  # time travel: added to the wall clock
    }


class Sandbox:
    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.store = Store(settings.database_url)
        self.defaults = knob_defaults(settings)
        # Tests may replace this with a fixed clock; everything reads time through now_ms().
        self.wall_clock: Callable[[], float] = time.time
        self._offset_cache: tuple[float, int] = (0.0, 0)
        self._worker_lock = threading.Lock()
        self.worker = None  # webhooks.DeliveryWorker, started lazily
        event.listen(self.store.sessions, "after_commit", self._after_commit)

    def close(self) -> None:
        """Stop the delivery worker and close pooled connections (tests, shutdown)."""
        if self.worker is not None:
            self.worker.stop()
            self.worker.join(5)
        self.store.engine.dispose()

    # ----- knobs -----
    def knobs(self) -> dict[str, Any]:
        values = dict(self.defaults)
        with self.store.tx() as session:
            for row in session.query(Knob).all():
                values[row.key] = row.value
        return values

    def knob(self, name: str) -> Any:
        with self.store.tx() as session:
            row = session.get(Knob, name)
            return self.defaults.get(name) if row is None else row.value

    def set_knobs(self, values: dict[str, Any]) -> None:
        with self.store.tx() as session:
            for key, value in values.items():
                session.merge(Knob(key=key, value=value))
        self._offset_cache = (0.0, 0)

    def session_secret(self) -> str:
        """The cookie-signing key, shared by every process through the database."""
        if self.settings.secret_key:
            return self.settings.secret_key
        try:
            with self.store.tx() as session:
                row = session.get(Knob, "session_secret")
                if row is None:
                    row = Knob(key="session_secret", value=secrets.token_hex(32))
                    session.add(row)
                return row.value
        except IntegrityError:  # another worker process created it first: use theirs
            return self.knob("session_secret")

    # ----- time -----
    def now_ms(self) -> int:
        checked_at, offset = self._offset_cache
        if time.monotonic() - checked_at > CLOCK_CACHE_SECONDS:
            offset = int(self.knob("clock_offset_ms") or 0)
            self._offset_cache = (time.monotonic(), offset)
        return int(self.wall_clock() * 1000) + offset

    # ----- the webhook worker -----
    def ensure_worker(self) -> None:
        if not self.settings.start_worker or (self.worker and self.worker.is_alive()):
            return
        from .webhooks import DeliveryWorker

        with self._worker_lock:
            if not (self.worker and self.worker.is_alive()):
                self.worker = DeliveryWorker(self)
                self.worker.start()

    def wake_worker(self) -> None:
        self.ensure_worker()
        if self.worker:
            self.worker.wake()

    def _after_commit(self, session) -> None:
        """A transaction that queued webhook events wakes the worker once the rows are visible."""
        if session.info.pop("wake_outbox", False):
            self.wake_worker()


def current() -> Sandbox:
    return current_app.extensions["meta_sandbox"]
