"""The Meta sandbox: a local, offline stand-in for the parts of Meta that Direto talks to.

It is its own WSGI app with its own storage (it plays Meta; it shares nothing with Direto) and answers,
when mounted, at:

    /sandbox/graph/[vNN.N/]…        graph.facebook.com (Graph API, Send API, tokens)
    /sandbox/www/[vNN.N/]dialog/oauth   www.facebook.com (the Facebook Login dialog)
    /sandbox/phone                  a customer's phone writing to the business
    /sandbox/api/…                  the control API for tests, benchmarks and demos (docs/sandbox.md)
    /sandbox/cdn/…                  media (Meta's CDN)

`mount(app)` wraps Direto's WSGI app when META_SANDBOX is on and does nothing otherwise.
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from . import world
from .errors import GraphError
from .faults import DroppedConnection, drop_connection
from .runtime import Sandbox, current
from .settings import SandboxSettings

ROOT = Path(__file__).resolve().parents[2]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; "
    "media-src 'self' blob: https:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
_VERSION = re.compile(r"^/(graph|www)/(v\d+\.\d+)(/.*)?$")


class StripGraphVersion:
    """Route `/graph/v21.0/me` like `/graph/me` (any vNN.N, or none), remembering the version for paging."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        match = _VERSION.match(environ.get("PATH_INFO", ""))
        if match:
            environ["sandbox.graph_version"] = match.group(2)
            environ["PATH_INFO"] = f"/{match.group(1)}{match.group(3) or '/'}"
        return self.wsgi_app(environ, start_response)


class ScopedSessionInterface(SecureCookieSessionInterface):
    """The sandbox's cookie lives under wherever it is mounted (/sandbox), never over Direto's pages."""

    def get_cookie_path(self, app: Flask) -> str:
        return request.script_root or "/"


def create_sandbox_app(settings: dict, instance_path: str | None = None) -> Flask:
    """A separate Flask app playing Meta. `settings` is Direto's config (or any dict with the same keys)."""
    config = SandboxSettings.from_mapping(settings, instance_path)
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static" / "sandbox"),
                static_url_path="/static")
    sandbox = Sandbox(config)
    if config.database_url.startswith("sqlite:///"):
        Path(config.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    _prepare_storage(sandbox)
    app.extensions["meta_sandbox"] = sandbox
    app.config.update(
        SECRET_KEY=sandbox.session_secret(),
        SESSION_COOKIE_NAME="meta_sandbox_session",  # never clobber Direto's own session cookie
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.public_base_url.startswith("https://"),
    )
    app.session_interface = ScopedSessionInterface()
    app.json.sort_keys = False  # keep Meta's field order (id last, error before fbtrace_id...)
    sandbox.store.engine.dispose()  # no pooled connection may cross a fork (gunicorn --preload)

    from .api import api
    from .cdn import cdn
    from .console import console
    from .graph import graph
    from .oauth import www
    from .phone import phone

    for blueprint in (graph, www, phone, api, cdn, console):
        app.register_blueprint(blueprint)
    _register_hooks(app)
    app.wsgi_app = StripGraphVersion(app.wsgi_app)
    return app


def _prepare_storage(sandbox: Sandbox, attempts: int = 3) -> None:
    """Create the tables and seed the world. Several workers may start at once: whoever loses the race
    (duplicate table or row) retries and then finds everything in place."""
    for attempt in range(attempts):
        try:
            sandbox.store.create_all()
            world.seed(sandbox.store)
            return
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise


def _register_hooks(app: Flask) -> None:
    from .csrf import check_csrf, csrf_token

    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def before():
        current().ensure_worker()
        check_csrf()

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.blueprint == "graph":
            response.headers.setdefault("facebook-api-version", request.environ.get("sandbox.graph_version", "v24.0"))
        return response

    @app.errorhandler(GraphError)
    def graph_error(error: GraphError):
        return error.response()

    @app.errorhandler(DroppedConnection)
    def dropped(_error):
        drop_connection(request.environ)
        return "", 500  # never reaches the client: its socket is already closed

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        """Graph speaks JSON envelopes even for 404/405; the control API speaks JSON; pages keep HTML."""
        if request.blueprint == "graph" or request.path.startswith("/graph"):
            if error.code == 404:  # what Graph says about a path it does not know, with a 400
                unknown = request.path.removeprefix("/graph")
                return GraphError(2500, None, f"Unknown path components: {unknown}").response()
            return GraphError(100, None, f"Unsupported {request.method.lower()} request.").response()
        if request.blueprint == "api":
            return jsonify(error=error.description), error.code
        return error


def mount(app: Flask) -> None:
    """Answer at /sandbox on Direto's server when META_SANDBOX is on; never mounted otherwise.

    When Direto has no Meta app configured, it gets the sandbox's demo app id and secret, so that the
    dialog, the token endpoint and the webhook signatures agree without any setup.
    """
    if not app.config.get("META_SANDBOX"):
        return
    sandbox_app = create_sandbox_app(dict(app.config), instance_path=app.instance_path)
    settings = sandbox_app.extensions["meta_sandbox"].settings
    if not app.config.get("FACEBOOK_CLIENT_ID"):
        app.config["FACEBOOK_CLIENT_ID"] = settings.app_id
    if not app.config.get("FACEBOOK_CLIENT_SECRET"):
        app.config["FACEBOOK_CLIENT_SECRET"] = settings.app_secret
    prefix = settings.prefix
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {prefix: sandbox_app})
    app.extensions["meta_sandbox_app"] = sandbox_app
