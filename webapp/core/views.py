"""Health check and the language switch."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import text

from webapp.core.i18n import LANGUAGE_COOKIE, normalise
from webapp.core.urls import safe_next
from webapp.events import relay
from webapp.extensions import db

bp = Blueprint("core", __name__)


@bp.get("/healthz")
def healthz():
    """Load balancers and operators. 503 only when this process cannot serve: the database does not answer. Redis
    down is "degraded", 200: live events then reach other processes by polling, nothing is lost."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not healthy", never a traceback
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    if current_app.config["REDIS_URL"]:
        checks["redis"] = relay.for_url(current_app.config["REDIS_URL"]).ping()
    if checks["database"] != "ok":
        return jsonify(status="error", **checks), 503
    return jsonify(status="ok" if all(value == "ok" for value in checks.values()) else "degraded", **checks), 200


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on every page, the sandbox's included."""
    return redirect(url_for("static", filename="img/favicon.svg"), code=301)


@bp.post("/language")
def set_language():
    language = normalise(request.form.get("language"))
    response = redirect(safe_next(request.form.get("next")) or url_for("inbox.chat"))
    if language is None:
        return response
    if current_user.is_authenticated:
        current_user.language = language
        db.session.commit()
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
