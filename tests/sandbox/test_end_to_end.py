"""Everything over real HTTP (issue 3, points 1, 3, 5, 6): the sandbox served under /sandbox on a socket,
its background delivery worker on, a browser-like session through the dialog, Graph calls with
`requests`, and webhooks arriving signed at the loopback receiver without any flush call."""
from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from .conftest import ANA_AT_LOJA, APP_ID, APP_SECRET, LOJA_IG, SCOPES, hidden_inputs


def test_login_send_and_signed_webhooks_end_to_end(live_sandbox, receiver):
    base, _ = live_sandbox
    root = base.removesuffix("/sandbox")
    redirect_uri = f"{root}/connections/callback"
    browser = requests.Session()

    # Facebook Login, as a browser does it: dialog, choose a user, consent, redirect back.
    params = {"client_id": APP_ID, "redirect_uri": redirect_uri, "state": "xyz", "scope": SCOPES, "response_type": "code"}
    dialog = browser.get(f"{base}/www/v21.0/dialog/oauth", params=params)
    assert dialog.status_code == 200 and "Dona Demo" in dialog.text
    assert dialog.headers["Content-Security-Policy"].startswith("default-src 'self'")
    csrf = hidden_inputs(dialog.text)["csrf_token"]
    login = browser.post(f"{base}/www/dialog/oauth/login", data={**params, "csrf_token": csrf, "user_id": "10290072940154774"},
                         allow_redirects=False)
    assert login.status_code == 302
    consent = browser.get(urljoin(base, login.headers["Location"]))
    assert "instagram_manage_messages" in consent.text
    assert "Path=/sandbox" in login.headers["Set-Cookie"]  # never Direto's cookie
    back = browser.post(f"{base}/www/dialog/oauth/confirm", allow_redirects=False,
                        data={**params, "csrf_token": csrf, "action": "continue", "grant": SCOPES.split(",")})
    assert back.headers["Location"].startswith(redirect_uri) and back.headers["Location"].endswith("#_=_")
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]

    # Server side: tokens and pages, with paging.next pointing at this sandbox.
    graph = f"{base}/graph/v21.0"
    short = requests.get(f"{graph}/oauth/access_token", params={"client_id": APP_ID, "client_secret": APP_SECRET,
                                                                "redirect_uri": redirect_uri, "code": code}).json()
    long = requests.get(f"{graph}/oauth/access_token", params={
        "grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": APP_SECRET,
        "fb_exchange_token": short["access_token"]}).json()
    pages = requests.get(f"{graph}/me/accounts", headers={"Authorization": f"Bearer {long['access_token']}"},
                         params={"fields": "name,access_token,instagram_business_account{id,username}"}).json()["data"]
    loja = next(page for page in pages if page["name"] == "Loja Demo")
    assert loja["instagram_business_account"] == {"id": LOJA_IG, "username": "loja.demo"}

    # A customer writes; the worker delivers it on its own, signed.
    sent = requests.post(f"{base}/api/messages", json={"customer": "ana", "account": "loja.demo", "text": "Olá! 👋"}).json()
    first = receiver.await_count(1)[0]
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), first.body, hashlib.sha256).hexdigest()
    assert first.headers["X-Hub-Signature-256"] == signature
    assert json.loads(first.body)["entry"][0]["messaging"][0]["message"]["mid"] == sent["mid"]

    # The business answers through the Send API; the echo carries the same mid.
    answer = requests.post(f"{graph}/{loja['id']}/messages", headers={"Authorization": f"Bearer {loja['access_token']}"},
                           json={"recipient": {"id": ANA_AT_LOJA}, "message": {"text": "Oi, Ana!"}}).json()
    echo = json.loads(receiver.await_count(2)[1].body)["entry"][0]["messaging"][0]
    assert echo["message"] == {"mid": answer["message_id"], "is_echo": True, "text": "Oi, Ana!"}

    # The phone shows the answer to the customer.
    phone = requests.get(f"{base}/phone/{ANA_AT_LOJA}")
    assert "Oi, Ana!" in phone.text and phone.headers["Content-Security-Policy"]
    assert requests.post(f"{base}/api/deliveries/await", json={"timeout": 5}).json()["idle"] is True


def test_worker_redelivers_on_its_own_after_errors(live_sandbox, receiver):
    base, _ = live_sandbox
    requests.patch(f"{base}/api/settings", json={"retry_schedule": [0.05, 0.05]})
    receiver.statuses.extend([404, 500])
    requests.post(f"{base}/api/messages", json={"customer": "bruno", "text": "tem alguém aí?"})
    received = receiver.await_count(3)
    assert len({r.body for r in received}) == 1
    assert requests.post(f"{base}/api/deliveries/await", json={"timeout": 5}).json()["idle"] is True
    log = requests.get(f"{base}/api/deliveries").json()["deliveries"][0]
    assert [a["status_code"] for a in log["attempts"]] == [404, 500, 200] and log["status"] == "delivered"
