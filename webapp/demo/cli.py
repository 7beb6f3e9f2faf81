"""`make run`'s first-run steps: write instance secrets, seed a demo workspace. Both keep what exists."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import with_appcontext

from webapp.config import INSTANCE_FILE
from webapp.bots import store as bot_store
from webapp.team import directory
from webapp.team.models import Role, find_user_by_email

DEMO_DEPARTMENTS = ("Recepção", "Vendas", "Suporte")
DEMO_USERS = (
    # (key in the instance file, name, e-mail, role, departments)
    ("DEMO_ADMIN_PASSWORD", "Ana Admin", "admin@direto.local", Role.ADMIN, ()),
    ("DEMO_AGENT_PASSWORD", "Bruno Vendas", "bruno@direto.local", Role.AGENT, ("Vendas",)),
)


def new_instance_settings() -> dict:
    """Secrets of a fresh demo install. The demo Meta app is the sandbox's, so its id and secret are ours to make."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "FACEBOOK_CLIENT_ID": str(secrets.randbelow(9 * 10**14) + 10**14),
        "FACEBOOK_CLIENT_SECRET": secrets.token_hex(16),
        "META_VERIFY_TOKEN": secrets.token_urlsafe(24),
        "META_SANDBOX": "1",
        "DEMO_ADMIN_PASSWORD": secrets.token_urlsafe(9),
        "DEMO_AGENT_PASSWORD": secrets.token_urlsafe(9),
    }


@click.command("init-instance")
@with_appcontext
def init_instance():
    """Write instance/direto.json with fresh secrets, adding only the keys it lacks."""
    path = Path(current_app.instance_path) / INSTANCE_FILE
    stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    missing = {k: v for k, v in new_instance_settings().items() if k not in stored}
    if not missing:
        click.echo(f"{path} already holds the instance settings; kept.")
        return
    stored.update(missing)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # Owner-only: the file holds the secret key and the token-encryption key.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(stored, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)
    click.echo(f"Wrote {', '.join(sorted(missing))} to {path}.")


@click.command("seed-demo")
@click.option("--url", default=None, help="The address to print.")
@with_appcontext
def seed_demo(url):
    """Create the demo departments and users if missing, then print where to sign in."""
    departments = {name: directory.ensure_department(name) for name in DEMO_DEPARTMENTS}
    # A triage bot, so the first connection can be created at once.
    bot_store.ensure_default_bot(
        departments["Recepção"].id,
        menu=[("Vendas", departments["Vendas"].id), ("Suporte", departments["Suporte"].id)],
    )
    logins = []
    for key, name, email, role, departments in DEMO_USERS:
        password = _stored(key)
        if find_user_by_email(email) is None:
            directory.create_user(
                name=name,
                email=email,
                password=password,
                role=role,
                departments=[directory.ensure_department(d) for d in departments],
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
        logins.append((role.value, email, password))
    url = url or current_app.config["PUBLIC_BASE_URL"]
    click.echo("")
    click.echo(f"  Direto is starting at {url}")
    for role, email, password in logins:
        click.echo(f"    {role:<6} {email:<22} password: {password}   (unless changed in the app)")
    click.echo("")


def _stored(key: str) -> str:
    path = Path(current_app.instance_path) / INSTANCE_FILE
    stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if key not in stored:
        raise click.ClickException("Run `flask --app wsgi init-instance` first.")
    return stored[key]
