"""Turning stored deliveries into messages and tickets, after the 200, and again after any crash.

A delivery is claimed with one atomic UPDATE (so two processes never work on the same one), parsed, and each
of its events recorded on its own (webapp.messages.inbound, idempotent per mid). A delivery left "processing"
by a process that died is claimed again after STALE_CLAIM (a long one renews its claim as it goes); one whose
processing raised is retried with backoff; one the database went away under is handed back as soon as it
answers again. Deliveries for accounts no connection knows, and shapes with nothing to do, end "ignored".
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time

from flask import Flask
from sqlalchemy import and_, or_, select, update

from webapp.connections.models import Connection
from webapp.core import workers
from webapp.database import UNAVAILABLE, utcnow
from webapp.extensions import db
from webapp.messages import inbound
from webapp.webhooks import parse
from webapp.webhooks.models import DeliveryStatus, WebhookDelivery

log = logging.getLogger(__name__)

WORKER = "webhooks"
BATCH = 20
# Processing is idempotent per mid, so a claim taken again too early costs work, never a second message: short,
# so that DMs a killed process had claimed wait one minute, not many.
STALE_CLAIM = dt.timedelta(minutes=1)
BACKOFF = (dt.timedelta(seconds=30), dt.timedelta(minutes=2), dt.timedelta(minutes=10), dt.timedelta(hours=1))
MAX_ATTEMPTS = 10  # then it stays "failed" with its error, for an admin to look at; nothing is deleted


def _claimable(now: dt.datetime):
    return or_(
        WebhookDelivery.status == DeliveryStatus.PENDING,
        and_(WebhookDelivery.status == DeliveryStatus.PROCESSING, WebhookDelivery.claimed_at < now - STALE_CLAIM),
        and_(WebhookDelivery.status == DeliveryStatus.FAILED, WebhookDelivery.next_attempt_at <= now,
             WebhookDelivery.attempts < MAX_ATTEMPTS),
    )


def claim(now: dt.datetime, limit: int = BATCH, only: int | None = None) -> list[int]:
    query = select(WebhookDelivery.id).where(_claimable(now)).order_by(WebhookDelivery.id).limit(limit)
    if only is not None:
        query = query.where(WebhookDelivery.id == only)
    claimed = []
    for delivery_id in db.session.scalars(query).all():
        taken = db.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, _claimable(now))
            .values(status=DeliveryStatus.PROCESSING, claimed_at=now, attempts=WebhookDelivery.attempts + 1)
        ).rowcount
        if taken == 1:
            claimed.append(delivery_id)
    db.session.commit()
    return claimed


class Routes:
    """Which connection an event belongs to: by Instagram account id, or by page id (the `{PAGE_ID}` variant).
    Looked up once per delivery."""

    def __init__(self):
        self.cache: dict[str, int | None] = {}

    def connection(self, event: parse.Event) -> Connection | None:
        for key in (event.account_id, event.entry_id):
            if not key or key == "0":
                continue
            if key not in self.cache:
                self.cache[key] = db.session.scalar(select(Connection.id).where(or_(
                    Connection.instagram_account_id == key, Connection.page_id == key)))
            if self.cache[key] is not None:
                return db.session.get(Connection, self.cache[key])
        return None


class Claim:
    """The deliveries one drain step claimed, at one time: renewed as the work goes, so no other process takes the
    ones still to do as stale, and handed back as they were claimed (never another process's newer claim)."""

    def __init__(self, ids: list[int], at: dt.datetime):
        self.ids, self.at, self.renewed = list(ids), at, time.monotonic()

    def keep(self) -> None:
        """Called between units of work: renews the claim of what is left once a third of STALE_CLAIM went by."""
        if time.monotonic() - self.renewed < STALE_CLAIM.total_seconds() / 3 or not self.ids:
            return
        now = utcnow()
        db.session.execute(update(WebhookDelivery).where(
            WebhookDelivery.id.in_(self.ids), WebhookDelivery.status == DeliveryStatus.PROCESSING,
            WebhookDelivery.claimed_at == self.at).values(claimed_at=now))
        db.session.commit()
        self.at, self.renewed = now, time.monotonic()


def process(delivery_id: int, app: Flask, now: dt.datetime | None = None, claim_kept: Claim | None = None
            ) -> DeliveryStatus:
    """Record every event of one claimed delivery and mark how it ended."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    now = now or utcnow()
    try:
        parsed = parse.parse(json.loads(delivery.body))
    except (ValueError, RecursionError) as error:  # the endpoint checked it; a stored body can still surprise
        return _finish(delivery_id, DeliveryStatus.IGNORED, f"unreadable body: {type(error).__name__}")
    routes, failures, outcomes, unknown = Routes(), [], [], set()
    for event in parsed.events:
        if claim_kept is not None:
            claim_kept.keep()  # a long delivery (profile lookups on a slow Graph) stays ours
        connection = routes.connection(event)
        if connection is None:
            unknown.add(event.account_id)
            continue
        workers.pause_point()
        try:
            outcomes.append(inbound.record(event, connection, now, app.config))
        except Exception as error:  # one bad event must not hold back the others; the delivery is retried
            db.session.rollback()
            log.exception("webhook delivery %s: event %s failed", delivery_id, event.kind)
            failures.append(f"{event.kind} {event.mid or ''}: {type(error).__name__}: {error}"[:500])
    if failures:
        return _finish(delivery_id, DeliveryStatus.FAILED, "; ".join(failures)[:2000], now)
    notes = parsed.skipped + ([f"no connection for account {', '.join(sorted(unknown))}"] if unknown else [])
    status = DeliveryStatus.PROCESSED if outcomes else DeliveryStatus.IGNORED
    return _finish(delivery_id, status, "; ".join(notes)[:2000] or None, now)


def _finish(delivery_id: int, status: DeliveryStatus, note: str | None, now: dt.datetime | None = None
            ) -> DeliveryStatus:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    now = now or utcnow()
    delivery.status, delivery.error = status, note
    if status == DeliveryStatus.FAILED:
        delivery.next_attempt_at = now + BACKOFF[min(delivery.attempts, len(BACKOFF)) - 1]
    else:
        delivery.processed_at, delivery.next_attempt_at = now, None
    db.session.commit()
    return status


# Deliveries this process claimed and could not finish because the database went away, with the time of our
# claim: handed back (pending) once it answers, so they wait seconds, not STALE_CLAIM.
_abandoned: dict[int, dt.datetime] = {}


def _hand_back_abandoned() -> None:
    for delivery_id, claimed_at in sorted(_abandoned.items()):
        db.session.execute(update(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.status == DeliveryStatus.PROCESSING,
            WebhookDelivery.claimed_at == claimed_at).values(status=DeliveryStatus.PENDING, claimed_at=None))
        db.session.commit()
        del _abandoned[delivery_id]


def drain(app: Flask, limit: int = BATCH) -> int:
    """The background worker's step: claim a batch of deliveries and process them; 0 when none was waiting."""
    _hand_back_abandoned()
    now = utcnow()
    claimed = Claim(claim(now, limit), now)
    count = len(claimed.ids)
    while claimed.ids:
        delivery_id = claimed.ids.pop(0)
        try:
            process(delivery_id, app, claim_kept=claimed)
        except UNAVAILABLE:  # the database went away mid-way: this one and the rest go back once it answers
            db.session.rollback()
            log.exception("webhook delivery %s could not be processed", delivery_id)
            _abandoned.update(dict.fromkeys([delivery_id, *claimed.ids], claimed.at))
            break
        except Exception as error:  # a bug, not an outage: that delivery fails (retried with backoff), not the rest
            db.session.rollback()
            log.exception("webhook delivery %s failed", delivery_id)
            _finish(delivery_id, DeliveryStatus.FAILED, f"{type(error).__name__}: {error}"[:2000])
    return count


INLINE_WAIT = 10.0  # seconds the inline mode waits for another process that took the same delivery first


def process_now(delivery_id: int, app: Flask) -> DeliveryStatus | None:
    """Process one delivery at once (the "inline" mode: when the answer leaves, the delivery is done). If another
    process's worker took it first, wait for that one to finish it; None if it does not in INLINE_WAIT."""
    if claim(utcnow(), 1, only=delivery_id):
        return process(delivery_id, app)
    deadline = time.monotonic() + INLINE_WAIT
    while time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot each look
        status = db.session.scalar(select(WebhookDelivery.status).where(WebhookDelivery.id == delivery_id))
        if status not in (DeliveryStatus.PENDING, DeliveryStatus.PROCESSING):
            return status
        time.sleep(0.02)
    return None
