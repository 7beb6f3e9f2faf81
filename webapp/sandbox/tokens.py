"""Access tokens: where they come from in a request, whether they are valid, what they may do.

A token arrives as `Authorization: Bearer …` or an `access_token` query/form parameter. When
`appsecret_proof` is present it must be HMAC-SHA256(app secret, token). The app token is `{app-id}|{secret}`.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ids
from .errors import GraphError, catalogue_message, expired_token
from .models import AccessToken, FbUser, Grant, Page, PageRole
from .runtime import Sandbox


@dataclass
class Caller:
    """Who is calling: the app itself, a user (user token) or a page (page token)."""

    kind: str  # APP | USER | PAGE
    token: AccessToken | None = None
    user: FbUser | None = None
    page: Page | None = None


def request_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith(("bearer ", "oauth ")):
        return header.split(None, 1)[1].strip()
    for source in (request.args, request.form):
        if source.get("access_token"):
            return source["access_token"]
    if request.is_json and isinstance(request.get_json(silent=True), dict):
        value = request.get_json(silent=True).get("access_token")
        return str(value) if value else None
    return None


def check_proof(sandbox: Sandbox, token: str) -> None:
    proof = request.values.get("appsecret_proof")
    if proof is None:
        return
    expected = hmac.new(sandbox.settings.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(proof.lower(), expected):
        raise GraphError(100, None, "Invalid appsecret_proof provided in the API argument")


def token_problem(sandbox: Sandbox, row: AccessToken) -> GraphError | None:
    """Why a stored token can no longer be used, or None when it is fine."""
    if row.invalid_subcode:
        return GraphError(190, row.invalid_subcode,
                          catalogue_message(190, row.invalid_subcode, app_id=sandbox.settings.app_id))
    now = sandbox.now_ms()
    if row.expires_ms and row.expires_ms <= now:
        return expired_token(row.expires_ms, now)
    return None


def authenticate(sandbox: Sandbox, session: Session, *, required: bool = True) -> Caller | None:
    token = request_token()
    if not token:
        if not required:
            return None
        raise GraphError(104, None, "An access token is required to request this resource.")
    check_proof(sandbox, token)
    if token == f"{sandbox.settings.app_id}|{sandbox.settings.app_secret}":
        return Caller("APP")
    row = session.get(AccessToken, token)
    if row is None:
        raise GraphError(190, None, "Invalid OAuth access token - Cannot parse access token")
    problem = token_problem(sandbox, row)
    if problem:
        raise problem
    page = session.get(Page, row.page_id) if row.page_id else None
    return Caller(row.kind, row, session.get(FbUser, row.user_id), page)


def require_user(caller: Caller) -> FbUser:
    if caller.kind != "USER" or caller.user is None:
        raise GraphError(2500, None, "An active access token must be used to query information about the current user.")
    return caller.user


def require_page(caller: Caller) -> Page:
    if caller.kind != "PAGE" or caller.page is None:
        raise GraphError(210, None, "(#210) A page access token is required to request this resource.")
    return caller.page


def granted(session: Session, user_id: str) -> list[str]:
    return list(session.scalars(
        select(Grant.permission).where(Grant.user_id == user_id, Grant.status == "granted").order_by(Grant.permission)
    ))


def require_permission(session: Session, caller: Caller, permission: str, code: int = 200) -> None:
    if caller.kind == "APP" or caller.user is None:
        return
    if permission not in granted(session, caller.user.id):
        raise GraphError(code, None, f"(#{code}) Requires {permission} permission to manage the object")


def page_role(session: Session, user_id: str, page_id: str) -> PageRole | None:
    return session.get(PageRole, (user_id, page_id))


def issue_user_token(sandbox: Sandbox, session: Session, user_id: str, long_lived: bool) -> AccessToken:
    now = sandbox.now_ms()
    seconds = sandbox.knob("long_lived_seconds" if long_lived else "short_lived_seconds")
    row = AccessToken(token=ids.token(), kind="USER", user_id=user_id, long_lived=long_lived,
                      issued_ms=now, expires_ms=now + int(seconds) * 1000)
    session.add(row)
    return row


def page_token(sandbox: Sandbox, session: Session, user_token: AccessToken, page_id: str) -> AccessToken:
    """The page token derived from a user token: the same one on every call, never expiring when the user
    token is long-lived, expiring with it (about an hour) when it is short-lived."""
    existing = session.scalars(select(AccessToken).where(
        AccessToken.parent_token == user_token.token, AccessToken.page_id == page_id)).first()
    if existing:
        return existing
    row = AccessToken(token=ids.token("EAAG"), kind="PAGE", user_id=user_token.user_id, page_id=page_id,
                      parent_token=user_token.token, long_lived=user_token.long_lived,
                      issued_ms=sandbox.now_ms(), expires_ms=0 if user_token.long_lived else user_token.expires_ms)
    session.add(row)
    return row
