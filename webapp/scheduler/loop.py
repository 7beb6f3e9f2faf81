"""The loop every serving process runs: renew or take the lease, and if held, run what is due."""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading

from flask import Flask

from webapp.database import utcnow
from webapp.extensions import db
from webapp.scheduler import jobs, lease

log = logging.getLogger(__name__)


class Scheduler:
    """`tick` and `ttl` default to SCHEDULER_TICK_SECONDS (a tick is a cheap lease renewal, and tunnel notices are
    due to the second) and SCHEDULER_LEASE_SECONDS (a dead holder is replaced within it)."""

    def __init__(self, app: Flask, tick: dt.timedelta | None = None, ttl: dt.timedelta | None = None,
                 job_list=jobs.JOBS):
        self.app, self.jobs = app, job_list
        self.tick = tick or dt.timedelta(seconds=app.config["SCHEDULER_TICK_SECONDS"])
        self.ttl = ttl or dt.timedelta(seconds=app.config["SCHEDULER_LEASE_SECONDS"])
        if self.ttl <= self.tick:
            raise ValueError("the scheduler's lease must outlast its tick, or its holder loses it between renewals")
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def tick_once(self, now: dt.datetime | None = None) -> list[str]:
        now = now or utcnow()
        with self.app.app_context():
            try:
                if not lease.hold(self.holder, self.ttl, now):
                    return []
                return jobs.run_due(self.app, now, self.jobs)
            finally:
                db.session.remove()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.tick_once()
            except Exception:  # the database may be restarting: try again next tick
                log.exception("scheduler tick failed")
            self.stopped.wait(self.tick.total_seconds())

    def start(self) -> "Scheduler":
        # Under gunicorn's gevent worker threading is patched: this is a greenlet, not an OS thread.
        self.thread = threading.Thread(target=self._run, name="direto-scheduler", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        with self.app.app_context():
            try:
                lease.release(self.holder)
            finally:
                db.session.remove()
