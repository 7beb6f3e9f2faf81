"""Webhooks (issue 3, point 6): signed over the exact bytes, ASCII-escaped JSON, Meta's envelope,
batching, redelivery on non-2xx and timeouts with a delivery log, subscriptions, and atomic claims.
Every delivery here goes over real HTTP to the `receiver` on loopback."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading

from webapp.sandbox import ids, webhooks

from .conftest import ANA_AT_LOJA, APP_SECRET, LOJA_IG


def verify(received) -> dict:
    """What Direto must do: HMAC-SHA256 of the raw body with the app secret, compared in constant time."""
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["X-Hub-Signature-256"], expected)
    return json.loads(received.body)


def test_signature_verifies_with_the_app_secret_over_the_raw_body(meta, receiver):
    meta.customer(text="Olá, vocês entregam em São Paulo? \U0001f69a")
    assert meta.flush()["delivered"] == 1
    (received,) = receiver.await_count(1)
    body = verify(received)
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-Hub-Signature"] == "sha1=" + hmac.new(APP_SECRET.encode(), received.body, hashlib.sha1).hexdigest()
    # Non-ASCII travels escaped, so re-serialising the parsed JSON differently would break the signature.
    assert b"\\u00e1" in received.body and b"\\ud83d\\ude9a" in received.body and received.body.isascii()
    assert body["entry"][0]["messaging"][0]["message"]["text"] == "Olá, vocês entregam em São Paulo? \U0001f69a"
    tampered = received.body.replace(b"Paulo", b"Pablo")
    assert hmac.new(APP_SECRET.encode(), tampered, hashlib.sha256).hexdigest() not in received.headers["X-Hub-Signature-256"]


def test_envelope_has_metas_shape_and_epoch_milliseconds(meta, receiver, sandbox):
    sent = meta.customer(text="oi")
    meta.flush()
    body = verify(receiver.await_count(1)[0])
    assert body["object"] == "instagram"
    entry = body["entry"][0]
    assert entry["id"] == LOJA_IG and abs(entry["time"] - sandbox.now_ms()) < 60_000
    item = entry["messaging"][0]
    assert item == {"sender": {"id": ANA_AT_LOJA}, "recipient": {"id": LOJA_IG}, "timestamp": sent["timestamp"],
                    "message": {"mid": sent["mid"], "text": "oi"}}
    assert item["timestamp"] > 10**12  # milliseconds, not seconds


def test_echo_mid_equals_the_returned_message_id(meta, receiver):
    page_token = meta.page_token()
    meta.customer(text="oi")
    message_id = meta.send(page_token, message={"text": "Olá! Como podemos ajudar?"}).json["message_id"]
    meta.flush()
    bodies = [verify(r) for r in receiver.await_count(2)]
    echo = bodies[1]["entry"][0]["messaging"][0]
    assert echo["message"]["is_echo"] is True and echo["message"]["mid"] == message_id
    assert echo["sender"]["id"] == LOJA_IG and echo["recipient"]["id"] == ANA_AT_LOJA


def test_redelivery_after_non_2xx_until_success_is_in_the_delivery_log(meta, receiver, client):
    receiver.statuses.extend([500, 404])
    meta.customer(text="insistente")
    assert meta.flush()["retrying"] == 1
    assert meta.flush()["retrying"] == 1
    assert meta.flush()["delivered"] == 1
    received = receiver.await_count(3)
    assert len({r.body for r in received}) == 1  # the same bytes every time, same signature
    log = client.get("/api/deliveries").json["deliveries"][0]
    assert log["status"] == "delivered"
    assert [a["status_code"] for a in log["attempts"]] == [500, 404, 200]
    for attempt in log["attempts"]:
        assert attempt["url"] == receiver.url and attempt["duration_ms"] >= 0 and attempt["at"] > 10**12
    assert log["attempts"][0]["response_excerpt"] == "answered 500"


def test_redelivery_follows_the_schedule_without_force(meta, receiver, sandbox):
    meta.settings(retry_schedule=[3600])
    receiver.statuses.append(503)
    meta.customer(text="x")
    assert webhooks.deliver_due(sandbox)["retrying"] == 1
    assert webhooks.deliver_due(sandbox)["attempted"] == 0  # not due for an hour
    assert webhooks.deliver_due(sandbox, force=True)["delivered"] == 1


def test_gives_up_when_the_schedule_is_exhausted(meta, receiver, client):
    meta.settings(retry_schedule=[0, 0])
    receiver.statuses.extend([500, 500, 500, 500])
    meta.customer(text="x")
    outcomes = [meta.flush() for _ in range(4)]
    assert [o["attempted"] for o in outcomes] == [1, 1, 1, 0]
    assert outcomes[2]["failed"] == 1
    assert client.get("/api/deliveries").json["deliveries"][0]["status"] == "failed"


def test_a_timeout_counts_as_a_failure_and_is_retried(meta, receiver, client):
    meta.settings(webhook_timeout=0.2)
    receiver.hold = threading.Event()  # the receiver answers only once released
    meta.customer(text="lento")
    assert meta.flush()["retrying"] == 1
    receiver.hold.set()
    assert meta.flush()["delivered"] == 1
    attempts = client.get("/api/deliveries").json["deliveries"][0]["attempts"]
    assert attempts[0]["status_code"] is None and "timeout" in attempts[0]["error"]
    assert attempts[1]["status_code"] == 200


def test_an_unreachable_webhook_url_is_logged_and_retried(meta, client):
    meta.settings(webhook_url="http://127.0.0.1:9/webhooks/instagram")
    meta.customer(text="x")
    assert meta.flush()["retrying"] == 1
    attempt = client.get("/api/deliveries").json["deliveries"][0]["attempts"][0]
    assert attempt["status_code"] is None and "ConnectionError" in attempt["error"]


def test_batching_puts_several_events_in_one_post(meta, receiver):
    meta.settings(batching=True, batch_window_ms=60_000)
    meta.customer(customer="ana", text="um")
    meta.customer(customer="bruno", text="dois")
    meta.customer(customer="ana", account="cafe.dadona", text="três")
    page_token = meta.page_token(ids.page_id("cafe"))
    meta.client.post(f"/graph/{ids.page_id('cafe')}/subscribed_apps", data={"subscribed_fields": "messages"},
                     headers={"Authorization": f"Bearer {page_token}"})
    meta.customer(customer="ana", account="cafe.dadona", text="quatro")
    assert meta.flush(force=False)["attempted"] == 0  # the batch window is still open
    assert meta.flush()["delivered"] == 1
    body = verify(receiver.await_count(1)[0])
    entries = {entry["id"]: [m["message"]["text"] for m in entry["messaging"]] for entry in body["entry"]}
    # Café was not subscribed when "três" was sent: Meta never delivers that one.
    assert entries == {LOJA_IG: ["um", "dois"], ids.ig_account_id("cafe"): ["quatro"]}


def test_without_batching_each_event_is_its_own_post(meta, receiver):
    for text in ("um", "dois", "três"):
        meta.customer(text=text)
    assert meta.flush()["delivered"] == 3
    assert [len(verify(r)["entry"][0]["messaging"]) for r in receiver.await_count(3)] == [1, 1, 1]


def test_unsubscribed_pages_get_no_webhooks(meta, client, receiver):
    page_token = meta.page_token()
    client.delete("/graph/me/subscribed_apps", headers={"Authorization": f"Bearer {page_token}"})
    meta.customer(text="ninguém ouve")
    assert meta.flush()["attempted"] == 0
    assert client.get("/api/events").json["events"][0]["status"] == "skipped"


def test_dashboard_test_button_shape(meta, client, receiver):
    assert client.post("/api/webhooks/test", json={}).status_code == 201
    meta.flush()
    body = verify(receiver.await_count(1)[0])
    entry = body["entry"][0]
    assert body["object"] == "instagram" and entry["id"] == "0" and "messaging" not in entry
    change = entry["changes"][0]
    assert change["field"] == "messages" and change["value"]["message"] == {"mid": "random_mid", "text": "random_text"}


def test_two_processes_flushing_at_once_post_each_delivery_exactly_once(meta, receiver, make_sandbox):
    """Two sandbox apps on the same database stand for two gunicorn workers."""
    other = make_sandbox().extensions["meta_sandbox"]
    for n in range(8):
        meta.customer(text=f"msg {n}")
    start = threading.Barrier(2)

    def run(sandbox):
        start.wait()
        webhooks.deliver_due(sandbox)

    threads = [threading.Thread(target=run, args=(s,)) for s in (meta.sandbox, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    received = receiver.await_count(8)
    texts = sorted(json.loads(r.body)["entry"][0]["messaging"][0]["message"]["text"] for r in received)
    assert texts == [f"msg {n}" for n in range(8)]
    assert len(receiver.requests) == 8


def test_callback_verification_like_the_dashboard(client):
    response = client.post("/api/webhooks/verify", json={}).json
    assert response["ok"] is True and response["status_code"] == 200


def test_prolonged_failure_unsubscribes_the_app_like_webhooks_disabled(meta, receiver, client, frozen):
    meta.settings(unsubscribe_after_seconds=3600, retry_schedule=[0] * 10)
    receiver.statuses.extend([500] * 10)
    meta.customer(text="x")
    assert meta.flush()["retrying"] == 1
    frozen.advance(3601)
    assert meta.flush()["failed"] == 1
    page_token = meta.page_token()
    assert client.get("/graph/me/subscribed_apps", headers={"Authorization": f"Bearer {page_token}"}).json == {"data": []}
    meta.customer(text="y")
    assert client.get("/api/events").json["events"][0]["status"] == "skipped"


def test_a_delivery_can_be_posted_again_with_the_same_bytes(meta, client, receiver):
    meta.customer(text="duplicada")
    meta.flush()
    delivery_id = client.get("/api/deliveries").json["deliveries"][0]["id"]
    assert client.post(f"/api/deliveries/{delivery_id}/redeliver", json={}).status_code == 201
    meta.flush()
    first, second = receiver.await_count(2)
    assert first.body == second.body and first.headers["X-Hub-Signature-256"] == second.headers["X-Hub-Signature-256"]


def test_the_html_delivery_log_shows_attempts_and_refreshes_by_fragment(meta, client, receiver):
    receiver.statuses.append(404)
    meta.customer(text="oi")
    meta.flush()
    page = client.get("/deliveries").get_data(as_text=True)
    assert "Webhook deliveries" in page and "404" in page and 'hx-trigger="every 2s"' in page
    fragment = client.get("/deliveries", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "404" in fragment and "sha256=" in fragment


def test_shuffled_batches_and_page_entry_ids_are_knobs(meta, receiver):
    meta.settings(batching=True, batch_window_ms=60_000, shuffle_batches=True, entry_id="page")
    sent = [meta.customer(text=f"n{n}", sent_seconds_ago=30 - n)["timestamp"] for n in range(12)]
    meta.flush()
    entry = verify(receiver.await_count(1)[0])["entry"][0]
    assert entry["id"] == ids.page_id("loja")
    stamps = [item["timestamp"] for item in entry["messaging"]]
    assert sorted(stamps) == sent  # every event is there: clients sort by timestamp
    assert stamps != sent  # and they came out of order (12 events: a 1 in 479 million coincidence)
