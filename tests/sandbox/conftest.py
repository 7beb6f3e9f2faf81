"""Fixtures for the Meta sandbox's own tests.

* `app` / `client` / `sandbox`: a sandbox app on a fresh SQLite file, delivery worker off (tests flush).
* `receiver`: a real HTTP server on loopback playing Direto's webhook endpoint; it records raw bodies and
  headers, answers the statuses it is told, and lets tests await N requests without sleeping.
* `meta`: helpers for the usual flows (log in, exchange a code, get a page token, make a customer write).
* `live_sandbox`: the sandbox served over real HTTP under /sandbox, with its delivery worker running.
"""
from __future__ import annotations

import re
import time
import threading
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from webapp.sandbox import create_sandbox_app, ids
from webapp.sandbox.runtime import Sandbox

APP_ID = "987654321012345"
APP_SECRET = "test-app-secret"
PUBLIC = "http://direto.test"
REDIRECT_URI = f"{PUBLIC}/connections/callback"
SCOPES = "instagram_basic,instagram_manage_messages,pages_manage_metadata,pages_show_list,pages_messaging,business_management"

DONA = ids.user_id("dona")
RUI = ids.user_id("rui")
LOJA_PAGE = ids.page_id("loja")
BLOG_PAGE = ids.page_id("blog")
LOJA_IG = ids.ig_account_id("loja")
ANA_AT_LOJA = ids.igsid("ana", "loja")


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """Direto's webhook endpoint, played by a tiny WSGI app on a real socket."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: deque = field(default_factory=deque)  # next statuses to answer; 200 when empty
    hold: threading.Event | None = None  # when set to an Event, requests wait on it (to provoke timeouts)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def wsgi(self, environ, start_response):
        request = Request(environ)
        raw = request.get_data()
        if self.hold is not None:
            self.hold.wait(5)
        status = self.statuses.popleft() if self.statuses else 200
        with self._arrived:
            self.requests.append(Received(request.path, dict(request.headers), raw))
            self._arrived.notify_all()
        if request.method == "GET":  # webhook verification: echo the challenge if the token matches
            ok = request.args.get("hub.verify_token") == "verify-me"
            return Response(request.args.get("hub.challenge", "") if ok else "no", 200 if ok else 403)(environ, start_response)
        return Response(f"answered {status}", status=status)(environ, start_response)

    def await_count(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.requests) >= count, timeout), (
                f"expected {count} webhook requests, got {len(self.requests)}")
        return list(self.requests)


def serve(wsgi_app) -> tuple[str, object]:
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}", server


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Only the settings a test passes count, never the developer's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("SANDBOX_") or name in ("PUBLIC_BASE_URL", "FACEBOOK_CLIENT_ID", "FACEBOOK_CLIENT_SECRET"):
            monkeypatch.delenv(name)


@pytest.fixture
def receiver():
    recorder = Receiver()
    base, server = serve(recorder.wsgi)
    recorder.url = f"{base}/webhooks/instagram"
    yield recorder
    if recorder.hold is not None:
        recorder.hold.set()
    server.shutdown()


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory):
    """One seeded SQLite file per session; each test starts from a copy (seeding every test is slow)."""
    path = tmp_path_factory.mktemp("template") / "sandbox.sqlite3"
    app = create_sandbox_app({"SANDBOX_DATABASE_URL": f"sqlite:///{path}", "SANDBOX_WORKER": False})
    app.extensions["meta_sandbox"].close()
    return path


@pytest.fixture
def database_url(tmp_path, seeded_sqlite):
    """SQLite in a temporary folder; with TEST_DATABASE_URL, a throwaway schema in that PostgreSQL database."""
    import os
    import shutil

    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        shutil.copyfile(seeded_sqlite, tmp_path / "sandbox.sqlite3")
        yield f"sqlite:///{tmp_path / 'sandbox.sqlite3'}"
        return
    from webapp.database import throwaway_schema

    with throwaway_schema(url, "sandbox_test") as (scoped, _):
        yield scoped


@pytest.fixture
def settings(database_url, receiver) -> dict:
    return {
        "PUBLIC_BASE_URL": PUBLIC,
        "FACEBOOK_CLIENT_ID": APP_ID,
        "FACEBOOK_CLIENT_SECRET": APP_SECRET,
        "META_VERIFY_TOKEN": "verify-me",
        "SANDBOX_WEBHOOK_URL": receiver.url,
        "SANDBOX_DATABASE_URL": database_url,
        "SANDBOX_WORKER": False,
        "SANDBOX_RETRY_SCHEDULE": "0,0,0",
        "SANDBOX_WEBHOOK_TIMEOUT": "2",
        "SANDBOX_FETCH_TIMEOUT": "2",
    }


@pytest.fixture(autouse=True)
def clean_database():
    """The sandbox has its own database per test; Direto's (tests/conftest.py) is not involved here."""
    yield


@pytest.fixture
def make_sandbox(settings):
    """Build extra sandbox apps (another "worker process"); all are closed after the test."""
    made = []

    def make(**overrides) -> Flask:
        app = create_sandbox_app({**settings, **overrides})
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["meta_sandbox"].close()


@pytest.fixture
def sandbox_app(make_sandbox) -> Flask:
    return make_sandbox()


@pytest.fixture
def sandbox(sandbox_app) -> Sandbox:
    return sandbox_app.extensions["meta_sandbox"]


@pytest.fixture
def client(sandbox_app):
    """Overrides the suite's Direto client: here the client talks to the sandbox app."""
    return sandbox_app.test_client()


@pytest.fixture
def frozen(sandbox):
    """Freeze the sandbox's wall clock; `frozen.advance(seconds)` moves it."""

    class Clock:
        now = time.time()

        def advance(self, seconds: float) -> None:
            self.now += seconds

    clock = Clock()
    sandbox.wall_clock = lambda: clock.now
    return clock


class Meta:
    """The flows every test needs, through the sandbox's HTTP surface (Flask test client)."""

    def __init__(self, client, sandbox: Sandbox) -> None:
        self.client = client
        self.sandbox = sandbox

    def dialog_params(self, scope: str = SCOPES, state: str = "st4te", redirect_uri: str = REDIRECT_URI) -> dict:
        return {"client_id": APP_ID, "redirect_uri": redirect_uri, "state": state, "scope": scope,
                "response_type": "code"}

    def csrf(self) -> str:
        with self.client.session_transaction() as browser:
            browser.setdefault("csrf", "test-csrf-token")
            return browser["csrf"]

    def authorize(self, user: str = DONA, decline: tuple[str, ...] = (), action: str = "continue",
                  scope: str = SCOPES, state: str = "st4te", redirect_uri: str = REDIRECT_URI):
        """Go through the dialog: log in as `user`, untick `decline`, press Continue (or Cancel)."""
        params = self.dialog_params(scope, state, redirect_uri)
        token = self.csrf()
        login = self.client.post("/www/dialog/oauth/login", data={**params, "user_id": user, "csrf_token": token})
        assert login.status_code == 302, login.data
        consent = self.client.get(login.headers["Location"])
        assert consent.status_code == 200
        granted = [name for name in scope.split(",") if name not in decline]
        form = {**params, "csrf_token": token, "action": action, "grant": granted}
        return self.client.post("/www/dialog/oauth/confirm", data=form)

    def code(self, **kwargs) -> str:
        response = self.authorize(**kwargs)
        location = response.headers["Location"]
        assert location.endswith("#_=_")
        return parse_qs(urlsplit(location).query)["code"][0]

    def exchange(self, code: str, redirect_uri: str = REDIRECT_URI):
        return self.client.get("/graph/v21.0/oauth/access_token", query_string={
            "client_id": APP_ID, "client_secret": APP_SECRET, "redirect_uri": redirect_uri, "code": code})

    def user_token(self, long_lived: bool = True, **kwargs) -> str:
        response = self.exchange(self.code(**kwargs))
        assert response.status_code == 200, response.json
        token = response.json["access_token"]
        if not long_lived:
            return token
        response = self.client.get("/graph/v21.0/oauth/access_token", query_string={
            "grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": APP_SECRET,
            "fb_exchange_token": token})
        assert response.status_code == 200, response.json
        return response.json["access_token"]

    def page_token(self, page_id: str = LOJA_PAGE, **kwargs) -> str:
        user_token = self.user_token(**kwargs)
        response = self.client.get(f"/graph/v21.0/{page_id}", query_string={"fields": "access_token", "access_token": user_token})
        assert response.status_code == 200, response.json
        return response.json["access_token"]

    def customer(self, kind: str = "text", customer: str = "ana", account: str = "loja.demo", **data) -> dict:
        if kind in ("text", "story_reply", "quick_reply") and "text" not in data:
            data["text"] = "Oi! Vocês têm esse modelo? \U0001f60a"
        response = self.client.post("/api/messages", json={"customer": customer, "account": account, "kind": kind, **data})
        assert response.status_code == 201, response.json
        return response.json

    def send(self, page_token: str, recipient: str = ANA_AT_LOJA, message: dict | None = None, **extra):
        body = {"recipient": {"id": recipient}, **({"message": message} if message is not None else {}), **extra}
        return self.client.post("/graph/v21.0/me/messages", json=body, headers={"Authorization": f"Bearer {page_token}"})

    def flush(self, force: bool = True) -> dict:
        return self.client.post("/api/deliveries/flush", json={"force": force}).json

    def settings(self, **values):
        response = self.client.patch("/api/settings", json=values)
        assert response.status_code == 200, response.json
        return response.json

    def fault(self, **values) -> dict:
        response = self.client.post("/api/faults", json=values)
        assert response.status_code == 201, response.json
        return response.json


@pytest.fixture
def meta(client, sandbox) -> Meta:
    return Meta(client, sandbox)


@pytest.fixture
def live_sandbox(settings, receiver, database_url):
    """The sandbox on a real socket under /sandbox (as when mounted in Direto), worker thread on."""
    holder: dict = {}

    def root(environ, start_response):
        return Response("direto", 404)(environ, start_response)

    def dispatch(environ, start_response):
        return holder["wsgi"](environ, start_response)

    base, server = serve(dispatch)
    app = create_sandbox_app({**settings, "PUBLIC_BASE_URL": base, "SANDBOX_WORKER": True})
    holder["wsgi"] = DispatcherMiddleware(root, {"/sandbox": app})
    yield f"{base}/sandbox", app.extensions["meta_sandbox"]
    server.shutdown()
    app.extensions["meta_sandbox"].close()


def hidden_inputs(html: str) -> dict[str, str]:
    """name -> value of every hidden input in a page."""
    found = {}
    for tag in re.findall(r"<input [^>]*>", html):
        attributes = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag))
        if attributes.get("type") == "hidden" and "name" in attributes:
            found[attributes["name"]] = attributes.get("value", "")
    return found


@pytest.fixture(scope="session")
def sandbox_browser(browser):
    """The suite's one Chromium (tests/conftest.py): Playwright's sync API allows one instance per process."""
    return browser
