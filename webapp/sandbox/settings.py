"""Where the sandbox gets its knobs: Direto's config dict first, then the environment, then defaults.

Static settings (URLs, secrets, the database) are read once at start. Knobs that tests and demos change at
run time (batching, retry schedule, the Human Agent feature...) live in the sandbox database instead (see
``models.Knob``), so that every worker process sees the same values.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Meta's own defaults, as documented in meta-platform.md.
DEFAULT_RETRY_SCHEDULE = (0.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0, 12 * 3600.0)
DEFAULT_WEBHOOK_TIMEOUT = 20.0  # Messenger FAQ: a webhook call times out after 20 s
DEFAULT_APP_ID = "1234567890123456"
DEFAULT_APP_SECRET = "sandbox-app-secret"


def parse_schedule(raw: str | list | tuple | None) -> tuple[float, ...] | None:
    """'0,0.5,2' -> (0.0, 0.5, 2.0); lists pass through; None/'' -> None."""
    if raw in (None, ""):
        return None
    if isinstance(raw, (list, tuple)):
        return tuple(float(value) for value in raw)
    return tuple(float(part) for part in str(raw).split(",") if part.strip())


def _truthy(value) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class SandboxSettings:
    """Everything the sandbox needs to know about the Meta app it plays and where it lives."""

    app_id: str
    app_secret: str
    verify_token: str
    public_base_url: str  # where Direto (and so the mounted sandbox) is reachable
    webhook_url: str
    database_url: str
    prefix: str = "/sandbox"
    app_name: str = "Direto (sandbox)"
    secret_key: str | None = None
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT
    batching: bool = False
    fetch_timeout: float = 5.0
    start_worker: bool = True  # tests that want full control flush deliveries themselves
    redirect_prefixes: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Absolute URL of the sandbox root, e.g. http://127.0.0.1:5000/sandbox."""
        return self.public_base_url.rstrip("/") + self.prefix

    @property
    def graph_base(self) -> str:
        return self.base_url + "/graph/"

    @classmethod
    def from_mapping(cls, config: dict, instance_path: str | os.PathLike | None = None) -> "SandboxSettings":
        environ = os.environ

        def get(name: str, default=None):
            if config.get(name) not in (None, ""):
                return config[name]
            if environ.get(name) not in (None, ""):
                return environ[name]
            return default

        public = str(get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")).rstrip("/")
        instance = Path(instance_path or config.get("INSTANCE_PATH") or Path.cwd() / "instance")
        schedule = parse_schedule(get("SANDBOX_RETRY_SCHEDULE")) or DEFAULT_RETRY_SCHEDULE
        redirects = get("SANDBOX_REDIRECT_PREFIXES")
        if isinstance(redirects, str):
            redirects = [part.strip() for part in redirects.split(",") if part.strip()]
        return cls(
            app_id=str(get("FACEBOOK_CLIENT_ID", DEFAULT_APP_ID)),
            app_secret=str(get("FACEBOOK_CLIENT_SECRET", DEFAULT_APP_SECRET)),
            verify_token=str(get("META_VERIFY_TOKEN", "")),
            public_base_url=public,
            webhook_url=str(get("SANDBOX_WEBHOOK_URL", f"{public}/webhooks/instagram")),
            database_url=str(get("SANDBOX_DATABASE_URL", f"sqlite:///{instance / 'sandbox.sqlite3'}")),
            prefix=str(get("SANDBOX_PREFIX", "/sandbox")).rstrip("/"),
            secret_key=get("SANDBOX_SECRET_KEY"),
            retry_schedule=schedule,
            webhook_timeout=float(get("SANDBOX_WEBHOOK_TIMEOUT", DEFAULT_WEBHOOK_TIMEOUT)),
            batching=_truthy(get("SANDBOX_BATCHING", "0")),
            fetch_timeout=float(get("SANDBOX_FETCH_TIMEOUT", 5.0)),
            start_worker=_truthy(get("SANDBOX_WORKER", "1")),
            redirect_prefixes=list(redirects or [public + "/"]),
        )
