"""Faults (issue 3, point 8): set per endpoint, fire, clear (by count or by hand); rate limits, transient
errors, dead tokens, 551, HTTP 500, latency and dropped connections."""
from __future__ import annotations

import time

import pytest
import requests

from .conftest import ANA_AT_LOJA


@pytest.fixture
def ready(meta):
    """A page token and a customer who just wrote: every send would succeed without a fault."""
    token = meta.page_token()
    meta.customer()
    return token


def send_text(meta, token):
    return meta.send(token, message={"text": "oi"})


@pytest.mark.parametrize("code, subcode, message", [
    (613, None, "(#613) Calls to this api have exceeded the rate limit."),
    (4, None, "(#4) Application request limit reached"),
    (32, None, "(#32) Page request limit reached"),
    (2, None, "An unexpected error has occurred. Please retry your request later."),
    (551, 1545041, "(#551) This person isn't available right now."),
    (190, 460, "Error validating access token: The session has been invalidated because the user changed their "
               "password or Facebook has changed the session for security reasons."),
])
def test_error_faults_fire_with_metas_body_then_clear(meta, ready, code, subcode, message):
    meta.fault(endpoint="send", code=code, **({"subcode": subcode} if subcode and code != 551 else {}), count=1)
    response = send_text(meta, ready)
    assert response.status_code == 400
    error = response.json["error"]
    assert (error["code"], error.get("error_subcode"), error["message"]) == (code, subcode, message)
    assert send_text(meta, ready).status_code == 200  # the count ran out: cleared by itself
    assert meta.client.get("/api/faults").json["faults"] == []


def test_expired_token_fault_on_graph_calls(meta, ready, client):
    meta.fault(endpoint="graph", error="190/463")
    for _ in range(2):  # no count: fires until cleared
        response = client.get("/graph/me", headers={"Authorization": f"Bearer {ready}"})
        assert (response.json["error"]["code"], response.json["error"]["error_subcode"]) == (190, 463)
        assert response.headers["WWW-Authenticate"].startswith('OAuth "Facebook Platform" "invalid_token"')
    assert client.delete("/api/faults", json={}).json["cleared"] == 1
    assert client.get("/graph/me", headers={"Authorization": f"Bearer {ready}"}).status_code == 200


def test_faults_are_per_endpoint(meta, ready, client):
    meta.fault(endpoint="profile", code=613)
    assert send_text(meta, ready).status_code == 200
    assert client.get(f"/graph/{ANA_AT_LOJA}", headers={"Authorization": f"Bearer {ready}"}).json["error"]["code"] == 613


def test_token_endpoint_fault(meta, client):
    meta.fault(endpoint="token", code=2, count=1)
    assert meta.exchange(meta.code()).json["error"]["code"] == 2


def test_http_500_fault(meta, ready):
    meta.fault(endpoint="*", http_status=500, count=1)
    response = send_text(meta, ready)
    assert response.status_code == 500 and response.json["error"]["code"] == 2


def test_latency_fault_delays_then_answers(meta, ready):
    meta.fault(endpoint="send", latency_ms=300, count=1)
    started = time.monotonic()
    assert send_text(meta, ready).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_most_specific_fault_wins_and_single_faults_clear(meta, ready, client):
    everywhere = meta.fault(endpoint="*", code=4)
    meta.fault(endpoint="send", code=613)
    assert send_text(meta, ready).json["error"]["code"] == 613
    client.delete(f"/api/faults/{everywhere['id']}", json={})
    assert [f["endpoint"] for f in client.get("/api/faults").json["faults"]] == ["send"]


def test_invalid_fault_is_refused(client):
    assert client.post("/api/faults", json={"endpoint": "nowhere", "code": 1}).status_code == 400
    assert client.post("/api/faults", json={"endpoint": "send"}).status_code == 400


def test_dropped_connection_over_real_http(live_sandbox):
    base, _ = live_sandbox
    assert requests.post(f"{base}/api/faults", json={"endpoint": "me", "drop": True, "count": 1}).status_code == 201
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/graph/v21.0/me", params={"access_token": "x"}, timeout=5)
    # The fault is spent: the next call gets an ordinary answer (an error envelope for a bad token).
    assert requests.get(f"{base}/graph/v21.0/me", params={"access_token": "x"}, timeout=5).json()["error"]["code"] == 190
