"""Where the sandbox lives (issue 3, point 1): mounted at /sandbox only when META_SANDBOX is on, with its own
storage in the instance folder and its own cookie."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import create_engine, inspect

from webapp.sandbox import mount


def direto_like_app(tmp_path, sandbox_on: bool, receiver_url: str) -> Flask:
    app = Flask("direto_stub", instance_path=str(tmp_path / "instance"))
    app.config.update(META_SANDBOX=sandbox_on, PUBLIC_BASE_URL="http://127.0.0.1:5000", FACEBOOK_CLIENT_ID="123123123123123",
                      FACEBOOK_CLIENT_SECRET="s3cret", META_VERIFY_TOKEN="v", SANDBOX_WEBHOOK_URL=receiver_url,
                      SANDBOX_WORKER=False)

    @app.get("/")
    def home():
        return "direto home"

    return app


def test_mounted_at_sandbox_when_on(tmp_path, receiver):
    app = direto_like_app(tmp_path, True, receiver.url)
    mount(app)
    client = app.test_client()
    assert client.get("/").data == b"direto home"
    response = client.get("/sandbox/graph/v21.0/me")
    assert response.status_code == 400 and response.json["error"]["code"] == 104
    assert client.get("/sandbox/phone/").status_code == 200
    assert client.get("/sandbox/www/v24.0/dialog/oauth", query_string={"client_id": "123123123123123"}).status_code == 400
    # Its own database, in Direto's instance folder, with none of Direto's tables.
    database = tmp_path / "instance" / "sandbox.sqlite3"
    assert database.exists()
    tables = set(inspect(create_engine(f"sqlite:///{database}")).get_table_names())
    assert {"page", "conversation", "delivery"} <= tables and "user" not in tables


def test_cookie_is_scoped_to_the_sandbox(tmp_path, receiver):
    app = direto_like_app(tmp_path, True, receiver.url)
    mount(app)
    response = app.test_client().get("/sandbox/phone/8532027536890212")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("meta_sandbox_session=") and "Path=/sandbox" in cookie


def test_never_mounted_when_off(tmp_path, receiver):
    app = direto_like_app(tmp_path, False, receiver.url)
    original = app.wsgi_app
    mount(app)
    assert app.wsgi_app == original
    assert app.test_client().get("/sandbox/graph/me").status_code == 404
    assert not (tmp_path / "instance" / "sandbox.sqlite3").exists()


def test_sandbox_urls_follow_public_base_url(tmp_path, receiver):
    app = direto_like_app(tmp_path, True, receiver.url)
    mount(app)
    client = app.test_client()
    url = client.post("/sandbox/api/messages", json={"customer": "ana", "kind": "image"}).json["item"]["message"]["attachments"][0]["payload"]["url"]
    assert url.startswith("http://127.0.0.1:5000/sandbox/cdn/")
