"""The live stream's engine: one hub per serving process hands each new live event to the open pages that may hear it.

The hub is woken by the bus after every commit that recorded events, in this process or, with Redis, in any other
(and polls every SSE_POLL seconds for what another process wrote without Redis, or a wake that was missed). It
reads the new `live_events` rows once, decides who may hear each (webapp.events.audience), renders each event's
frames once per language (webapp.inbox.live) and puts them in the inbox of every listener that may hear it; each
open stream (webapp.events.views) is one listener. Every heartbeat the hub reloads the listening users in one
query: a deactivated user, or one whose session token rotated, stops hearing at once.

No database session is held while waiting: every read ends with the session removed.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import func, or_, select

from webapp.database import UNAVAILABLE
from webapp.events import bus
from webapp.events.audience import Audience, Item, Listener, audiences, encode, read_events, resync_frame
from webapp.events.models import LiveEvent
from webapp.extensions import db

log = logging.getLogger(__name__)

HUB_KEY = "direto_live_hub"
STOPPING_KEY = "direto_live_stopping"
BATCH = 200  # rows read at a time
GAP_WAIT = 10.0  # seconds an id skipped by a transaction still in flight may yet commit (PostgreSQL)
MAX_GAPS = 1000
RENDERED_KEPT = 4096  # (event, language) renderings kept for streams that catch up
YIELD_EVERY = 500  # listeners served between two yields to the requests of the process
STOP_CHECK = 0.5  # seconds between two looks at whether the process is shutting down


@contextmanager
def rendering(app: Flask):
    """What rendering a fragment needs outside any user's request: an app context, and a request for url_for
    at the public address. Nobody is signed in there, so no fragment depends on who reads it."""
    # An app context of its own: inside a request, the request's session is left alone.
    with app.app_context(), app.test_request_context(base_url=app.config["PUBLIC_BASE_URL"]):
        try:
            yield
        finally:
            db.session.remove()


# ---- the hub ------------------------------------------------------------------------------------


class Hub:
    """One per serving process (per app): reads new events once and hands them to every listener."""

    def __init__(self, app: Flask, wake_sources: Iterable[Callable] | None = None):
        self.app = app
        self.poll = float(app.config["SSE_POLL"])
        self.heartbeat = float(app.config["SSE_HEARTBEAT"])
        self.catch_up_limit = int(app.config["SSE_CATCH_UP_LIMIT"])
        # Each: subscribe(callback) -> unsubscribe. By default this process's commits, and Redis's news of the others'.
        self.wake_sources = tuple(bus.wake_sources(app) if wake_sources is None else wake_sources)
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()
        self._woken = threading.Event()
        self._stopped = threading.Event()
        self._unsubscribe: list[Callable] = []
        self._thread: threading.Thread | None = None
        self._last = 0  # the highest id read
        self._last_created = None  # that row's created_at: SQLite gives the ids of deleted newest rows again
        self._reuses_ids = False
        self._gaps: dict[int, float] = {}  # ids skipped so far -> when noticed
        self._reading = threading.Lock()
        self._rendered: OrderedDict[tuple, tuple[bytes, list]] = OrderedDict()
        self._rendered_lock = threading.Lock()

    # -- life cycle

    def start(self) -> "Hub":
        with rendering(self.app):
            self._reuses_ids = db.engine.dialect.name == "sqlite"
            self._skip_to_newest()
        self._unsubscribe = [subscribe(self.wake) for subscribe in self.wake_sources]
        # Under gunicorn's gevent worker threading is patched: this is a greenlet.
        self._thread = threading.Thread(target=self._run, name="direto-live-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._stopped.set()
        self._woken.set()
        self._close_all()

    def stopping(self) -> bool:
        """The serving process is shutting down (see `stop_when`)."""
        check = self.app.extensions.get(STOPPING_KEY)
        return bool(check and check())

    def wake(self) -> None:
        """Called by the bus in the committing thread, after every commit that recorded events: O(1)."""
        self._woken.set()

    def listen(self, listener: Listener) -> bool:
        """Start handing events to `listener`; False once the process is stopping."""
        if self._stopped.is_set() or self.stopping():
            return False
        with self._lock:
            self._listeners.add(listener)
        return True

    def forget(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def _close_all(self) -> None:
        with self._lock:
            listeners, self._listeners = list(self._listeners), set()
        for listener in listeners:
            listener.close()

    def _run(self) -> None:
        next_read = next_check = time.monotonic()
        while not self._stopped.is_set():
            woken = self._woken.wait(min(self.poll, self.heartbeat, STOP_CHECK))
            self._woken.clear()
            if self.stopping():  # open streams end now, so the worker need not wait out its graceful timeout
                self._stopped.set()
                self._close_all()
                break
            now = time.monotonic()
            if not woken and now < min(next_read, next_check):
                continue
            next_read = now + self.poll
            try:
                with rendering(self.app):
                    self._read()
                    if now >= next_check:
                        next_check = now + self.heartbeat
                        self._check_users()
            except Exception:  # the database may be restarting: the next poll tries again
                log.exception("live event hub failed")

    # -- reading and handing out

    def _snapshot(self) -> list[Listener]:
        with self._lock:
            return list(self._listeners)

    def _read(self) -> None:
        with self._reading:
            while True:
                if not self._snapshot():
                    # Nobody listens: skip ahead. A stream registers before it reads its catch-up, so whatever
                    # it did not read there is above this id.
                    self._skip_to_newest()
                    return
                now = time.monotonic()
                self._gaps = {gap: seen for gap, seen in self._gaps.items() if now - seen < GAP_WAIT}
                # On SQLite the row read last comes again, to see that its id was not given to another one.
                anchored = self._reuses_ids and self._last > 0
                newer = LiveEvent.id >= self._last if anchored else LiveEvent.id > self._last
                rows, tickets = read_events(or_(newer, LiveEvent.id.in_(self._gaps)) if self._gaps else newer,
                                            limit=BATCH + anchored)  # tickets: held until handed out
                if anchored:
                    anchor = next((row for row in rows if row.id == self._last), None)
                    if anchor is None or anchor.created_at != self._last_created:
                        self._start_over()
                        return
                    rows.remove(anchor)
                if not rows:
                    if (db.session.scalar(select(func.max(LiveEvent.id))) or 0) < self._last:
                        self._start_over()  # the newest rows were deleted
                    return
                self._hand_out(rows)
                del tickets
                if len(rows) < BATCH:
                    return
                time.sleep(0)  # under gevent the reads never yield: let the requests run between batches

    def _skip_to_newest(self) -> None:
        newest = select(LiveEvent.id, LiveEvent.created_at).order_by(LiveEvent.id.desc()).limit(1)
        row = db.session.execute(newest).first()
        self._last, self._last_created = (row.id, row.created_at) if row else (0, None)
        self._gaps = {}

    def check_ids(self) -> None:
        """Before a stream registers: if SQLite (without AUTOINCREMENT) gave the ids of deleted newest rows to
        new ones, the ids the streams hold mean nothing any more; notice it now, not after the stream's catch-up."""
        if self._reuses_ids and self._last:
            with rendering(self.app), self._reading:
                created = db.session.scalar(select(LiveEvent.created_at).where(LiveEvent.id == self._last))
                if created != self._last_created:
                    self._start_over()

    def _start_over(self) -> None:
        """Every open stream resyncs (its page reloads what it shows) and goes on from the newest id."""
        self._skip_to_newest()
        resync = Item(self._last, Audience(everyone=True), {}, {}, resync=True)
        for listener in self._snapshot():
            listener.deliver([resync])

    def _hand_out(self, rows: list[LiveEvent]) -> None:
        # Everything that reads the database (who hears, rendering) comes before the hub moves past these rows: a
        # database going away half-way leaves them to be read again at the next poll, not lost to every stream.
        read = [(row.id, row.created_at) for row in rows]
        late = {row_id for row_id, _ in read if row_id in self._gaps}
        heard = audiences(rows)
        listeners = self._snapshot()
        plan, needed = [], {}
        for listener in listeners:
            hears = [row_id for row_id, _ in read if listener.hears(heard[row_id])]
            if hears:
                plan.append((listener, hears))
                for row_id in hears:
                    needed.setdefault(row_id, set()).add(listener.language)
        items = {}
        for row in rows:
            row_id = row.id
            for language in sorted(needed.get(row_id, ())):
                chunk, frames = self.render(row, language)
                item = items.setdefault(row_id, Item(row_id, heard[row_id], {}, {}, row_id in late))
                item.chunks[language], item.frames[language] = chunk, frames
            if len(rows) > 1:
                time.sleep(0)  # rendering never yields under gevent: webhooks waiting for their 200 go first
        for row_id, created_at in read:
            if self._gaps.pop(row_id, None) is None and row_id > self._last:
                missing = range(self._last + 1, row_id)
                if len(self._gaps) + len(missing) <= MAX_GAPS:
                    self._gaps.update(dict.fromkeys(missing, time.monotonic()))
                self._last, self._last_created = row_id, created_at
        for count, (listener, hears) in enumerate(plan, 1):
            listener.deliver([items[row_id] for row_id in hears if row_id in items])
            if count % YIELD_EVERY == 0:
                time.sleep(0)

    def render(self, row: LiveEvent, language: str) -> tuple[bytes, list]:
        """The event's frames in `language`, rendered once (inside `rendering`). A broken one is logged and sent
        as nothing: it must not end the stream, nor hold back the events after it. A database that went away is
        not the event's fault: that raises, and nothing is remembered."""
        from webapp.inbox.live import frames

        key = (row.id, row.created_at, language)  # SQLite may give a deleted row's id again
        with self._rendered_lock:
            if key in self._rendered:
                return self._rendered[key]
        try:
            made = frames(row, language)
            found = (encode(row.id, made), made)
        except UNAVAILABLE:  # the database is away, not the event broken
            raise
        except Exception:
            log.exception("rendering live event %s (%s) failed", row.id, row.kind)
            db.session.rollback()
            found = (b"", [])
        with self._rendered_lock:
            self._rendered[key] = found
            while len(self._rendered) > RENDERED_KEPT:
                self._rendered.popitem(last=False)
        return found

    # -- who still may listen

    def _check_users(self) -> None:
        """Reload every listening user once: deactivated or signed out elsewhere -> closed; role and departments
        changed -> heard from now on."""
        from webapp.team.models import User, user_departments

        listeners = self._snapshot()
        ids = sorted({listener.user_id for listener in listeners})
        users, departments = {}, {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            query = select(User.id, User.active, User.session_token, User.role, User.language).where(User.id.in_(chunk))
            users.update((row.id, row) for row in db.session.execute(query))
            query = select(user_departments.c.user_id, user_departments.c.department_id).where(
                user_departments.c.user_id.in_(chunk))
            for user_id, department_id in db.session.execute(query):
                departments.setdefault(user_id, set()).add(department_id)
        for listener in listeners:
            user = users.get(listener.user_id)
            if user is None or not user.active or user.session_token != listener.session_token:
                self.forget(listener)
                listener.close()
                continue
            listener.sees_all = user.role.sees_every_department  # a row, not a User: the role's rule
            listener.departments = frozenset(departments.get(listener.user_id, ()))
            listener.language = user.language

    # -- what a stream missed

    def catch_up(self, listener: Listener, after: int | None) -> tuple[int, list[tuple[int, bytes]]]:
        """What `listener` missed after event `after`, from the database: (the id the stream goes on from, the
        events' ids and encoded frames). Call it after `listen`, so nothing falls between the two. Without
        `after`: nothing, from the newest id. Too many missed, or an id the log no longer holds: a resync frame."""
        with rendering(self.app):
            top = db.session.scalar(select(func.max(LiveEvent.id))) or 0
            if after is None:
                return top, []
            oldest = db.session.scalar(select(func.min(LiveEvent.id)))
            if after > top or (oldest is not None and after < oldest - 1):
                return top, [(top, resync_frame(top))]
            rows, tickets = read_events(LiveEvent.id > after, limit=self.catch_up_limit + 1)  # tickets: held
            if len(rows) > self.catch_up_limit:
                return top, [(top, resync_frame(top))]
            heard = audiences(rows)
            missed = [(row.id, self.render(row, listener.language)[0]) for row in rows if listener.hears(heard[row.id])]
            del tickets
            return max([after, *(row.id for row in rows)]), missed


_hubs_lock = threading.Lock()


def hub_for(app: Flask) -> Hub:
    """The process's hub for `app`, started on first use."""
    hub = app.extensions.get(HUB_KEY)
    if hub is None:
        with _hubs_lock:
            hub = app.extensions.get(HUB_KEY)
            if hub is None:
                hub = app.extensions[HUB_KEY] = Hub(app).start()
    return hub


def stop_when(app: Flask, stopping: Callable[[], bool]) -> None:
    """Let the hub end every open stream once `stopping()` holds (gunicorn's worker is shutting down), instead of
    the worker waiting its graceful timeout for them."""
    app.extensions[STOPPING_KEY] = stopping


def stop_hub(app: Flask) -> None:
    hub = app.extensions.pop(HUB_KEY, None)
    if hub is not None:
        hub.stop()
