"""The control API (issue 3, point 8): every customer event kind in Meta's shape, threads, settings,
blocking, the clock, reset, and the JSON-only rule."""
from __future__ import annotations

import pytest

from webapp.sandbox import ids

from .conftest import ANA_AT_LOJA, LOJA_IG, PUBLIC


def last_item(client) -> dict:
    return client.get("/api/events").json["events"][0]


@pytest.mark.parametrize("kind, data, check", [
    ("text", {"text": "oi"}, lambda m: m["message"]["text"] == "oi"),
    ("image", {}, lambda m: m["message"]["attachments"][0]["type"] == "image"),
    ("video", {}, lambda m: m["message"]["attachments"][0]["type"] == "video"),
    ("audio", {}, lambda m: m["message"]["attachments"][0]["type"] == "audio"),
    ("file", {}, lambda m: m["message"]["attachments"][0]["type"] == "file"),
    ("story_mention", {}, lambda m: "oe=" in m["message"]["attachments"][0]["payload"]["url"]),
    ("story_reply", {"text": "lindo"}, lambda m: set(m["message"]["reply_to"]["story"]) == {"url", "id"}),
    ("share", {}, lambda m: set(m["message"]["attachments"][0]["payload"]) == {"url"}),
    ("ig_post", {"title": "Post"}, lambda m: set(m["message"]["attachments"][0]["payload"]) == {"url", "title", "ig_post_media_id"}),
    ("ig_reel", {}, lambda m: set(m["message"]["attachments"][0]["payload"]) == {"url", "title", "reel_video_id"}),
    ("reel", {}, lambda m: m["message"]["attachments"][0]["type"] == "reel"),
    ("ig_story", {}, lambda m: set(m["message"]["attachments"][0]["payload"]) == {"story_media_id", "story_media_url"}),
    ("unsupported", {}, lambda m: m["message"]["is_unsupported"] is True and "text" not in m["message"]),
    ("quick_reply", {"text": "Sim", "payload": "Q_YES"}, lambda m: m["message"]["quick_reply"] == {"payload": "Q_YES"}),
    ("postback", {"title": "Falar com atendente", "payload": "HUMAN"},
     lambda m: m["postback"]["payload"] == "HUMAN" and m["postback"]["mid"]),
    ("referral", {"text": "Vi o anúncio", "ad_id": "42"},
     lambda m: m["message"]["referral"]["source"] == "ADS" and m["message"]["referral"]["ad_id"] == "42"),
    ("referral", {"source": "https://ig.me/m/loja.demo?ref=promo", "ref": "promo"},
     lambda m: m["referral"] == {"ref": "promo", "source": "https://ig.me/m/loja.demo?ref=promo", "type": "OPEN_THREAD"}),
])
def test_every_customer_event_kind_in_metas_shape(meta, client, kind, data, check):
    sent = meta.customer(kind=kind, **data)
    event = last_item(client)
    item = event["item"]
    assert item["sender"] == {"id": ANA_AT_LOJA} and item["recipient"] == {"id": LOJA_IG}
    assert item["timestamp"] == sent["timestamp"]
    assert check(item), item
    media = [a["payload"].get("url") or a["payload"].get("story_media_url") for a in item.get("message", {}).get("attachments", [])]
    assert all(url.startswith(PUBLIC + "/sandbox/cdn/") for url in media)  # never the internet


def test_sample_media_urls_serve_the_sample(meta, client):
    for kind, mimetype in (("image", "image/png"), ("audio", "audio/wav"), ("file", "application/pdf"), ("video", "video/mp4")):
        url = meta.customer(kind=kind)["item"]["message"]["attachments"][0]["payload"]["url"]
        response = client.get(url.removeprefix(PUBLIC + "/sandbox"))
        assert response.status_code == 200 and response.mimetype == mimetype


def test_reply_to_a_message(meta, client):
    first = meta.customer(text="primeira")["mid"]
    meta.customer(text="respondendo", reply_to=first)
    assert last_item(client)["item"]["message"]["reply_to"] == {"mid": first}


def test_unsend_keeps_the_mid_and_edit_counts(meta, client):
    mid = meta.customer(text="ops")["mid"]
    meta.customer(kind="edit", mid=mid, text="corrigido")
    assert last_item(client)["item"]["message_edit"] == {"mid": mid, "text": "corrigido", "num_edit": 1}
    meta.customer(kind="unsend", mid=mid)
    assert last_item(client)["item"]["message"] == {"mid": mid, "is_deleted": True}


def test_react_unreact_and_seen_on_business_messages(meta, client):
    meta.customer(text="oi")
    business = meta.send(meta.page_token(), message={"text": "Olá"}).json["message_id"]
    meta.customer(kind="react", mid=business, reaction="love")
    assert last_item(client)["item"]["reaction"] == {"mid": business, "action": "react", "reaction": "love", "emoji": "\u2764\ufe0f"}
    assert last_item(client)["field"] == "message_reactions"
    meta.customer(kind="unreact", mid=business)
    assert last_item(client)["item"]["reaction"] == {"mid": business, "action": "unreact"}
    meta.customer(kind="seen")
    assert last_item(client)["item"]["read"] == {"mid": business} and last_item(client)["field"] == "messaging_seen"


def test_reactions_and_seen_do_not_reopen_the_window(meta):
    token = meta.page_token()
    meta.customer(text="oi")
    business = meta.send(token, message={"text": "Olá"}).json["message_id"]
    meta.client.post("/api/clock", json={"advance_seconds": 25 * 3600})
    meta.customer(kind="react", mid=business)
    meta.customer(kind="seen")
    assert meta.send(token, message={"text": "x"}).json["error"]["error_subcode"] == 2534022


def test_explicit_timestamp_and_back_dating(meta, sandbox):
    assert meta.customer(timestamp=1_700_000_000_123)["timestamp"] == 1_700_000_000_123
    two_hours_ago = meta.customer(sent_hours_ago=2)["timestamp"]
    assert abs(sandbox.now_ms() - 2 * 3600 * 1000 - two_hours_ago) < 5000


def test_bad_requests_are_explained(client):
    assert client.post("/api/messages", json={"customer": "ana", "kind": "dance"}).status_code == 400
    assert client.post("/api/messages", json={"customer": "nobody", "kind": "text", "text": "x"}).status_code == 400
    assert client.post("/api/messages", json={"customer": "ana", "kind": "unsend", "mid": "nope"}).status_code == 400
    assert client.post("/api/messages", data={"customer": "ana"}).status_code == 415  # JSON only


def test_thread_by_igsid_or_by_names(meta, client):
    meta.customer(text="oi")
    by_id = client.get(f"/api/threads/{ANA_AT_LOJA}").json
    by_name = client.get("/api/threads", query_string={"customer": "@ana.souza", "account": "@loja.demo"}).json
    assert by_id == by_name and by_id["messages"][0]["text"] == "oi" and by_id["messages"][0]["from"] == "customer"
    assert client.get("/api/threads/123").status_code == 404


def test_world_lists_users_pages_accounts_and_igsids(client):
    world = client.get("/api/world").json
    dona = world["users"][0]
    assert dona["name"] == "Dona Demo" and [p["name"] for p in dona["pages"]] == ["Loja Demo", "Café da Dona", "Dona Demo Blog"]
    rui = next(u for u in world["users"] if u["name"] == "Rui Redes")
    assert len(rui["pages"]) == 31
    ana = next(c for c in world["customers"] if c["key"] == "ana")
    assert ana["igsids"]["loja.demo"] == ANA_AT_LOJA and len(set(ana["igsids"].values())) == len(world["instagram_accounts"])


def test_settings_round_trip_and_validation(client):
    changed = client.patch("/api/settings", json={"batching": True, "retry_schedule": "0,1.5,30", "human_agent": True}).json
    assert changed["batching"] is True and changed["retry_schedule"] == [0.0, 1.5, 30.0] and changed["human_agent"] is True
    assert "session_secret" not in changed
    assert client.patch("/api/settings", json={"nonsense": 1}).status_code == 400
    assert client.patch("/api/settings", json={"batch_window_ms": "soon"}).status_code == 400


def test_text_limit_is_a_knob(meta):
    meta.settings(text_limit_bytes=2000)
    meta.customer(text="oi")
    assert meta.send(meta.page_token(), message={"text": "a" * 1500}).status_code == 200


def test_clock_travel_and_reset(client, sandbox):
    before = sandbox.now_ms()
    moved = client.post("/api/clock", json={"advance_seconds": 3600}).json
    assert moved["offset_ms"] == 3_600_000 and moved["now_ms"] - before >= 3_600_000
    assert client.post("/api/clock", json={"reset": True}).json["offset_ms"] == 0


def test_reset_goes_back_to_the_seed(meta, client):
    meta.customer(text="oi")
    meta.fault(endpoint="send", code=613)
    meta.settings(human_agent=True)
    assert client.post("/api/reset", json={}).json == {"reset": True}
    assert client.get(f"/api/threads/{ANA_AT_LOJA}").json["messages"] == []
    assert client.get("/api/faults").json["faults"] == [] and client.get("/api/settings").json["human_agent"] is False
    assert client.get("/api/world").json["users"][0]["name"] == "Dona Demo"


def test_seed_is_idempotent_and_ids_are_stable(make_sandbox):
    first = make_sandbox().test_client().get("/api/world").json
    second = make_sandbox().test_client().get("/api/world").json
    assert first == second
    assert first["instagram_accounts"][1]["id"] == ids.ig_account_id("loja")


def test_delivery_log_and_await(meta, client, receiver):
    meta.customer(text="oi")
    waited = client.post("/api/deliveries/await", json={"timeout": 5}).json
    assert waited["idle"] is True and waited["pending_deliveries"] == 0
    log = client.get("/api/deliveries").json["deliveries"]
    assert log[0]["status"] == "delivered" and log[0]["attempts"][0]["status_code"] == 200
    assert "Webhook deliveries" in client.get("/deliveries").get_data(as_text=True)


def test_repeat_sends_many_events_for_benchmarks(meta, client):
    response = client.post("/api/messages", json={"customer": "ana", "text": "carga", "repeat": 50})
    assert response.status_code == 201 and len(response.json["events"]) == 50
    texts = [m["text"] for m in client.get(f"/api/threads/{ANA_AT_LOJA}").json["messages"]]
    assert texts[0] == "carga #1" and texts[-1] == "carga #50"
    assert meta.flush()["delivered"] == 50
    assert client.post("/api/messages", json={"customer": "ana", "text": "x", "repeat": 5000}).status_code == 400


def test_every_knob_can_be_read_and_changed(client):
    from webapp.sandbox.api import EDITABLE_KNOBS

    assert set(client.get("/api/settings").json) == set(EDITABLE_KNOBS)
