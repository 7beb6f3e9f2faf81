"""Webhooks out: the outbox, packing events into signed POST bodies, delivery with retries, the worker.

Flow: `queue_event` stores a `messaging[]` item (same transaction as the message it describes). `pack`
claims queued events with one atomic UPDATE and turns them into `Delivery` rows holding the exact bytes to
send (one event per POST, or several when batching is on). `deliver_due` claims each due delivery with
`UPDATE … WHERE status='pending'` and checks the rowcount, so two processes never post the same delivery.
Failures (non-2xx, timeout, connection error) are retried on the configured schedule; every attempt is
logged. A per-process `DeliveryWorker` thread (a greenlet under gunicorn's gevent worker) wakes on new
events and on retry due times; tests can instead call `deliver_due()` / the flush API.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
import uuid
from collections import OrderedDict

import requests
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from .models import Delivery, DeliveryAttempt, Page, Subscription, WebhookEvent
from .runtime import Sandbox

log = logging.getLogger(__name__)

EXCERPT = 500
LEASE_MARGIN_MS = 10_000
IDLE_POLL_SECONDS = 5.0  # also pick up work queued by other processes
# Synonyms seen across Meta's doc pages (meta-platform.md §1.5): subscribing to either enables the event.
FIELD_SYNONYMS = {"messaging_referral": {"messaging_referrals"}, "message_reactions": {"messaging_reactions"},
                  "message_edits": {"message_edit", "messages"}}


def encode(payload: dict, escape_slashes: bool = False) -> bytes:
    """Meta's wire form: compact JSON with non-ASCII escaped as \\uXXXX (and optionally '/' as '\\/')."""
    text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
    return (text.replace("/", "\\/") if escape_slashes else text).encode("ascii")


def sign(body: bytes, secret: str, algorithm: str = "sha256") -> str:
    digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    return f"{algorithm}={digest}"


def _subscribed(session: Session, ig_account_id: str, field: str) -> bool:
    page = session.scalars(select(Page).where(Page.ig_account_id == ig_account_id)).first()
    subscription = session.get(Subscription, page.id) if page else None
    if subscription is None:
        return False
    accepted = {field} | FIELD_SYNONYMS.get(field, set())
    return bool(accepted & set(subscription.fields))


def queue_event(sandbox: Sandbox, session: Session, ig_account_id: str, field: str, item: dict) -> WebhookEvent:
    """Queue one messaging item. Pages the app is not subscribed to get nothing, as at Meta."""
    delivered = not sandbox.knob("require_subscription") or _subscribed(session, ig_account_id, field)
    event = WebhookEvent(ig_account_id=ig_account_id, field=field, item=item, created_ms=sandbox.now_ms(),
                         status="queued" if delivered else "skipped")
    session.add(event)
    session.info["wake_outbox"] = True
    return event


def queue_raw(sandbox: Sandbox, session: Session, payload: dict, kind: str = "test") -> Delivery:
    """A ready-made body (the dashboard's Test button), sent as its own POST."""
    return _new_delivery(sandbox, session, payload, kind, 1)


def _new_delivery(sandbox: Sandbox, session: Session, payload: dict, kind: str, count: int,
                  knobs: dict | None = None) -> Delivery:
    knobs = knobs or sandbox.knobs()
    body = encode(payload, knobs["escape_slashes"])
    delivery = Delivery(url=knobs["webhook_url"], body=body, signature=sign(body, sandbox.settings.app_secret),
                        kind=kind, event_count=count, status="pending", attempts=0,
                        next_attempt_ms=int(time.time() * 1000), created_ms=sandbox.now_ms())
    session.add(delivery)
    session.info["wake_outbox"] = True
    return delivery


def envelope(items: list[WebhookEvent], now_ms: int, entry_ids: dict[str, str] | None = None) -> dict:
    """{"object":"instagram","entry":[{"id":<IG account>,"time":ms,"messaging":[…]}]}, one entry per account.

    `entry_ids` maps an IG account to another entry id (its page id: one doc page shows `{PAGE_ID}` there).
    """
    entries: OrderedDict[str, list[dict]] = OrderedDict()
    for event in items:
        entries.setdefault(event.ig_account_id, []).append(event.item)
    return {"object": "instagram",
            "entry": [{"id": (entry_ids or {}).get(account, account), "time": now_ms, "messaging": items}
                      for account, items in entries.items()]}


def pack(sandbox: Sandbox, force: bool = False) -> int:
    """Turn queued events into deliveries; returns how many deliveries were made."""
    knobs = sandbox.knobs()
    batching = bool(knobs["batching"])
    cutoff = sandbox.now_ms() - (0 if force or not batching else int(knobs["batch_window_ms"]))
    claim = uuid.uuid4().hex
    made = 0
    with sandbox.store.tx() as session:
        taken = session.execute(update(WebhookEvent)
                                .where(WebhookEvent.status == "queued", WebhookEvent.created_ms <= cutoff)
                                .values(status="packing", claim=claim)).rowcount
        if not taken:
            return 0
        events = session.scalars(select(WebhookEvent).where(WebhookEvent.claim == claim)
                                 .order_by(WebhookEvent.id)).all()
        size = max(int(knobs["batch_max_events"]), 1) if batching else 1
        entry_ids = _page_entry_ids(session) if knobs["entry_id"] == "page" else None
        for start in range(0, len(events), size):
            group = list(events[start:start + size])
            if knobs["shuffle_batches"]:
                random.shuffle(group)  # Meta does not guarantee order: clients must sort by timestamp
            body = envelope(group, sandbox.now_ms(), entry_ids)
            delivery = _new_delivery(sandbox, session, body, "messaging", len(group), knobs)
            session.flush()
            for event in group:
                event.status, event.delivery_id = "packed", delivery.id
            made += 1
    return made


def _page_entry_ids(session: Session) -> dict[str, str]:
    return {ig: page for page, ig in session.execute(select(Page.id, Page.ig_account_id)) if ig}


def _claim(sandbox: Sandbox, delivery_id: int, now: int, lease_ms: int, force: bool) -> bool:
    """Take a delivery for this process: one UPDATE, and only the process whose rowcount is 1 posts."""
    pending = Delivery.status == "pending"
    if not force:
        pending = pending & (Delivery.next_attempt_ms <= now)
    abandoned = (Delivery.status == "sending") & (Delivery.lease_until_ms < now)  # its process died
    with sandbox.store.tx() as session:
        return session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, or_(pending, abandoned))
            .values(status="sending", lease_until_ms=now + lease_ms, attempts=Delivery.attempts + 1)
        ).rowcount == 1


def _post(delivery: Delivery, sandbox: Sandbox, timeout: float, sha1: bool) -> tuple[int | None, str | None, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua",
               "X-Hub-Signature-256": delivery.signature}
    if sha1:
        headers["X-Hub-Signature"] = sign(delivery.body, sandbox.settings.app_secret, "sha1")
    try:
        response = requests.post(delivery.url, data=delivery.body, headers=headers, timeout=timeout,
                                 allow_redirects=False)
        return response.status_code, None, response.text[:EXCERPT]
    except requests.Timeout:
        return None, f"timeout after {timeout:g} s", ""
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:EXCERPT], ""


def attempt(sandbox: Sandbox, delivery_id: int, force: bool = False) -> str | None:
    """Try one delivery if it is due and nobody else holds it; returns its new status, or None."""
    knobs = sandbox.knobs()
    timeout = float(knobs["webhook_timeout"])
    now = int(time.time() * 1000)
    if not _claim(sandbox, delivery_id, now, int(timeout * 1000) + LEASE_MARGIN_MS, force):
        return None
    with sandbox.store.tx() as session:
        delivery = session.get(Delivery, delivery_id)
    started = time.monotonic()
    status_code, error, excerpt = _post(delivery, sandbox, timeout, bool(knobs["sha1_signature"]))
    duration = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    schedule = [float(value) for value in knobs["retry_schedule"]]
    with sandbox.store.tx() as session:
        session.add(DeliveryAttempt(delivery_id=delivery.id, started_ms=sandbox.now_ms() - duration,
                                    url=delivery.url, status_code=status_code, duration_ms=duration,
                                    error=error, response_excerpt=excerpt))
        row = session.get(Delivery, delivery.id)
        if ok:
            row.status = "delivered"
        elif _disable_if_failing_too_long(sandbox, session, row, knobs.get("unsubscribe_after_seconds")):
            row.status = "failed"
        elif row.attempts > len(schedule):
            row.status = "failed"  # Meta drops unacknowledged deliveries in the end
        else:
            row.status = "pending"
            row.next_attempt_ms = int(time.time() * 1000) + int(schedule[row.attempts - 1] * 1000)
        return row.status


def _disable_if_failing_too_long(sandbox: Sandbox, session: Session, row: Delivery, limit: float | None) -> bool:
    """After `limit` seconds of failures, unsubscribe the app from the pages in this delivery, as Messenger's
    "Webhooks Disabled" alert does; the app must subscribe again (subscribed_apps) to get webhooks."""
    if not limit or sandbox.now_ms() - row.created_ms < float(limit) * 1000:
        return False
    entry_ids = [str(entry.get("id")) for entry in json.loads(row.body).get("entry", [])]  # IG or page ids
    pages = session.scalars(select(Page.id).where(or_(Page.ig_account_id.in_(entry_ids), Page.id.in_(entry_ids)))).all()
    for page_id in pages:
        subscription = session.get(Subscription, page_id)
        if subscription is not None:
            session.delete(subscription)
    log.warning("sandbox: webhooks disabled for pages %s after %ss of failures", pages, limit)
    return True


def deliver_due(sandbox: Sandbox, force: bool = False) -> dict:
    """Pack queued events and attempt every due delivery once. `force` ignores batch windows and retry
    due times (tests and the flush API), never the claim."""
    pack(sandbox, force=force)
    now = int(time.time() * 1000)
    with sandbox.store.tx() as session:
        query = select(Delivery.id).where(or_(Delivery.status == "pending",
                                              (Delivery.status == "sending") & (Delivery.lease_until_ms < now)))
        if not force:
            query = query.where(or_(Delivery.next_attempt_ms <= now, Delivery.status == "sending"))
        due = list(session.scalars(query.order_by(Delivery.id)))
    outcome: dict[str, int] = {"attempted": 0, "delivered": 0, "retrying": 0, "failed": 0}
    for delivery_id in due:
        status = attempt(sandbox, delivery_id, force=force)
        if status is None:
            continue
        outcome["attempted"] += 1
        outcome[{"delivered": "delivered", "pending": "retrying", "failed": "failed"}[status]] += 1
    return outcome


def pending_summary(sandbox: Sandbox) -> dict:
    with sandbox.store.tx() as session:
        queued = session.scalar(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.status.in_(("queued", "packing"))))
        pending = session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.status.in_(("pending", "sending"))))
        next_due = session.scalar(select(func.min(Delivery.next_attempt_ms)).where(Delivery.status == "pending"))
        oldest = session.scalar(select(func.min(WebhookEvent.created_ms)).where(WebhookEvent.status == "queued"))
    return {"queued_events": queued, "pending_deliveries": pending, "next_due_ms": next_due, "oldest_event_ms": oldest}


class DeliveryWorker(threading.Thread):
    """Delivers in the background: wakes on a new event and whenever a retry or batch window is due."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(name="sandbox-webhooks", daemon=True)
        self.sandbox = sandbox
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.progress = threading.Condition()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                deliver_due(self.sandbox)
                wait = self._seconds_to_next()
            except Exception:  # the worker must outlive a bad row or a database hiccup
                log.exception("sandbox webhook delivery failed")
                wait = 1.0
            with self.progress:
                self.progress.notify_all()
            self._wake.wait(wait)

    def _seconds_to_next(self) -> float:
        summary = pending_summary(self.sandbox)
        candidates = [IDLE_POLL_SECONDS]
        if summary["next_due_ms"] is not None:
            candidates.append((summary["next_due_ms"] - time.time() * 1000) / 1000)
        if summary["oldest_event_ms"] is not None:
            window = int(self.sandbox.knob("batch_window_ms")) if self.sandbox.knob("batching") else 0
            candidates.append((summary["oldest_event_ms"] + window - self.sandbox.now_ms()) / 1000)
        return max(min(candidates), 0.0)


def await_idle(sandbox: Sandbox, timeout: float) -> bool:
    """Wait until nothing is queued or pending (delivered or given up); True if that happened in time."""
    deadline = time.monotonic() + timeout
    while True:
        summary = pending_summary(sandbox)
        if not summary["queued_events"] and not summary["pending_deliveries"]:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        worker = sandbox.worker
        if worker is not None and worker.is_alive():
            worker.wake()
            with worker.progress:
                worker.progress.wait(min(remaining, 0.05))
        else:
            deliver_due(sandbox)
            time.sleep(min(remaining, 0.02))  # sandbox side: retries may be scheduled in the future
