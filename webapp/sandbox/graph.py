"""The Graph API calls Direto makes: /me, /me/accounts (fields, cursor paging), /me/permissions,
/{page-id}, /{ig-account-id}, an IGSID's profile, /{page-id}/subscribed_apps.

Routes here are version-less: the app strips any `vNN.N/` prefix before routing (see __init__.py).
"""
from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, jsonify, request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from . import media, oauth, send
from .errors import GraphError, unsupported
from .faults import check as check_faults
from .models import AccessToken, Conversation, Customer, FbUser, Grant, IgAccount, Page, PageRole, Subscription
from .params import parse_fields
from .runtime import Sandbox, current
from .tokens import Caller, authenticate, page_role, page_token, require_page, require_user

graph = Blueprint("graph", __name__, url_prefix="/graph")
graph.add_url_rule("/oauth/access_token", view_func=oauth.access_token, methods=["GET", "POST"])
graph.add_url_rule("/debug_token", view_func=oauth.debug_token, methods=["GET"])
graph.add_url_rule("/<object_id>/messages", view_func=send.messages, methods=["POST"])

DEFAULT_PAGE_FIELDS = "access_token,category,category_list{id,name},name,id,tasks"
SUBSCRIBABLE = {
    "messages", "messaging_postbacks", "messaging_seen", "message_reactions", "messaging_reactions",
    "messaging_referral", "messaging_referrals", "message_edits", "message_edit", "messaging_optins",
    "messaging_handover",
    "standby", "message_echoes", "feed", "mention", "comments", "live_comments", "story_insights",
}
CATEGORY_IDS = {"Shopping & retail": "200600219953504", "Coffee shop": "128673187201735",
                "Personal blog": "2700", "Retail company": "2239"}


def _session_caller(sandbox: Sandbox, session: Session, endpoint: str) -> Caller:
    check_faults(sandbox, endpoint)
    return authenticate(sandbox, session)


def _cursor(position: int) -> str:
    return base64.b64encode(str(position).encode()).decode()


def _position(cursor: str | None) -> int | None:
    try:
        return int(base64.b64decode(cursor or "", validate=True).decode())
    except ValueError:
        return None


def _ig_fields(sandbox: Sandbox, ig: IgAccount, wanted: dict[str, Any] | None) -> dict:
    picture = f"{sandbox.settings.base_url}/cdn/avatars/ig/{ig.key}.svg"
    full = {"id": ig.id, "username": ig.username, "name": ig.name, "profile_picture_url": picture,
            "followers_count": 1280, "ig_id": int(ig.id[-10:])}
    return {name: full[name] for name in (wanted or {"id": None}) if name in full} | {"id": ig.id}


def _page_fields(sandbox: Sandbox, session: Session, page: Page, fields: dict[str, Any], caller: Caller) -> dict:
    role = page_role(session, caller.user.id, page.id) if caller.user else None
    result: dict[str, Any] = {}
    for name, nested in fields.items():
        if name == "id":
            result["id"] = page.id
        elif name == "name":
            result["name"] = page.name
        elif name == "category":
            result["category"] = page.category
        elif name == "category_list":
            result["category_list"] = [{"id": CATEGORY_IDS.get(page.category, "2200"), "name": page.category}]
        elif name == "tasks" and role:
            result["tasks"] = list(role.tasks)
        elif name == "access_token" and caller.kind == "USER" and role:
            result["access_token"] = page_token(sandbox, session, caller.token, page.id).token
        elif name == "instagram_business_account" and page.ig_account_id:
            result[name] = _ig_fields(sandbox, session.get(IgAccount, page.ig_account_id), nested)
        elif name == "connected_instagram_account" and page.ig_account_id:
            result[name] = {"id": page.ig_account_id}
    result.setdefault("id", page.id)
    return result


@graph.get("/me")
def me():
    sandbox = current()
    with sandbox.store.tx() as session:
        caller = _session_caller(sandbox, session, "me")
        if caller.kind == "PAGE":
            fields = parse_fields(request.args.get("fields") or "id,name")
            return jsonify(_page_fields(sandbox, session, caller.page, fields, caller))
        user = require_user(caller)
        wanted = parse_fields(request.args.get("fields") or "id,name")
        full = {"id": user.id, "name": user.name, "first_name": user.name.split()[0],
                "short_name": user.name.split()[0],
                "picture": {"data": {"url": f"{sandbox.settings.base_url}/cdn/avatars/user/{user.id}.svg"}}}
        return jsonify({name: full[name] for name in wanted if name in full} | {"id": user.id})


@graph.get("/me/accounts")
@graph.get("/<user_id>/accounts")
def accounts(user_id: str = "me"):
    sandbox = current()
    with sandbox.store.tx() as session:
        caller = _session_caller(sandbox, session, "accounts")
        user = require_user(caller)
        if user_id not in ("me", user.id):
            raise unsupported(user_id)
        granted_list = set(session.scalars(select(Grant.permission).where(
            Grant.user_id == user.id, Grant.status == "granted")))
        roles = session.execute(select(PageRole, Page).join(Page, Page.id == PageRole.page_id)
                                .where(PageRole.user_id == user.id).order_by(PageRole.position)).all()
        if "pages_show_list" not in granted_list:
            roles = []  # Meta answers an empty list, not an error, without pages_show_list
        limit = _limit(request.args.get("limit"))
        after, before = _position(request.args.get("after")), _position(request.args.get("before"))
        start = after + 1 if after is not None else max((before or 0) - limit, 0) if before is not None else 0
        window = roles[start:start + limit]
        fields = parse_fields(request.args.get("fields") or DEFAULT_PAGE_FIELDS)
        data = [_page_fields(sandbox, session, page, fields, caller) for _, page in window]
        body: dict[str, Any] = {"data": data}
        if window:
            first, last = start, start + len(window) - 1
            body["paging"] = {"cursors": {"before": _cursor(first), "after": _cursor(last)}}
            if last + 1 < len(roles):
                body["paging"]["next"] = _paging_url(sandbox, user.id, limit, after=_cursor(last))
            if first > 0:
                body["paging"]["previous"] = _paging_url(sandbox, user.id, limit, before=_cursor(first))
        return jsonify(body)


def _limit(raw: str | None) -> int:
    """Meta's default page size is 25; it caps large limits rather than refusing them."""
    if raw in (None, ""):
        return 25
    if not str(raw).isdigit():
        raise GraphError(100, None, "(#100) Param limit must be a number")
    return min(max(int(raw), 1), 100)


def _paging_url(sandbox: Sandbox, user_id: str, limit: int, **cursor: str) -> str:
    """An absolute URL on the sandbox's graph base, with the version and the caller's parameters."""
    version = request.environ.get("sandbox.graph_version")
    query = {key: value for key, value in request.args.items() if key not in ("after", "before", "limit")}
    query.update(limit=str(limit), **cursor)
    prefix = f"{version}/" if version else ""
    return f"{sandbox.settings.graph_base}{prefix}{user_id}/accounts?{urlencode(query)}"


@graph.get("/me/permissions")
def permissions():
    sandbox = current()
    with sandbox.store.tx() as session:
        user = require_user(_session_caller(sandbox, session, "permissions"))
        rows = session.scalars(select(Grant).where(Grant.user_id == user.id)).all()
        order = {"granted": 0, "declined": 1}
        rows = sorted(rows, key=lambda row: (order.get(row.status, 2), row.permission))
        return jsonify(data=[{"permission": row.permission, "status": row.status} for row in rows])


@graph.delete("/me/permissions")
@graph.delete("/me/permissions/<permission>")
def revoke(permission: str | None = None):
    """Revoke one permission, or the whole app (every token of this user then fails with 190/458)."""
    sandbox = current()
    with sandbox.store.tx() as session:
        user = require_user(_session_caller(sandbox, session, "permissions"))
        if permission:
            session.merge(Grant(user_id=user.id, permission=permission, status="declined"))
        else:
            session.execute(delete(Grant).where(Grant.user_id == user.id))
            for token in session.scalars(select(AccessToken).where(AccessToken.user_id == user.id)):
                token.invalid_subcode = 458
        return jsonify(success=True)


@graph.get("/<object_id>")
def node(object_id: str):
    """A page, an Instagram business account, a user, or a customer's profile (by IGSID)."""
    sandbox = current()
    with sandbox.store.tx() as session:
        if session.get(Conversation, object_id) is not None:
            return _profile(sandbox, session, object_id)
        caller = _session_caller(sandbox, session, "page")
        fields = parse_fields(request.args.get("fields") or "id,name")
        page = session.get(Page, object_id)
        if page is not None and (caller.kind == "APP" or _may_see(session, caller, page)):
            return jsonify(_page_fields(sandbox, session, page, fields, caller))
        ig = session.get(IgAccount, object_id)
        if ig is not None and _may_see_ig(session, caller, ig):
            return jsonify(_ig_fields(sandbox, ig, fields))
        user = session.get(FbUser, object_id)
        if user is not None and caller.user is not None and caller.user.id == user.id:
            return jsonify({"id": user.id, "name": user.name})
        raise unsupported(object_id)


def _may_see(session: Session, caller: Caller, page: Page) -> bool:
    if caller.kind == "PAGE":
        return caller.page.id == page.id
    return caller.user is not None and page_role(session, caller.user.id, page.id) is not None


def _may_see_ig(session: Session, caller: Caller, ig: IgAccount) -> bool:
    page = session.scalars(select(Page).where(Page.ig_account_id == ig.id)).first()
    return page is not None and (caller.kind == "APP" or _may_see(session, caller, page))


def _profile(sandbox: Sandbox, session: Session, igsid: str):
    """GET /{IGSID}: only the page linked to that customer's conversation, only after they wrote."""
    check_faults(sandbox, "profile")
    caller = authenticate(sandbox, session)
    conversation = session.get(Conversation, igsid)
    page = require_page(caller)
    if page.ig_account_id != conversation.ig_account_id:
        raise unsupported(igsid)
    if conversation.blocked:
        raise GraphError(9010)
    if conversation.consented_ms is None:
        raise GraphError(230)
    customer = session.get(Customer, conversation.customer_key)
    picture = media.cdn_url(sandbox.settings.base_url, sandbox.settings.app_secret, f"avatar-{customer.key}",
                            expires_ms=sandbox.now_ms() + 3 * 86400 * 1000)
    full = {"name": customer.name, "username": customer.username, "profile_pic": picture,
            "follower_count": customer.follower_count, "is_verified_user": customer.is_verified,
            "is_user_follow_business": conversation.follows_business,
            "is_business_follow_user": conversation.business_follows}
    wanted = parse_fields(request.args.get("fields") or "name,profile_pic")
    return jsonify({name: full[name] for name in wanted if name in full} | {"id": igsid})


@graph.route("/<page_id>/subscribed_apps", methods=["GET", "POST", "DELETE"])
def subscribed_apps(page_id: str):
    sandbox = current()
    with sandbox.store.tx() as session:
        caller = _session_caller(sandbox, session, "subscribed_apps")
        page = require_page(caller)
        if page_id not in (page.id, "me"):
            raise unsupported(page_id, request.method.lower())
        subscription = session.get(Subscription, page.id)
        if request.method == "GET":
            if subscription is None:
                return jsonify(data=[])
            return jsonify(data=[{"category": "Business", "link": sandbox.settings.public_base_url + "/",
                                  "name": sandbox.settings.app_name, "id": sandbox.settings.app_id,
                                  "subscribed_fields": list(subscription.fields)}])
        if request.method == "DELETE":
            if subscription is not None:
                session.delete(subscription)
            return jsonify(success=True)
        from .tokens import require_permission

        require_permission(session, caller, "pages_manage_metadata")
        fields = _subscribed_fields(request.values.get("subscribed_fields") or "")
        if subscription is None:
            session.add(Subscription(page_id=page.id, fields=fields))
        else:
            subscription.fields = fields
        return jsonify(success=True)


def _subscribed_fields(raw: str) -> list[str]:
    text = raw.strip().strip("[]").replace('"', "")
    fields = [part.strip() for part in text.split(",") if part.strip()]
    if not fields:
        raise GraphError(100, None, "(#100) The parameter subscribed_fields is required.")
    for index, name in enumerate(fields):
        if name not in SUBSCRIBABLE:
            choices = ", ".join(sorted(SUBSCRIBABLE))
            raise GraphError(100, None,
                             f'(#100) Param subscribed_fields[{index}] must be one of {{{choices}}} - got "{name}"')
    return fields
