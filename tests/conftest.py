"""Fixtures for the whole suite (flaskr style): a real database, the app, clients per role, a live server, Chromium.

The database is SQLite in a temporary folder by default; with TEST_DATABASE_URL it is a throwaway schema in that
PostgreSQL database, and TEST_REDIS_URL gives the app a Redis. Nothing here mocks our own storage.
"""
from __future__ import annotations

import html
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from webapp import create_app
from webapp.config import SANDBOX_APP_ID, SANDBOX_APP_SECRET
from webapp.database import throwaway_schema
from webapp.extensions import db
from webapp.team import directory
from webapp.team.models import Role

pytest_plugins = [
    "tests.inbound_support",  # Meta's webhook as tests send it: `inbox_app`, `shop`, `meta`
    "tests.live_support",  # live streams: `conversations`, `streams`
]

ROOT = Path(__file__).resolve().parent.parent
TEST_PASSWORD = "correct horse 42"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


# ---- the database ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'direto-test.sqlite3'}"
        return
    # Every connection, ours and the live server's, works inside the throwaway schema.
    with throwaway_schema(url, "direto_test") as (scoped, _):
        yield scoped


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory):
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def test_settings(database_url, instance_path):
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": os.environ.get("TEST_REDIS_URL") or None,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast hashes: tests create many users
        "META_SANDBOX": False,
        "PUBLIC_BASE_URL": "http://localhost",
        # In-process apps process a delivery right after storing it; the live server does it in the background.
        "WEBHOOK_PROCESSING": "inline",
    }


@pytest.fixture(scope="session")
def app(test_settings):
    from flask_migrate import upgrade

    app = create_app(test_settings)
    with app.app_context():
        upgrade()  # the real migrations, as production runs them
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def clean_database(request, app):
    """Each test starts from empty tables (the schema stays: migrations ran once). The live server may still be
    finishing a test's last webhook or send on PostgreSQL: a deadlock with it is retried, not a failure."""
    from sqlalchemy.exc import OperationalError

    yield
    with app.app_context():
        db.session.remove()
        for attempt in range(5):
            try:
                with db.engine.begin() as conn:
                    for table in reversed(db.metadata.sorted_tables):
                        conn.execute(table.delete())
                return
            except OperationalError as error:
                if "deadlock" not in str(error) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))  # let the live server's transaction finish first


# ---- clients and people -------------------------------------------------------------------------


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client, path="/login") -> str:
    """The CSRF token a page would give a browser (read from the page's meta tag)."""
    response = client.get(path)
    match = CSRF_META.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


@pytest.fixture
def make_user(app):
    """Create a user with TEST_PASSWORD; departments are created by name when missing."""

    def make(role=Role.AGENT, email=None, name=None, departments=("Vendas",), active=True, language="pt_BR"):
        role = Role(role)
        with app.app_context():
            user = directory.create_user(
                name=name or f"{role.value.title()} {secrets.token_hex(2)}",
                email=email or f"{role.value}-{secrets.token_hex(3)}@example.test",
                password=TEST_PASSWORD,
                role=role,
                language=language,
                departments=[directory.ensure_department(d) for d in departments],
                hash_method="pbkdf2:sha256:1000",
            )
            user.active = active
            db.session.commit()
            return {"id": user.id, "email": user.email, "name": user.name, "role": role}

    return make


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email, password=TEST_PASSWORD, remember=False, **kwargs):
        data = {"email": email, "password": password, "csrf_token": csrf_token(self._client)}
        if remember:
            data["remember"] = "y"
        return self._client.post("/login", data=data, **kwargs)

    def logout(self):
        return self._client.post("/logout", data={"csrf_token": csrf_token(self._client, "/")})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def _signed_in(app, make_user, role, **kwargs):
    client = app.test_client()
    user = make_user(role, **kwargs)
    response = AuthActions(client).login(user["email"])
    assert response.status_code == 302, response.get_data(as_text=True)
    client.user = user
    return client


@pytest.fixture
def admin_client(app, make_user):
    return _signed_in(app, make_user, Role.ADMIN, departments=())


@pytest.fixture
def supervisor_client(app, make_user):
    return _signed_in(app, make_user, Role.SUPERVISOR, departments=())


@pytest.fixture
def agent_client(app, make_user):
    return _signed_in(app, make_user, Role.AGENT, departments=("Vendas",))


@pytest.fixture
def english_admin(app, make_user):
    """An admin who reads English, for tests about behaviour rather than wording; `.token` is a CSRF token."""
    client = _signed_in(app, make_user, Role.ADMIN, departments=(), language="en")
    client.token = csrf_token(client, "/")
    return client


def value_of(body: str, name: str) -> str | None:
    """The value of the input named `name` in an HTML answer, or None when there is no such input."""
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', body)
    if tag is None:
        return None
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def run_concurrently(app, task, threads: int) -> list:
    """Run task() in `threads` threads at once, each in its own app context (own session and connection);
    return their results, and raise the first exception a thread hit (it would otherwise vanish)."""
    results, errors = [], []

    def run():
        try:
            with app.app_context():
                results.append(task())
                db.session.remove()
        except Exception as error:
            errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    if errors:
        raise errors[0]
    return results


def htmx(**headers):
    """Headers htmx sends with its requests."""
    return {"HX-Request": "true", **headers}


# ---- the real server and a real browser ---------------------------------------------------------


def _listening_socket() -> socket.socket:
    """Bound and listening before gunicorn starts: requests queue instead of racing its start-up."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


class LiveServer:
    """Direto served by gunicorn in a subprocess (see `serve`)."""

    def __init__(self, url, process, log_path):
        self.url, self.process, self.log_path = url, process, log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_env(test_settings, url: str, **overrides) -> dict:
    """The environment of a Direto server on the tests' database (overrides: more settings, as strings)."""
    return {
        **os.environ,
        "DATABASE_URL": test_settings["SQLALCHEMY_DATABASE_URI"],
        "INSTANCE_PATH": test_settings["INSTANCE_PATH"],
        "SECRET_KEY": test_settings["SECRET_KEY"],
        "TOKEN_ENCRYPTION_KEY": test_settings["TOKEN_ENCRYPTION_KEY"],
        "PASSWORD_HASH_METHOD": test_settings["PASSWORD_HASH_METHOD"],
        "PUBLIC_BASE_URL": url,
        "REDIS_URL": test_settings["REDIS_URL"] or "",
        **{name: value.replace("{url}", url) for name, value in overrides.items()},  # {url}: the server's own
    }


def serve(test_settings, log_path: Path, workers: int = 1, **overrides) -> LiveServer:
    """Direto served as in production: gunicorn with the gevent worker, in a subprocess, on a free port; returns
    once it answers /healthz."""
    sock = _listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "webapp/gunicorn_conf.py", "--workers", str(workers),
             "--bind", f"fd://{sock.fileno()}", "wsgi:app"],
            cwd=ROOT, env=server_env(test_settings, url, **overrides), stdout=log, stderr=subprocess.STDOUT,
            pass_fds=(sock.fileno(),),
        )
    sock.close()  # gunicorn holds its own copy of the listening socket
    server = LiveServer(url, process, log_path)
    try:
        # The socket already listens, so this waits for the worker instead of failing.
        response = requests.get(f"{url}/healthz", timeout=60)
        assert response.status_code == 200, server.log()
    except Exception:
        process.kill()
        process.wait()
        raise RuntimeError(f"the server did not start:\n{server.log()}")
    return server


@pytest.fixture(scope="session")
def live_server(app, test_settings, tmp_path_factory):
    """The tests' Direto server, with the sandbox as its Meta (mounted at /sandbox, with its own database); `app`
    has migrated the database."""
    log_path = tmp_path_factory.mktemp("live") / "server.log"
    server = serve(
        test_settings, log_path,
        # Background jobs would race the tests' own calls (and consume the faults they inject): tested apart. Its
        # workers act on what it was woken for (its own webhooks, sends, downloads), never by polling the rows the
        # in-process apps are working on in the same database.
        DIRETO_SCHEDULER="0", BACKGROUND_POLL_SECONDS="3600",
        META_SANDBOX="1", SANDBOX_DATABASE_URL=f"sqlite:///{log_path.parent / 'sandbox.sqlite3'}",
        FACEBOOK_CLIENT_ID=SANDBOX_APP_ID, FACEBOOK_CLIENT_SECRET=SANDBOX_APP_SECRET,
        META_VERIFY_TOKEN="live-verify-token",
        # In-process apps (http://localhost) log in through this sandbox too.
        SANDBOX_REDIRECT_PREFIXES="{url}/,http://localhost/",
    )
    yield server
    server.stop()


class SandboxControl:
    """The sandbox's control API on the live server (docs/sandbox.md)."""

    def __init__(self, base_url: str):
        self.url = f"{base_url}/sandbox/api"

    def get(self, path: str) -> dict:
        response = requests.get(f"{self.url}/{path.lstrip('/')}", timeout=30)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, **payload) -> dict:
        response = requests.post(f"{self.url}/{path.lstrip('/')}", json=payload, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else {}

    def fault(self, endpoint: str, **fault) -> dict:
        return self.post("faults", endpoint=endpoint, **fault)

    def reset(self) -> None:
        self.post("reset")


@pytest.fixture
def sandbox(live_server):
    """Meta, as the live server's sandbox; put back to its seed after each test."""
    control = SandboxControl(live_server.url)
    yield control
    control.reset()


@pytest.fixture(scope="session")
def meta_app(test_settings, live_server):
    """An in-process Direto whose Meta is the live server's sandbox, over real HTTP on loopback."""
    return create_app({
        **test_settings,
        "META_GRAPH_URL": f"{live_server.url}/sandbox/graph/",
        "META_OAUTH_DIALOG_URL": f"{live_server.url}/sandbox/www/",
        "FACEBOOK_CLIENT_ID": SANDBOX_APP_ID,
        "FACEBOOK_CLIENT_SECRET": SANDBOX_APP_SECRET,
    })


def _chromium_or_skip():
    if os.path.exists(CHROMIUM):
        return
    message = f"Chromium not found at {CHROMIUM}: install Debian's chromium (apt-get install chromium) to run browser tests"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI installs it: a missing browser there is a broken pipeline, not a skip
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(params=["desktop", "phone"])
def screen(request):
    """Run a browser test at desktop size and at phone size (360 px, touch)."""
    return request.param


@pytest.fixture
def page(browser, screen, live_server, request):
    context = browser.new_context(locale="pt-BR", base_url=live_server.url, **(DESKTOP if screen == "desktop" else PHONE))
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # HTTP errors the test expects (a 404, a 422 form) are asserted where they happen; anything else the
    # console reports as an error (a CSP violation, a script error) fails the test.
    page.on("console", lambda msg: msg.type == "error" and not msg.text.startswith("Failed to load resource")
            and errors.append(msg.text))
    yield page
    artifacts = ROOT / "test-artifacts"
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / f"{request.node.name}.png"), full_page=True)
    context.close()
    # A page that throws or breaks its CSP fails the test even if the assertions passed.
    assert not errors, f"browser console errors: {errors}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
