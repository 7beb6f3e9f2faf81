"""The control API (/sandbox/api/…): tests, benchmarks and demos drive the sandbox through it.

JSON in, JSON out. Every state-changing call must send `Content-Type: application/json` (a browser cannot
forge that cross-site without a preflight, which the sandbox never grants). Documented in docs/sandbox.md.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request
from sqlalchemy import delete, select

from . import faults, threads, webhooks, world
from .models import (
    Conversation, Customer, Delivery, DeliveryAttempt, Fault, FbUser, IgAccount, Page, PageRole, Subscription,
    WebhookEvent,
)
from .runtime import current
from .settings import parse_schedule

api = Blueprint("api", __name__, url_prefix="/api")

HOUR_MS = 3600 * 1000
MAX_REPEAT = 1000
# Run-time knobs (defaults and meaning in runtime.knob_defaults) and the type each must have.
EDITABLE_KNOBS = {
    "batching": bool, "batch_max_events": int, "batch_window_ms": int, "shuffle_batches": bool, "entry_id": str,
    "retry_schedule": list, "webhook_timeout": float, "webhook_url": str, "sha1_signature": bool,
    "escape_slashes": bool, "require_subscription": bool, "unsubscribe_after_seconds": float,
    "human_agent": bool, "text_limit_bytes": int, "media_url_lifetime_hours": float,
    "short_lived_seconds": int, "long_lived_seconds": int, "clock_offset_ms": int,
}


@api.before_request
def json_only():
    if request.method in ("POST", "PATCH", "PUT", "DELETE") and not request.is_json:
        abort(415, "send Content-Type: application/json (an empty body is {})")


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        return {}
    if not isinstance(data, dict):
        abort(400, "the body must be a JSON object")
    return data


@api.get("/")
def index():
    return jsonify(endpoints=sorted(str(rule) for rule in _rules()), docs="docs/sandbox.md")


def _rules():
    from flask import current_app

    return [rule for rule in current_app.url_map.iter_rules() if rule.endpoint.startswith("api.")]


@api.get("/world")
def world_view():
    """Users, their pages (with tokens' targets), Instagram accounts, customers and their IGSIDs."""
    with current().store.tx() as session:
        subscribed = {row.page_id: sorted(row.fields or []) for row in session.scalars(select(Subscription))}
        users = []
        for user in session.scalars(select(FbUser).order_by(FbUser.position)):
            pages = session.execute(select(Page, PageRole).join(PageRole, PageRole.page_id == Page.id)
                                    .where(PageRole.user_id == user.id).order_by(PageRole.position)).all()
            users.append({"id": user.id, "name": user.name, "pages": [
                {"id": page.id, "name": page.name, "instagram_business_account": page.ig_account_id,
                 "tasks": role.tasks, "subscribed_fields": subscribed.get(page.id)} for page, role in pages]})
        accounts = [{"id": ig.id, "username": ig.username, "name": ig.name}
                    for ig in session.scalars(select(IgAccount).order_by(IgAccount.username))]
        customers = []
        for customer in session.scalars(select(Customer).order_by(Customer.key)):
            conversations = session.scalars(select(Conversation).where(Conversation.customer_key == customer.key))
            usernames = {ig["id"]: ig["username"] for ig in accounts}
            customers.append({"key": customer.key, "name": customer.name, "username": customer.username,
                              "igsids": {usernames[c.ig_account_id]: c.igsid for c in conversations}})
        return jsonify(users=users, instagram_accounts=accounts, customers=customers)


@api.post("/reset")
def reset():
    sandbox = current()
    world.reset(sandbox.store)
    sandbox.set_knobs({})
    return jsonify(reset=True)


def _timestamp(data: dict) -> int | None:
    """Explicit `timestamp` (ms), or back-dated with `sent_hours_ago` / `sent_seconds_ago`."""
    now = current().now_ms()
    if data.get("timestamp") is not None:
        return int(data["timestamp"])
    if data.get("sent_hours_ago") is not None:
        return now - int(float(data["sent_hours_ago"]) * HOUR_MS)
    if data.get("sent_seconds_ago") is not None:
        return now - int(float(data["sent_seconds_ago"]) * 1000)
    return None


@api.post("/messages")
def customer_message():
    """Make a customer do something: {"customer":"ana","account":"loja.demo","kind":"text","text":"Oi"}.

    `"repeat": N` (up to 1000, benchmarks) sends N such events in one transaction, numbering texts "#1"….
    """
    sandbox, data = current(), body()
    try:
        repeat = int(data.get("repeat", 1))
        if not 1 <= repeat <= MAX_REPEAT:
            raise ValueError(f"repeat must be between 1 and {MAX_REPEAT}")
        with sandbox.store.tx() as session:
            conversation = threads.find_conversation(session, data.get("igsid"), data.get("customer"),
                                                     data.get("account"))
            kind, when = str(data.get("kind", "text")), _timestamp(data)
            results = []
            for number in range(1, repeat + 1):
                event = dict(data, text=f"{data['text']} #{number}") if repeat > 1 and data.get("text") else data
                results.append(threads.customer_event(sandbox, session, conversation, kind, event, when))
    except (threads.ThreadError, ValueError, TypeError) as error:
        return jsonify(error=str(error)), 400
    return jsonify(results[0] if repeat == 1 else {"events": results}), 201


@api.post("/business-messages")
def business_message():
    """The business writes from the Instagram app (not through the Send API): only its echo reaches the webhook.
    {"customer":"ana","account":"loja.demo","text":"Oi, Ana! Vimos seu pedido."}"""
    sandbox, data = current(), body()
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        return jsonify(error="text is required"), 400
    try:
        with sandbox.store.tx() as session:
            conversation = threads.find_conversation(session, data.get("igsid"), data.get("customer"),
                                                     data.get("account"))
            message = threads.business_message(sandbox, session, conversation, "text", text, None,
                                               {"via": "instagram_app"}, _timestamp(data))
            return jsonify(mid=message.mid, timestamp=message.timestamp_ms, igsid=conversation.igsid), 201
    except threads.ThreadError as error:
        return jsonify(error=str(error)), 400


@api.get("/threads/<igsid>")
@api.get("/threads")
def thread(igsid: str | None = None):
    sandbox = current()
    try:
        with sandbox.store.tx() as session:
            conversation = threads.find_conversation(session, igsid, request.args.get("customer"),
                                                     request.args.get("account"))
            return jsonify(igsid=conversation.igsid, customer=conversation.customer_key,
                           account=conversation.ig_account_id, blocked=conversation.blocked,
                           last_inbound_ms=conversation.last_inbound_ms,
                           typing=conversation.typing_until_ms > sandbox.now_ms(),
                           messages=[threads.as_dict(m) for m in threads.messages(session, conversation)])
    except threads.ThreadError as error:
        return jsonify(error=str(error)), 404


@api.post("/threads/<igsid>/block")
@api.post("/threads/<igsid>/unblock")
def block(igsid: str):
    blocked = request.path.endswith("/block")
    with current().store.tx() as session:
        conversation = session.get(Conversation, igsid)
        if conversation is None:
            abort(404, "no such IGSID")
        conversation.blocked = blocked
        conversation.version += 1
    return jsonify(igsid=igsid, blocked=blocked)


@api.get("/faults")
def list_faults():
    with current().store.tx() as session:
        return jsonify(faults=[faults.as_dict(f) for f in session.scalars(select(Fault).order_by(Fault.id))])


@api.post("/faults")
def add_fault():
    try:
        fault = faults.parse(body())
    except (ValueError, TypeError) as error:
        return jsonify(error=str(error)), 400
    with current().store.tx() as session:
        session.add(fault)
        session.flush()
        return jsonify(faults.as_dict(fault)), 201


@api.delete("/faults")
@api.delete("/faults/<int:fault_id>")
def clear_faults(fault_id: int | None = None):
    with current().store.tx() as session:
        query = delete(Fault) if fault_id is None else delete(Fault).where(Fault.id == fault_id)
        return jsonify(cleared=session.execute(query).rowcount)


@api.get("/deliveries")
def deliveries():
    """The delivery log, newest first: each POST with every attempt (time, URL, status, duration, excerpt)."""
    limit = min(int(request.args.get("limit", 50)), 500)
    with current().store.tx() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id.desc()).limit(limit)).all()
        attempts = session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id.in_([row.id for row in rows])).order_by(DeliveryAttempt.id)).all()
        by_delivery: dict[int, list] = {}
        for item in attempts:
            by_delivery.setdefault(item.delivery_id, []).append({
                "at": item.started_ms, "url": item.url, "status_code": item.status_code,
                "duration_ms": item.duration_ms, "error": item.error, "response_excerpt": item.response_excerpt})
        return jsonify(deliveries=[_delivery(row, by_delivery.get(row.id, [])) for row in rows],
                       **webhooks.pending_summary(current()))


def _delivery(row: Delivery, attempts: list) -> dict:
    return {"id": row.id, "kind": row.kind, "status": row.status, "url": row.url, "events": row.event_count,
            "created": row.created_ms, "next_attempt_ms": row.next_attempt_ms if row.status == "pending" else None,
            "signature": row.signature, "body": row.body.decode("ascii"), "attempts": attempts}


@api.get("/events")
def events():
    """Webhook events as queued, including those skipped because the page is not subscribed."""
    with current().store.tx() as session:
        rows = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(100))
        return jsonify(events=[{"id": e.id, "field": e.field, "status": e.status, "delivery_id": e.delivery_id,
                                "account": e.ig_account_id, "item": e.item} for e in rows])


@api.post("/deliveries/flush")
def flush():
    """Deliver now, in this request: {"force": true} also ignores batch windows and retry due times."""
    data = body()
    return jsonify(webhooks.deliver_due(current(), force=bool(data.get("force", True))))


@api.post("/deliveries/await")
def await_deliveries():
    """Wait (up to `timeout` seconds) until every queued event has been delivered or given up."""
    done = webhooks.await_idle(current(), float(body().get("timeout", 10)))
    return jsonify(idle=done, **webhooks.pending_summary(current())), 200 if done else 504


@api.post("/deliveries/<int:delivery_id>/redeliver")
def redeliver(delivery_id: int):
    """Post the same bytes again, as Meta sometimes does: for testing that duplicates make one message."""
    sandbox = current()
    with sandbox.store.tx() as session:
        original = session.get(Delivery, delivery_id)
        if original is None:
            abort(404, "no such delivery")
        copy = Delivery(url=sandbox.knob("webhook_url"), body=original.body, signature=original.signature,
                        kind=original.kind, event_count=original.event_count, status="pending", attempts=0,
                        next_attempt_ms=0, created_ms=sandbox.now_ms())
        session.add(copy)
        session.flush()
        session.info["wake_outbox"] = True
        return jsonify(delivery_id=copy.id), 201


@api.post("/webhooks/test")
def dashboard_test():
    """The dashboard's Test button: the `changes` shape with entry id "0" (meta-platform.md §3.2)."""
    sandbox = current()
    now = sandbox.now_ms()
    payload = {"object": "instagram", "entry": [{"id": "0", "time": now, "changes": [{"field": "messages", "value": {
        "sender": {"id": "12334"}, "recipient": {"id": "23245"}, "timestamp": str(now // 1000),
        "message": {"mid": "random_mid", "text": "random_text"}}}]}]}
    with sandbox.store.tx() as session:
        delivery = webhooks.queue_raw(sandbox, session, payload)
        session.flush()
        return jsonify(delivery_id=delivery.id), 201


@api.post("/webhooks/verify")
def verify_callback():
    """What the dashboard does when the callback URL is saved: GET with hub.* and expect the challenge back."""
    import secrets

    import requests

    sandbox = current()
    url = sandbox.knob("webhook_url")
    challenge = str(secrets.randbelow(10**10))
    params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": sandbox.settings.verify_token}
    try:
        response = requests.get(url, params=params, timeout=10)
    except requests.RequestException as error:
        return jsonify(ok=False, url=url, error=type(error).__name__)
    return jsonify(ok=response.status_code == 200 and response.text == challenge, url=url,
                   status_code=response.status_code, body=response.text[:200])


@api.get("/settings")
def get_settings():
    return jsonify(_public_knobs())


def _public_knobs() -> dict:
    knobs = current().knobs()
    for private in ("session_secret", "seed_version"):
        knobs.pop(private, None)
    return knobs


@api.route("/settings", methods=["PATCH", "POST"])
def set_settings():
    data, values = body(), {}
    for key, value in data.items():
        kind = EDITABLE_KNOBS.get(key)
        if kind is None:
            return jsonify(error=f"unknown setting {key}; known: {', '.join(sorted(EDITABLE_KNOBS))}"), 400
        try:
            if value is None and key == "unsubscribe_after_seconds":
                values[key] = None
            elif key == "entry_id" and value not in ("ig", "page"):
                raise ValueError(key)
            elif kind is bool and not isinstance(value, bool):
                raise ValueError(key)
            else:
                values[key] = list(parse_schedule(value) or ()) if kind is list else kind(value)
        except (TypeError, ValueError):
            return jsonify(error=f"{key} must be {kind.__name__}"), 400
    current().set_knobs(values)
    current().wake_worker()
    return jsonify(_public_knobs())


@api.post("/clock")
def clock():
    """Time travel for everything the sandbox times (windows, tokens, story links): {"advance_seconds": 3600}
    moves forward, {"reset": true} goes back to the wall clock."""
    data, sandbox = body(), current()
    advance = int(float(data.get("advance_seconds", 0)) * 1000)
    offset = 0 if data.get("reset") else int(sandbox.knob("clock_offset_ms")) + advance
    sandbox.set_knobs({"clock_offset_ms": offset})
    return jsonify(offset_ms=offset, now_ms=sandbox.now_ms())
