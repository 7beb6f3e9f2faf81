"""Languages: pt-BR by default, English on request (per user, or Accept-Language before login)."""
from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_babel import get_locale
from flask_login import current_user

LANGUAGES = {"pt_BR": "Português (Brasil)", "en": "English"}
DEFAULT_LANGUAGE = "pt_BR"
LANGUAGE_COOKIE = "direto_lang"


def normalise(code: str | None) -> str | None:
    """Map what a browser or a form says ("pt-br", "en-US") to one of our languages."""
    if not code:
        return None
    code = code.replace("-", "_")
    if code in LANGUAGES:
        return code
    base = code.split("_")[0].lower()
    if base == "pt":
        return "pt_BR"
    if base == "en":
        return "en"
    return None


def select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LANGUAGE
    if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
        return current_user.language
    chosen = normalise(request.cookies.get(LANGUAGE_COOKIE))
    if chosen:
        return chosen
    best = request.accept_languages.best_match(["pt-BR", "pt", "en"])
    return normalise(best) or DEFAULT_LANGUAGE


def select_time_zone() -> str:
    """The company's time zone: every time a page shows is the company's local time."""
    from webapp.bots.hours import DEFAULT_TIME_ZONE
    from webapp.extensions import db
    from webapp.workspace.models import CompanySettings

    settings = db.session.get(CompanySettings, 1)  # read only: never create the row in the middle of a page
    return settings.time_zone if settings is not None else DEFAULT_TIME_ZONE


def html_lang() -> str:
    return str(get_locale()).replace("_", "-")


def init_app(app: Flask) -> None:
    @app.context_processor
    def language_context():
        return {"languages": LANGUAGES, "current_language": str(get_locale()), "html_lang": html_lang()}
