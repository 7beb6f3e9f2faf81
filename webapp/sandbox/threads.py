"""Conversations: what customers do (from the phone or the control API) and what the business sends.

Both sides end up here, so the stored thread and the webhook items can never disagree: every customer
action stores/updates a `Message` and queues its `messaging[]` item; every accepted Send API message is
stored and queued as an echo (`is_echo`, sender = IG account, mid = the returned message_id).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from . import ids, media
from .models import Conversation, Customer, IgAccount, Message
from .runtime import Sandbox
from .webhooks import queue_event

REACTIONS = {"love": "\u2764\ufe0f", "like": "\U0001f44d", "haha": "\U0001f606", "wow": "\U0001f62e",
             "sad": "\U0001f622", "angry": "\U0001f621"}
ATTACHMENT_KINDS = ("image", "video", "audio", "file")
SHARE_KINDS = ("share", "ig_post", "ig_reel", "reel", "ig_story")
# Kinds that are the customer writing: they open (or reopen) the 24-hour window and give profile consent.
OPENS_WINDOW = {"text", "quick_reply", "story_reply", "story_mention", "unsupported", "postback", "referral",
                *ATTACHMENT_KINDS, *SHARE_KINDS}
CUSTOMER_KINDS = sorted(OPENS_WINDOW | {"unsend", "edit", "react", "unreact", "seen"})


class ThreadError(ValueError):
    """A customer action that cannot happen (unknown kind, a mid that is not theirs...)."""


def find_conversation(session: Session, igsid: str | None = None, customer: str | None = None,
                      account: str | None = None) -> Conversation:
    """By IGSID, or by customer (key or @username) and business account (@username or id)."""
    if igsid:
        found = session.get(Conversation, str(igsid))
        if found is None:
            raise ThreadError(f"no conversation with IGSID {igsid}")
        return found
    who = session.scalars(select(Customer).where(or_(Customer.key == str(customer or "").lstrip("@"),
                                                     Customer.username == str(customer or "").lstrip("@")))).first()
    where = str(account or "loja.demo").lstrip("@")
    ig = session.scalars(select(IgAccount).where(or_(IgAccount.id == where, IgAccount.username == where,
                                                     IgAccount.key == where))).first()
    if who is None or ig is None:
        raise ThreadError("unknown customer or business account")
    return session.scalars(select(Conversation).where(Conversation.customer_key == who.key,
                                                      Conversation.ig_account_id == ig.id)).one()


def cdn_link(sandbox: Sandbox, asset: str, story: bool = False) -> str:
    """A signed CDN URL that expires like Meta's: stories after 24 h, other media after the
    `media_url_lifetime_hours` knob (0 = never), so clients must download what they keep."""
    hours = 24 if story else float(sandbox.knob("media_url_lifetime_hours") or 0)
    expires = sandbox.now_ms() + int(hours * 3600 * 1000) if hours else None
    return media.cdn_url(sandbox.settings.base_url, sandbox.settings.app_secret, asset, expires)


def _attachment(sandbox: Sandbox, kind: str, data: dict) -> dict:
    url = data.get("url")
    if kind in ATTACHMENT_KINDS:
        return {"type": kind, "payload": {"url": url or cdn_link(sandbox, f"sample-{kind}")}}
    if kind == "story_mention":
        return {"type": "story_mention", "payload": {"url": url or cdn_link(sandbox, "sample-story", story=True)}}
    media_id = str(data.get("media_id") or ids.asset_id())
    title = data.get("title", "")
    if kind == "share":
        return {"type": "share", "payload": {"url": url or cdn_link(sandbox, "sample-post")}}
    if kind == "ig_post":
        return {"type": "ig_post", "payload": {"url": url or cdn_link(sandbox, "sample-post"),
                                               "title": title or "Nova coleção de verão \u2600\ufe0f",
                                               "ig_post_media_id": media_id}}
    if kind == "ig_story":
        story_url = url or cdn_link(sandbox, "sample-story", story=True)
        return {"type": "ig_story", "payload": {"story_media_id": media_id, "story_media_url": story_url}}
    return {"type": kind, "payload": {"url": url or cdn_link(sandbox, "sample-video"),
                                      "title": title or "Bastidores da loja", "reel_video_id": media_id}}


def _own_message(session: Session, conversation: Conversation, mid: str | None, from_customer: bool) -> Message:
    message = session.scalars(select(Message).where(Message.mid == str(mid or ""),
                                                    Message.igsid == conversation.igsid)).first()
    if message is None or message.from_customer != from_customer:
        side = "the customer's own" if from_customer else "a business"
        raise ThreadError(f"mid must be {side} message in this thread")
    return message


def customer_event(sandbox: Sandbox, session: Session, conversation: Conversation, kind: str, data: dict,
                   timestamp_ms: int | None = None) -> dict:
    """Make the customer do `kind`; returns {"mid", "timestamp", "igsid", "item"} (the queued messaging item)."""
    if kind not in CUSTOMER_KINDS:
        raise ThreadError(f"kind must be one of {', '.join(CUSTOMER_KINDS)}")
    when = int(timestamp_ms if timestamp_ms is not None else sandbox.now_ms())
    item: dict[str, Any] = {"sender": {"id": conversation.igsid}, "recipient": {"id": conversation.ig_account_id},
                            "timestamp": when}
    if kind in ("unsend", "edit"):
        field, mid = _change_own(session, conversation, kind, data, item)
    elif kind in ("react", "unreact"):
        field, mid = _react(session, conversation, kind, data, item)
    elif kind == "seen":
        field, mid = _seen(session, conversation, data, item, when)
    else:
        mid = ids.mid(conversation.ig_account_id)
        field, stored = _new_inbound(sandbox, conversation, kind, data, item, mid, when)
        session.add(stored)
        conversation.consented_ms = conversation.consented_ms or when
        conversation.last_inbound_ms = max(conversation.last_inbound_ms or 0, when)
    conversation.version += 1
    queue_event(sandbox, session, conversation.ig_account_id, field, item)
    return {"mid": mid, "timestamp": when, "igsid": conversation.igsid, "item": item}


def _change_own(session: Session, conversation: Conversation, kind: str, data: dict, item: dict) -> tuple[str, str]:
    """Unsend (the same mid with is_deleted) or edit (message_edit with num_edit) one's own message."""
    target = _own_message(session, conversation, data.get("mid"), from_customer=True)
    if kind == "unsend":
        target.deleted, target.text, target.attachments = True, None, None
        item["message"] = {"mid": target.mid, "is_deleted": True}
        return "messages", target.mid
    target.num_edit += 1
    target.text = str(data.get("text", ""))
    item["message_edit"] = {"mid": target.mid, "text": target.text, "num_edit": target.num_edit}
    return "message_edits", target.mid


def _react(session: Session, conversation: Conversation, kind: str, data: dict, item: dict) -> tuple[str, str]:
    """React to a business message (`love` and friends; any other emoji is reaction "other")."""
    target = _own_message(session, conversation, data.get("mid"), from_customer=False)
    reaction: dict[str, Any] = {"mid": target.mid, "action": kind}
    if kind == "react":
        name = str(data.get("reaction") or "love")
        reaction["reaction"] = name if name in REACTIONS else "other"
        reaction["emoji"] = data.get("emoji") or REACTIONS.get(name, name)
        target.customer_reaction = reaction["emoji"]
    else:
        target.customer_reaction = None
    item["reaction"] = reaction
    return "message_reactions", target.mid


def _seen(session: Session, conversation: Conversation, data: dict, item: dict, when: int) -> tuple[str, str]:
    """The customer read the business's messages up to `mid` (default: the latest)."""
    outbound = session.scalars(select(Message).where(Message.igsid == conversation.igsid,
                                                     Message.from_customer.is_(False))
                               .order_by(Message.timestamp_ms, Message.id)).all()
    if not outbound:
        raise ThreadError("nothing from the business to mark as seen")
    last = next((m for m in outbound if m.mid == data.get("mid")), outbound[-1])
    for message in outbound:
        if message.timestamp_ms <= last.timestamp_ms and message.seen_ms is None:
            message.seen_ms = when
    item["read"] = {"mid": last.mid}
    return "messaging_seen", last.mid


def _new_inbound(sandbox: Sandbox, conversation: Conversation, kind: str, data: dict, item: dict, mid: str,
                 when: int) -> tuple[str, Message]:
    """Build the messaging item and the stored Message for something new the customer sends."""
    text = data.get("text")
    message: dict[str, Any] = {"mid": mid}
    extra: dict[str, Any] = {}
    attachments = None
    field = "messages"
    if kind == "postback":
        item["postback"] = {"mid": mid, "title": data.get("title", "Começar"),
                            "payload": data.get("payload", "GET_STARTED")}
        return "messaging_postbacks", Message(mid=mid, igsid=conversation.igsid, from_customer=True, kind=kind,
                                               timestamp_ms=when, text=item["postback"]["title"],
                                               extra={"postback": item["postback"]})
    if kind == "referral" and data.get("source", "ADS") != "ADS":
        item["referral"] = {"ref": data.get("ref", "promo"), "source": data.get("source"), "type": "OPEN_THREAD"}
        return "messaging_referral", Message(mid=mid, igsid=conversation.igsid, from_customer=True, kind=kind,
                                              timestamp_ms=when, extra={"referral": item["referral"]})
    if kind == "unsupported":
        message["is_unsupported"] = True
    elif kind in ("text", "quick_reply", "story_reply", "referral"):
        if not text:
            raise ThreadError("text is required")
        message["text"] = str(text)
    else:
        attachments = [_attachment(sandbox, kind, data)]
        message["attachments"] = attachments
    if kind == "quick_reply":
        message["quick_reply"] = {"payload": str(data.get("payload", ""))}
    if kind == "story_reply":
        story_url = data.get("url") or cdn_link(sandbox, "sample-story", story=True)
        message["reply_to"] = {"story": {"url": story_url, "id": str(data.get("story_id") or ids.asset_id())}}
    elif data.get("reply_to"):
        message["reply_to"] = {"mid": str(data["reply_to"])}
    if kind == "referral":
        message["referral"] = {"ref": data.get("ref", "ad_summer"),
                               "ad_id": str(data.get("ad_id", "120210000000000001")),
                               "source": "ADS", "type": "OPEN_THREAD",
                               "ads_context_data": {"ad_title": data.get("ad_title", "Promoção de verão"),
                                                    "photo_url": cdn_link(sandbox, "sample-post")}}
    for key in ("reply_to", "quick_reply", "referral", "is_unsupported"):
        if key in message:
            extra[key] = message[key]
    item["message"] = message
    return field, Message(mid=mid, igsid=conversation.igsid, from_customer=True, kind=kind, timestamp_ms=when,
                          text=message.get("text"), attachments=attachments, extra=extra)


def business_message(sandbox: Sandbox, session: Session, conversation: Conversation, kind: str,
                     text: str | None, attachments: list[dict] | None, extra: dict,
                     timestamp_ms: int | None = None) -> Message:
    """Store what the business sent (through the Send API, or in the Instagram app) and queue its echo, whose mid
    is the message_id the Send API returned."""
    now = sandbox.now_ms() if timestamp_ms is None else int(timestamp_ms)
    message = Message(mid=ids.mid(conversation.ig_account_id), igsid=conversation.igsid, from_customer=False,
                      kind=kind, timestamp_ms=now, text=text, attachments=attachments, extra=extra)
    session.add(message)
    conversation.version += 1
    conversation.typing_until_ms = 0
    echo: dict[str, Any] = {"mid": message.mid, "is_echo": True}
    if text is not None:
        echo["text"] = text
    if attachments:
        echo["attachments"] = attachments
    queue_event(sandbox, session, conversation.ig_account_id, "messages", {
        "sender": {"id": conversation.ig_account_id}, "recipient": {"id": conversation.igsid},
        "timestamp": now, "message": echo})
    return message


def as_dict(message: Message) -> dict:
    return {"mid": message.mid, "from": "customer" if message.from_customer else "business", "kind": message.kind,
            "timestamp": message.timestamp_ms, "text": message.text, "attachments": message.attachments or [],
            "deleted": message.deleted, "num_edit": message.num_edit, "customer_reaction": message.customer_reaction,
            "business_reaction": message.business_reaction, "seen": message.seen_ms, **(message.extra or {})}


def messages(session: Session, conversation: Conversation) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.igsid == conversation.igsid)
                                .order_by(Message.timestamp_ms, Message.id)))
