"""Configuration: the environment first, then what `make run` wrote in instance/, then defaults.

Every setting is an environment variable of the same name. `make run` writes the secrets of a demo
install into ``instance/direto.json``; a variable set in the environment always wins over that file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

INSTANCE_FILE = "direto.json"

# Known placeholder values: fine for a developer's laptop, refused by a production configuration.
DEFAULT_SECRET_KEY = "direto-development-only-secret"
DEFAULT_META_VERIFY_TOKEN = "direto-development-verify-token"

SECRET_SETTINGS = ("SECRET_KEY", "TOKEN_ENCRYPTION_KEY", "FACEBOOK_CLIENT_SECRET", "META_VERIFY_TOKEN")

TRUE_WORDS = {"1", "true", "yes", "on"}

# The Meta app the sandbox plays when no other is configured (docs/sandbox.md).
SANDBOX_APP_ID = "1234567890123456"
SANDBOX_APP_SECRET = "sandbox-app-secret"


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the message says what to set."""


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_WORDS


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def read_instance_file(instance_path: str | os.PathLike) -> dict:
    path = Path(instance_path) / INSTANCE_FILE
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def load(instance_path: str | os.PathLike, environ=None, overrides: dict | None = None) -> dict:
    """Build the settings dict: overrides (tests) > environment > instance file > defaults."""
    environ = os.environ if environ is None else environ
    stored = read_instance_file(instance_path)

    def get(name, default=None):
        if overrides and name in overrides:
            return overrides[name]
        if environ.get(name) not in (None, ""):
            return environ[name]
        if stored.get(name) not in (None, ""):
            return stored[name]
        return default

    instance = Path(instance_path)
    env_name = get("DIRETO_ENV", "development")
    sandbox = _as_bool(get("META_SANDBOX", False))
    public_base_url = get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    sandbox_base = f"{public_base_url}/sandbox"
    database_url = normalise_database_url(
        get("DATABASE_URL", f"sqlite:///{instance / 'direto.sqlite3'}")
    )

    settings = {
        "DIRETO_ENV": env_name,
        "SECRET_KEY": get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "TOKEN_ENCRYPTION_KEY": get("TOKEN_ENCRYPTION_KEY"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": get("REDIS_URL"),
        "PUBLIC_BASE_URL": public_base_url,
        # With the sandbox on and no Meta app configured, Direto uses the app the sandbox plays.
        "FACEBOOK_CLIENT_ID": get("FACEBOOK_CLIENT_ID", SANDBOX_APP_ID if sandbox else None),
        "FACEBOOK_CLIENT_SECRET": get("FACEBOOK_CLIENT_SECRET", SANDBOX_APP_SECRET if sandbox else None),
        "META_VERIFY_TOKEN": get("META_VERIFY_TOKEN", DEFAULT_META_VERIFY_TOKEN),
        "META_SANDBOX": sandbox,
        # Host mapping: the sandbox answers at these paths exactly as Meta does at its hosts.
        "META_GRAPH_URL": get("META_GRAPH_URL", f"{sandbox_base}/graph/" if sandbox else "https://graph.facebook.com/"),
        "META_OAUTH_DIALOG_URL": get(
            "META_OAUTH_DIALOG_URL", f"{sandbox_base}/www/" if sandbox else "https://www.facebook.com/"
        ),
        "META_GRAPH_VERSION": get("META_GRAPH_VERSION", "v24.0"),
        "SANDBOX_WEBHOOK_URL": get("SANDBOX_WEBHOOK_URL", f"{public_base_url}/webhooks/instagram"),
        "SANDBOX_DATABASE_URL": get("SANDBOX_DATABASE_URL"),  # None: instance/sandbox.sqlite3
        "MEDIA_ROOT": get("MEDIA_ROOT", str(instance / "media")),
        "LOGIN_THROTTLE_ATTEMPTS": int(get("LOGIN_THROTTLE_ATTEMPTS", 5)),
        "LOGIN_THROTTLE_WINDOW_SECONDS": int(get("LOGIN_THROTTLE_WINDOW_SECONDS", 15 * 60)),
        "PASSWORD_HASH_METHOD": get("PASSWORD_HASH_METHOD", "scrypt"),
        "TRUSTED_PROXIES": int(get("TRUSTED_PROXIES", 0)),
        # Cookies: HttpOnly always; Lax so the OAuth redirect back from Facebook keeps the session.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_base_url.startswith("https://"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": public_base_url.startswith("https://"),
        # A server can drop a connection (a PostgreSQL restart); a SQLite file cannot, so it skips the extra query.
        # Per process: under gevent every request in flight may hold one connection; workers × (size + overflow)
        # must stay under PostgreSQL's max_connections (docs/deploy.md).
        "SQLALCHEMY_ENGINE_OPTIONS": {} if database_url.startswith("sqlite") else {
            "pool_pre_ping": True,
            "pool_size": int(get("DATABASE_POOL_SIZE", 10)),
            "max_overflow": int(get("DATABASE_MAX_OVERFLOW", 10)),
            "pool_timeout": float(get("DATABASE_POOL_TIMEOUT", 10)),
            # An unreachable host must fail fast (webhooks then wait on disk), not past Meta's 20 s.
            "connect_args": {"connect_timeout": int(get("DATABASE_CONNECT_TIMEOUT", 5))},
        },
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session: long agent shifts
        "BABEL_DEFAULT_LOCALE": "pt_BR",
        "BABEL_DEFAULT_TIMEZONE": "America/Sao_Paulo",
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        # Meta batches up to 1000 events of a few hundred bytes each; anything far larger is not Meta.
        "WEBHOOK_MAX_BYTES": int(get("WEBHOOK_MAX_BYTES", 4 * 1024 * 1024)),
        # Where signed deliveries wait while the database is away (each machine drains its own).
        "WEBHOOK_SPOOL_DIR": get("WEBHOOK_SPOOL_DIR", str(instance / "webhook-spool")),
        # How stored deliveries become messages: "background" (a worker per process, woken after each 200),
        # "inline" (right after the response, in the same request: tests), or "off" (only the scheduler's sweep).
        "WEBHOOK_PROCESSING": get("WEBHOOK_PROCESSING", "background"),
        # /webhooks/instagram/bare: signature + JSON only, the baseline the ingest benchmark compares against.
        "WEBHOOK_BARE_ENDPOINT": _as_bool(get("WEBHOOK_BARE_ENDPOINT", False)),
        # Customer media kept under MEDIA_ROOT; larger files are refused (Meta's own largest limit is 25 MB).
        "MEDIA_MAX_BYTES": int(get("MEDIA_MAX_BYTES", 25 * 1024 * 1024)),
        # What agents attach, within Instagram's limits (meta-platform.md §4.2: images 8 MB; video, audio and PDF
        # 25 MB). Decimal megabytes: a file under these is under Meta's limit whichever megabyte Meta means.
        "ATTACHMENT_IMAGE_MAX_BYTES": int(get("ATTACHMENT_IMAGE_MAX_BYTES", 8_000_000)),
        "ATTACHMENT_MAX_BYTES": int(get("ATTACHMENT_MAX_BYTES", 25_000_000)),
        # Instagram's text limit (meta-platform.md §4.2): bytes of UTF-8, configurable because observations vary.
        # Seconds to wait for Meta's answer (a send whose answer is lost is confirmed by its echo, never resent blindly).
        "META_READ_TIMEOUT": float(get("META_READ_TIMEOUT", 20)),
        "META_TEXT_LIMIT_BYTES": int(get("META_TEXT_LIMIT_BYTES", 1000)),
        # Live updates (GET /events): seconds between keep-alive comments (proxies close idle connections, and a
        # dead client is found when writing), the most missed events a reconnecting page gets replayed (more: it
        # reloads), and how often each process looks for events another process wrote.
        "SSE_HEARTBEAT": float(get("SSE_HEARTBEAT", 15)),
        "SSE_CATCH_UP_LIMIT": int(get("SSE_CATCH_UP_LIMIT", 500)),
        "SSE_POLL": float(get("SSE_POLL", 2)),
        # The scheduler's lease: renewed every tick by the process holding it, taken over by another process once
        # it expires (its holder died), so a dead holder is replaced within SCHEDULER_LEASE_SECONDS.
        # Unset: each background worker looks for work other processes left every few seconds (webhooks 5 s,
        # sends and media 30 s). Set: that many seconds for all of them.
        "BACKGROUND_POLL_SECONDS": get("BACKGROUND_POLL_SECONDS"),
        "SCHEDULER_TICK_SECONDS": float(get("SCHEDULER_TICK_SECONDS", 5)),
        "SCHEDULER_LEASE_SECONDS": float(get("SCHEDULER_LEASE_SECONDS", 30)),
    }
    settings.update(overrides or {})
    return settings


def check_production(settings: dict) -> None:
    """Refuse to start a production install with a placeholder secret or the sandbox on."""
    if settings["DIRETO_ENV"] != "production":
        return
    problems = []
    if settings["SECRET_KEY"] in (None, "", DEFAULT_SECRET_KEY):
        problems.append("SECRET_KEY is unset or the development default")
    if not settings["TOKEN_ENCRYPTION_KEY"]:
        problems.append("TOKEN_ENCRYPTION_KEY is unset")
    if settings["META_VERIFY_TOKEN"] in (None, "", DEFAULT_META_VERIFY_TOKEN):
        problems.append("META_VERIFY_TOKEN is unset or the development default")
    if settings["META_SANDBOX"]:
        problems.append("META_SANDBOX must be off in production")
    for name in ("FACEBOOK_CLIENT_ID", "FACEBOOK_CLIENT_SECRET"):
        if not settings[name]:
            problems.append(f"{name} is unset (the Meta app: webhooks and Facebook Login need it)")
    if problems:
        raise ConfigError("Refusing to start in production: " + "; ".join(problems) + ".")
