"""The Send API: POST /{page-id|ig-account-id|me}/messages with a page token.

Checks in Meta's order of concern: the recipient (100/2534014), blocked (551/1545041), the message itself
(empty, text over the byte limit, quick replies), the window (24 h; HUMAN_AGENT 7 days with the feature;
10/2534022), then attachments, which are really fetched (100/2018047 when that fails). Accepted messages
return {recipient_id, message_id} and are echoed by webhook with that mid.
"""
from __future__ import annotations

from typing import Any

import requests
from flask import jsonify
from sqlalchemy import select

from . import ids, threads
from .errors import GraphError, missing_param, unsupported
from .faults import check as check_faults
from .models import Conversation, MediaAsset, Message
from .params import request_params
from .runtime import Sandbox, current
from .tokens import authenticate, granted, require_page

DAY_MS = 24 * 3600 * 1000
HUMAN_AGENT_MS = 7 * DAY_MS
MAX_QUICK_REPLIES = 13
QUICK_REPLY_TITLE = 20
SIZE_LIMITS = {"image": 8 * 2**20, "video": 25 * 2**20, "audio": 25 * 2**20, "file": 25 * 2**20}
ACCEPTED_TYPES = {"image": ("image/",), "video": ("video/",), "audio": ("audio/", "video/mp4"), "file": ("",)}
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen", "react", "unreact")


def messages(object_id: str):
    sandbox = current()
    check_faults(sandbox, "send")
    with sandbox.store.tx() as session:
        caller = authenticate(sandbox, session)
        page = require_page(caller)
        if object_id not in ("me", page.id, page.ig_account_id) or page.ig_account_id is None:
            raise unsupported(object_id, "post")
        if "instagram_manage_messages" not in granted(session, caller.user.id):
            raise GraphError(10, None, "(#10) Application does not have permission for this action")
        params = request_params()
        recipient = params.get("recipient")
        if not isinstance(recipient, dict) or not recipient.get("id"):
            raise missing_param("recipient")
        conversation = session.get(Conversation, str(recipient["id"]))
        if conversation is None or conversation.ig_account_id != page.ig_account_id:
            raise GraphError(100, 2534014)
        if conversation.blocked:
            raise GraphError(551, 1545041)
        if params.get("sender_action"):
            return _sender_action(sandbox, session, conversation, params)
        message = params.get("message")
        if not isinstance(message, dict):
            raise GraphError(100, None, "(#100) Must send either message or sender action")
        kind, text, extra = _validate(sandbox, message)
        extra.update(_window(sandbox, conversation, params))
        attachments, reusable_id = _attachments(sandbox, session, message.get("attachment"))
        stored = threads.business_message(sandbox, session, conversation, kind, text, attachments, extra)
        body: dict[str, Any] = {"recipient_id": conversation.igsid, "message_id": stored.mid}
        if reusable_id:
            body["attachment_id"] = reusable_id
        return jsonify(body)


def _validate(sandbox: Sandbox, message: dict) -> tuple[str, str | None, dict]:
    text, attachment = message.get("text"), message.get("attachment")
    if text in (None, "") and not attachment:
        raise GraphError(100, None, "(#100) Message cannot be empty, must provide valid attachment or text")
    if text not in (None, "") and attachment:
        raise GraphError(100, None, "(#100) Only one of text or attachment can be specified")
    extra: dict[str, Any] = {}
    if text not in (None, ""):
        text = str(text)
        limit = int(sandbox.knob("text_limit_bytes"))
        if len(text.encode("utf-8")) > limit:
            raise GraphError(100, None, f"(#100) Length of param message[text] must be less than or equal to {limit}")
    quick = message.get("quick_replies")
    if quick:
        extra["quick_replies"] = _quick_replies(quick)
    return ("text" if text else "attachment"), (text or None), extra


def _quick_replies(quick: Any) -> list[dict]:
    if not isinstance(quick, list):
        raise GraphError(100, None, "(#100) param message[quick_replies] must be an array")
    if len(quick) > MAX_QUICK_REPLIES:
        raise GraphError(100, None, f"(#100) param message[quick_replies] must have at most {MAX_QUICK_REPLIES} items")
    result = []
    for index, reply in enumerate(quick):
        if not isinstance(reply, dict) or reply.get("content_type", "text") != "text":
            raise GraphError(100, None, f"(#100) param message[quick_replies][{index}][content_type] must be text")
        if not reply.get("title") or not reply.get("payload"):
            raise GraphError(100, None, f"(#100) param message[quick_replies][{index}] needs a title and a payload")
        # Instagram truncates titles at 20 characters rather than refusing them.
        result.append({"content_type": "text", "title": str(reply["title"])[:QUICK_REPLY_TITLE],
                       "payload": str(reply["payload"])})
    return result


def _window(sandbox: Sandbox, conversation: Conversation, params: dict) -> dict:
    """24 hours after the customer's last message; 7 days with HUMAN_AGENT when the app has the feature."""
    messaging_type = str(params.get("messaging_type") or "RESPONSE").upper()
    if messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
        raise GraphError(100, None, "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}"
                                    f' - got "{messaging_type}"')
    tag = params.get("tag")
    allowed = DAY_MS
    if messaging_type == "MESSAGE_TAG" or tag:
        if messaging_type != "MESSAGE_TAG" or not tag:
            raise GraphError(100, None, "(#100) A tag requires messaging_type MESSAGE_TAG, and MESSAGE_TAG a tag")
        if tag != "HUMAN_AGENT":
            raise GraphError(100, None, f"(#100) Tag {tag} is not available for Instagram Messaging API")
        if not sandbox.knob("human_agent"):
            raise GraphError(10, None, "(#10) Application does not have the capability to make this API call.")
        allowed = HUMAN_AGENT_MS
    last = conversation.last_inbound_ms
    if last is None or sandbox.now_ms() - last > allowed:
        raise GraphError(10, 2534022)
    return {"messaging_type": messaging_type, **({"tag": tag} if tag else {})}


def _attachments(sandbox: Sandbox, session, attachment: Any) -> tuple[list[dict] | None, str | None]:
    if not attachment:
        return None, None
    if not isinstance(attachment, dict):
        raise GraphError(100, None, "(#100) param message[attachment] must be an object")
    kind = str(attachment.get("type", "")).lower()
    payload = attachment.get("payload") or {}
    if kind == "like_heart":
        return [{"type": "like_heart"}], None
    if kind == "media_share":
        post_id = str(payload.get("id") or "")
        if not post_id:
            raise missing_param("message[attachment][payload][id]")
        return [{"type": "share", "payload": {"id": post_id, "url": threads.cdn_link(sandbox, "sample-post")}}], None
    if kind not in SIZE_LIMITS:
        raise GraphError(100, None, "(#100) param message[attachment][type] must be one of {image, audio, video, file}")
    if payload.get("attachment_id"):
        asset = session.get(MediaAsset, str(payload["attachment_id"]))
        if asset is None:
            raise GraphError(100, None, "(#100) Invalid attachment_id")
        asset_id = asset.id
    elif payload.get("url"):
        asset_id = _fetch(sandbox, session, kind, str(payload["url"]))
    else:
        raise missing_param("message[attachment][payload][url]")
    url = threads.cdn_link(sandbox, asset_id)
    reusable = asset_id if str(payload.get("is_reusable", "")).lower() == "true" else None
    return [{"type": kind, "payload": {"url": url}}], reusable


def _upload_failure(detail: str) -> GraphError:
    return GraphError(100, 2018047, user_title="Upload attachment failure", user_msg=detail)


def _fetch(sandbox: Sandbox, session, kind: str, url: str) -> str:
    """Download the attachment like Meta does; anything unreachable or wrong is an upload failure."""
    limit = SIZE_LIMITS[kind]
    try:
        with requests.get(url, timeout=sandbox.settings.fetch_timeout, stream=True) as response:
            if not 200 <= response.status_code < 300:
                raise _upload_failure(f"The URL answered HTTP {response.status_code}.")
            content_type = response.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
            data = bytearray()
            for chunk in response.iter_content(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise _upload_failure(f"The {kind} is larger than {limit // 2**20} MB.")
    except requests.RequestException as exc:
        raise _upload_failure(f"The URL could not be fetched ({type(exc).__name__}).") from None
    if content_type != "application/octet-stream" and not content_type.startswith(ACCEPTED_TYPES[kind]):
        raise _upload_failure(f"A {content_type} file cannot be sent as {kind}.")
    asset = MediaAsset(id=ids.asset_id(), content_type=content_type, data=bytes(data), created_ms=sandbox.now_ms())
    session.add(asset)
    return asset.id


def _sender_action(sandbox: Sandbox, session, conversation: Conversation, params: dict):
    action = str(params["sender_action"])
    if action not in SENDER_ACTIONS:
        raise GraphError(100, None, f"(#100) Param sender_action must be one of {{{', '.join(SENDER_ACTIONS)}}}")
    _window(sandbox, conversation, {})
    now = sandbox.now_ms()
    if action in ("typing_on", "typing_off"):
        conversation.typing_until_ms = now + 20_000 if action == "typing_on" else 0
    elif action == "mark_seen":
        for message in threads.messages(session, conversation):
            if message.from_customer and message.seen_ms is None:
                message.seen_ms = now
    else:
        payload = params.get("payload") or {}
        target = session.scalars(select(Message).where(Message.mid == str(payload.get("message_id", "")),
                                                       Message.igsid == conversation.igsid)).first()
        if target is None:
            raise GraphError(100, None, "(#100) Param payload[message_id] must be a message in this thread")
        if action == "react":
            name = str(payload.get("reaction") or "love")
            if name not in threads.REACTIONS:
                raise GraphError(100, None, "(#100) Param payload[reaction] must be one of "
                                            f"{{{', '.join(threads.REACTIONS)}}}")
            target.business_reaction = threads.REACTIONS[name]
        else:
            target.business_reaction = None
        # No echo: Meta does not send webhooks for the business's own reactions.
    conversation.version += 1
    return jsonify(recipient_id=conversation.igsid)
