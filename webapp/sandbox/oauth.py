"""Facebook Login: the dialog (www.facebook.com) and the token endpoints (graph.facebook.com).

Dialog: choose a Facebook user, then a consent screen where each requested permission can be unticked.
Continue redirects with `?code=…&state=…#_=_`; Cancel with Meta's error parameters. Codes are single use
(100/36009 on reuse), expire after 10 minutes, and are bound to the exact redirect_uri.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, redirect, render_template, request, session as browser
from sqlalchemy import select

from . import ids
from .errors import GraphError
from .faults import check as check_faults
from .models import AccessToken, FbUser, Grant, OAuthCode
from .runtime import Sandbox, current
from .tokens import authenticate, granted, issue_user_token, token_problem

www = Blueprint("www", __name__, url_prefix="/www")

CODE_LIFETIME_MS = 10 * 60 * 1000

# What the consent screen says about each permission.
PERMISSIONS = {
    "public_profile": "Your name and profile picture",
    "email": "Your email address",
    "pages_show_list": "Show a list of the Pages you manage",
    "pages_messaging": "Manage and access Page conversations in Messenger",
    "pages_manage_metadata": "Manage accounts, settings and webhooks for a Page",
    "pages_read_engagement": "Read content posted on the Page",
    "instagram_basic": "Access profile and posts from the Instagram account connected to your Page",
    "instagram_manage_messages": "Manage and access Instagram Direct messages",
    "business_management": "Manage your business",
}


def _scopes(raw: str) -> list[str]:
    scopes = []
    for part in raw.replace(" ", ",").split(","):
        if part.strip() and part.strip() not in scopes:
            scopes.append(part.strip())
    return scopes


def _dialog_params() -> dict[str, str]:
    source = request.form if request.method == "POST" else request.args
    keys = ("client_id", "redirect_uri", "state", "scope", "response_type", "auth_type", "config_id")
    return {key: source[key] for key in keys if source.get(key)}


def _dialog_error(title: str, detail: str, status: int = 400):
    return render_template("sandbox/dialog_error.html", title=title, detail=detail), status


def _validate(sandbox: Sandbox, params: dict[str, str]):
    if params.get("client_id") != sandbox.settings.app_id:
        return _dialog_error("Invalid App ID", "The provided app ID does not look like a valid app ID.")
    uri = params.get("redirect_uri", "")
    if not any(uri.startswith(prefix) for prefix in sandbox.settings.redirect_prefixes):
        return _dialog_error(
            "URL blocked",
            "This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth "
            "Settings. Make sure Client and Web OAuth Login are on and add all your app domains as Valid "
            "OAuth Redirect URIs.",
        )
    unknown = [scope for scope in _scopes(params.get("scope", "")) if scope not in PERMISSIONS]
    if unknown:
        return _dialog_error("Invalid Scopes", "Invalid Scopes: " + ", ".join(unknown) + ".")
    return None


def _back_to_app(redirect_uri: str, values: dict[str, str]):
    joiner = "&" if "?" in redirect_uri else "?"
    return redirect(redirect_uri + joiner + urlencode(values) + "#_=_")


@www.get("/dialog/oauth")
def dialog():
    sandbox, params = current(), _dialog_params()
    problem = _validate(sandbox, params)
    if problem:
        return problem
    with sandbox.store.tx() as session:
        user = session.get(FbUser, browser.get("fb_user")) if browser.get("fb_user") else None
        if user is None or request.args.get("switch"):
            users = session.scalars(select(FbUser).order_by(FbUser.position)).all()
            return render_template("sandbox/dialog_login.html", users=users, params=params)
        scopes = _scopes(params.get("scope", "")) or ["public_profile"]
        return render_template("sandbox/dialog_consent.html", user=user, params=params, scopes=scopes,
                               permissions=PERMISSIONS, app_name=sandbox.settings.app_name)


@www.post("/dialog/oauth/login")
def login():
    """'Log in' as a seeded Facebook user; the choice is remembered like Facebook's session cookie."""
    sandbox = current()
    with sandbox.store.tx() as session:
        user = session.get(FbUser, request.form.get("user_id", ""))
        if user is None:
            abort(400)
        browser["fb_user"] = user.id
    return redirect(f"{request.script_root}/www/dialog/oauth?" + urlencode(_dialog_params()))


@www.post("/dialog/oauth/confirm")
def confirm():
    sandbox, params = current(), _dialog_params()
    problem = _validate(sandbox, params)
    if problem:
        return problem
    state = {"state": params["state"]} if "state" in params else {}
    if request.form.get("action") != "continue":
        return _back_to_app(params["redirect_uri"], {
            "error": "access_denied", "error_code": "200", "error_description": "Permissions error",
            "error_reason": "user_denied", **state})
    requested = _scopes(params.get("scope", ""))
    ticked = set(request.form.getlist("grant"))
    with sandbox.store.tx() as session:
        user = session.get(FbUser, browser.get("fb_user", ""))
        if user is None:
            abort(400)
        for permission in ["public_profile"] + requested:
            status = "granted" if permission == "public_profile" or permission in ticked else "declined"
            session.merge(Grant(user_id=user.id, permission=permission, status=status))
        code = OAuthCode(code=ids.auth_code(), user_id=user.id, redirect_uri=params["redirect_uri"],
                         created_ms=sandbox.now_ms())
        session.add(code)
    return _back_to_app(params["redirect_uri"], {"code": code.code, **state})


def _check_client(sandbox: Sandbox, values) -> None:
    if not values.get("client_id"):
        raise GraphError(101, None, "Missing client_id parameter.")
    if values["client_id"] != sandbox.settings.app_id:
        raise GraphError(101, None, "Error validating application. Invalid application ID.")
    if values.get("client_secret") != sandbox.settings.app_secret:
        raise GraphError(1, None, "Error validating client secret.")


def _token_response(row: AccessToken, now_ms: int):
    return jsonify(access_token=row.token, token_type="bearer", expires_in=(row.expires_ms - now_ms) // 1000)


def access_token():
    """GET or POST /oauth/access_token: code exchange, fb_exchange_token, client_credentials."""
    sandbox, values = current(), request.values
    check_faults(sandbox, "token")
    _check_client(sandbox, values)
    grant_type = values.get("grant_type", "authorization_code")
    if grant_type == "client_credentials":
        return jsonify(access_token=f"{sandbox.settings.app_id}|{sandbox.settings.app_secret}", token_type="bearer")
    with sandbox.store.tx() as session:
        now = sandbox.now_ms()
        if grant_type == "fb_exchange_token":
            short = session.get(AccessToken, values.get("fb_exchange_token", ""))
            if short is None or short.kind != "USER":
                raise GraphError(190, None, "Invalid OAuth access token.")
            problem = token_problem(sandbox, short)
            if problem:
                raise problem  # an expired token cannot be exchanged: log in again
            return _token_response(issue_user_token(sandbox, session, short.user_id, long_lived=True), now)
        if not values.get("redirect_uri"):
            raise GraphError(191, None, "Missing redirect_uri parameter.")
        code = session.get(OAuthCode, values.get("code", ""))
        if code is None:
            raise GraphError(100, None, "Invalid verification code format.")
        if code.used_ms is not None:
            raise GraphError(100, 36009, www_authenticate='"invalid_code"')
        if now - code.created_ms > CODE_LIFETIME_MS:
            raise GraphError(100, 36007, www_authenticate='"invalid_code"')
        if values["redirect_uri"] != code.redirect_uri:
            raise GraphError(100, 36008)
        code.used_ms = now
        return _token_response(issue_user_token(sandbox, session, code.user_id, long_lived=False), now)


def debug_token():
    """GET /debug_token?input_token=…: what the token is, for whom, which scopes, until when."""
    sandbox = current()
    check_faults(sandbox, "debug_token")
    with sandbox.store.tx() as session:
        authenticate(sandbox, session)
        raw = request.values.get("input_token")
        if not raw:
            raise GraphError(100, None, "(#100) The parameter input_token is required")
        app = {"app_id": sandbox.settings.app_id, "application": sandbox.settings.app_name}
        if raw == f"{sandbox.settings.app_id}|{sandbox.settings.app_secret}":
            return jsonify(data={**app, "type": "APP", "is_valid": True, "scopes": []})
        row = session.get(AccessToken, raw)
        if row is None:
            return jsonify(data={"error": {"code": 190, "message": "Invalid OAuth access token."},
                                 "is_valid": False, "scopes": []})
        scopes = granted(session, row.user_id)
        data = {**app, "type": row.kind, "data_access_expires_at": (row.issued_ms // 1000) + 90 * 86400,
                "expires_at": row.expires_ms // 1000, "is_valid": True, "issued_at": row.issued_ms // 1000,
                "scopes": scopes, "granular_scopes": _granular(session, row.user_id, scopes),
                "user_id": row.user_id}
        if row.kind == "PAGE":
            data["profile_id"] = row.page_id
        problem = token_problem(sandbox, row)
        if problem:
            data["is_valid"] = False
            data["error"] = {"code": problem.code, "message": problem.message, "subcode": problem.subcode}
        return jsonify(data=data)


def _granular(session, user_id: str, scopes: list[str]) -> list[dict]:
    """Page and Instagram permissions name the objects they cover, like Meta's granular_scopes."""
    from .models import Page, PageRole

    pages = session.execute(select(Page.id, Page.ig_account_id).join(PageRole, PageRole.page_id == Page.id)
                            .where(PageRole.user_id == user_id).order_by(PageRole.position)).all()
    result = []
    for scope in scopes:
        if scope.startswith("pages_"):
            result.append({"scope": scope, "target_ids": [page_id for page_id, _ in pages]})
        elif scope.startswith("instagram_"):
            result.append({"scope": scope, "target_ids": [ig for _, ig in pages if ig]})
    return result
