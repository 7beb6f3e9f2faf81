"""A small CSRF guard for the sandbox's own forms (dialog and phone). The sandbox is "Meta", not Direto, so it
keeps a token in its own session cookie and checks it on every state-changing form POST."""
from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

GUARDED_BLUEPRINTS = {"www", "phone"}


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    if request.method != "POST" or request.blueprint not in GUARDED_BLUEPRINTS:
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, "The form expired; reload the page and try again.")
