"""The periodic jobs and running those that are due (called only by the lease holder)."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from flask import Flask

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.scheduler.models import ScheduledJob

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    run: Callable[[Flask], None]


def check_connections(app: Flask) -> None:
    """Daily: is every linked connection still subscribed with a working token? (issue 4, health)"""
    from sqlalchemy import select

    from webapp.connections import linking
    from webapp.connections.models import Connection, ConnectionStatus
    from webapp.meta.client import GraphClient

    client = GraphClient.from_config(app.config)
    linked = db.session.scalars(select(Connection).where(Connection.status == ConnectionStatus.ACTIVE)).all()
    for connection in linked:
        try:
            linking.check_health(connection, client, app.config)
        except Exception:  # one connection's surprise must not leave the others unchecked
            db.session.rollback()
            log.exception("health check of connection %s failed", connection.id)
    linking.forget_expired_attempts()


def ticket_clock(app: Flask) -> None:
    """Every few seconds: tunnel notices at their time, the bot's no-answer timeouts."""
    from webapp.database import utcnow
    from webapp.tickets import clock

    clock.tick(utcnow())


def sweep(app: Flask) -> None:
    """Every minute, the safety net under the per-process workers: deliveries, sends, downloads and profiles that
    a crash or an outage left behind, echoes that waited too long, changes whose message never came."""
    from webapp.database import utcnow
    from webapp.messages import early, inbound, media, sender
    from webapp.tickets import profiles
    from webapp.webhooks import processor

    now = utcnow()
    for _ in range(50):  # bounded: a huge backlog is the workers' job, not one tick's
        if not processor.drain(app):
            break
    sender.sweep(app)
    media.drain(app)
    early.settle_stale_echoes(now)
    inbound.forget_early_changes(now - dt.timedelta(days=30))
    profiles.refresh_due(app, now)


LIVE_EVENTS_KEPT = dt.timedelta(days=2)


def forget_live_events(app: Flask) -> None:
    """Hourly: live events older than LIVE_EVENTS_KEPT are of no use to a page (one that was away longer reloads).
    The newest row always stays: SQLite would otherwise give its id again, under pages' resume points."""
    from sqlalchemy import delete, func, select

    from webapp.database import utcnow
    from webapp.events.models import LiveEvent

    newest = db.session.scalar(select(func.max(LiveEvent.id)))
    if newest is not None:
        db.session.execute(delete(LiveEvent).where(LiveEvent.created_at < utcnow() - LIVE_EVENTS_KEPT,
                                                   LiveEvent.id < newest))
        db.session.commit()


JOBS = (
    Job("check-connections", dt.timedelta(days=1), check_connections),
    Job("ticket-clock", dt.timedelta(seconds=5), ticket_clock),
    Job("sweep", dt.timedelta(minutes=1), sweep),
    Job("forget-live-events", dt.timedelta(hours=1), forget_live_events),
)


def _claim(job: Job, now: dt.datetime) -> bool:
    """Book the next run before running this one. One atomic UPDATE decides, so even if the lease changed hands
    during a long job, no second process runs the same occurrence."""
    if db.session.get(ScheduledJob, job.name) is None:
        db.session.add(ScheduledJob(name=job.name, next_run_at=now))
        try:
            db.session.commit()
        except IntegrityError:  # created by another process a moment ago
            db.session.rollback()
    claimed = db.session.execute(
        update(ScheduledJob)
        .where(ScheduledJob.name == job.name, ScheduledJob.next_run_at <= now)
        .values(next_run_at=now + job.every, last_run_at=now)
    ).rowcount == 1
    db.session.commit()
    return claimed


def run_due(app: Flask, now: dt.datetime, jobs=JOBS) -> list[str]:
    """Run each job whose time has come; a failing job is logged, and runs again at its next time."""
    ran = []
    for job in jobs:
        if not _claim(job, now):
            continue
        error = None
        try:
            job.run(app)
        except Exception as exc:  # one broken job must not stop the others, nor the loop
            db.session.rollback()
            log.exception("scheduled job %s failed", job.name)
            error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.execute(update(ScheduledJob).where(ScheduledJob.name == job.name).values(last_error=error))
        db.session.commit()
        ran.append(job.name)
    return ran
