"""The periodic jobs and running those that are due (called only by the lease holder)."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Callable

from flask import Flask

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
        linking.check_health(connection, client, app.config)


JOBS = (Job("check-connections", dt.timedelta(days=1), check_connections),)


def run_due(app: Flask, now: dt.datetime, jobs=JOBS) -> list[str]:
    """Run each job whose time has come, then book its next run; a failing job is logged and rescheduled."""
    ran = []
    for job in jobs:
        row = db.session.get(ScheduledJob, job.name)
        if row is None:
            row = ScheduledJob(name=job.name, next_run_at=now)
            db.session.add(row)
            db.session.commit()
        if row.next_run_at > now:
            continue
        try:
            job.run(app)
            row.last_error = None
        except Exception as error:  # one broken job must not stop the others, nor the loop
            db.session.rollback()
            log.exception("scheduled job %s failed", job.name)
            row = db.session.get(ScheduledJob, job.name)
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
        row.last_run_at = now
        row.next_run_at = now + job.every
        db.session.commit()
        ran.append(job.name)
    return ran
