"""Meta's webhook bodies as plain events: no database, no Flask (meta-platform.md §3).

Whatever the shape, parsing never raises: items it cannot read are counted as skipped with a reason, so a
delivery is either turned into events or kept with the reason it was ignored. Accepted variants: `messaging[]`
(the norm), `standby[]` (another app owns the thread), the dashboard's `changes[]` test shape, timestamps in
epoch milliseconds, seconds, digit strings or ISO-8601, and an `entry.id` that is the page id instead of the
Instagram account id.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from webapp.tickets.tunnel import meta_time

# What an event is, in the domain's words.
MESSAGE = "message"  # the customer wrote (text, media, share, story reply/mention, quick reply, unsupported)
POSTBACK = "postback"  # the customer tapped an icebreaker or a button
REFERRAL = "referral"  # the customer came through an ig.me link or an ad, in a thread that exists
ECHO = "echo"  # the business sent something (from Direto or from the Instagram app)
UNSEND = "unsend"
EDIT = "edit"
REACT = "react"
UNREACT = "unreact"
SEEN = "seen"
CUSTOMER_WRITES = (MESSAGE, POSTBACK, REFERRAL)  # these create a message row and renew the tunnel
CHANGES = (UNSEND, EDIT, REACT, UNREACT, SEEN)  # these change a message that exists (or will)


@dataclass(frozen=True)
class Event:
    kind: str
    account_id: str  # the business's Instagram account (or the page id, for the `{PAGE_ID}` variant)
    entry_id: str
    igsid: str  # the customer
    timestamp: dt.datetime | None  # Meta's; None when absent or unreadable (the caller uses its own clock)
    mid: str | None = None
    text: str | None = None
    attachments: tuple[dict, ...] = ()
    reply_to_mid: str | None = None
    reply_to_story: dict | None = None
    quick_reply_payload: str | None = None
    postback: dict | None = None
    referral: dict | None = None
    is_unsupported: bool = False
    reaction: str | None = None
    emoji: str | None = None
    num_edit: int = 0
    standby: bool = False
    item: dict = field(default_factory=dict, repr=False, compare=False)  # as Meta sent it

    @property
    def message_kind(self) -> str:
        """The kind of message row this makes: text, image, ..., postback, referral, unsupported."""
        if self.kind in (POSTBACK, REFERRAL):
            return self.kind
        if self.is_unsupported and not self.attachments and not self.text:
            return "unsupported"
        if self.attachments:
            return str(self.attachments[0].get("type") or "file")[:20]
        return "text"


@dataclass
class Parsed:
    events: list[Event] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why some items were not events


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any, limit: int = 100_000) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _id(value: Any) -> str | None:
    """Meta's ids are strings of digits; some test payloads use numbers."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= 64:
        return value.strip()
    return None


def _attachments(value: Any) -> tuple[dict, ...]:
    """Keep what we use of each attachment: type, url, title, media ids (shapes vary per type)."""
    if not isinstance(value, list):
        return ()
    found = []
    for attachment in value[:20]:
        if not isinstance(attachment, dict):
            continue
        payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
        kept = {"type": _text(attachment.get("type"), 20) or "file"}
        url = payload.get("url") or payload.get("story_media_url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            kept["url"] = url[:4000]
        for key in ("title", "ig_post_media_id", "reel_video_id", "story_media_id", "id"):
            if isinstance(payload.get(key), (str, int)) and not isinstance(payload.get(key), bool):
                kept["media_id" if key != "title" else "title"] = str(payload[key])[:500]
        found.append(kept)
    return tuple(found)


def _reply_to(message: dict) -> tuple[str | None, dict | None]:
    reply = message.get("reply_to")
    if not isinstance(reply, dict):
        return None, None
    story = reply.get("story")
    if isinstance(story, dict):
        url = story.get("url") if isinstance(story.get("url"), str) else None
        return None, {"url": url, "id": _id(story.get("id"))}
    return _text(reply.get("mid"), 255), None


def _clean_dict(value: Any, depth: int = 0) -> dict | None:
    """A small JSON-safe copy of a referral or postback (strings, numbers, nested objects)."""
    if not isinstance(value, dict) or depth > 3:
        return None
    copy: dict = {}
    for key, item in list(value.items())[:30]:
        if isinstance(item, (str, int, float, bool)) or item is None:
            copy[str(key)[:100]] = item[:2000] if isinstance(item, str) else item
        elif isinstance(item, dict):
            copy[str(key)[:100]] = _clean_dict(item, depth + 1)
    return copy


def event_of(item: Any, entry_id: str, standby: bool = False) -> Event | str:
    """One `messaging[]` item as an Event, or the reason it is not one."""
    if not isinstance(item, dict):
        return "item is not an object"
    sender, recipient = _id(item.get("sender")), _id(item.get("recipient"))
    if not sender or not recipient:
        return "no sender or recipient"
    when = meta_time(item.get("timestamp"))
    message = item.get("message") if isinstance(item.get("message"), dict) else None
    is_echo = bool(message and message.get("is_echo"))
    # Inbound: the customer is the sender. Echo: the business is the sender (meta-platform.md §3.3).
    account, igsid = (sender, recipient) if is_echo else (recipient, sender)
    base = {"account_id": account, "entry_id": entry_id, "igsid": igsid, "timestamp": when, "standby": standby,
            "item": item}
    if message is not None:
        mid = _text(message.get("mid"), 255)
        if not mid:
            return "message without mid"
        if message.get("is_deleted"):
            return Event(UNSEND, mid=mid, **base)
        reply_mid, story = _reply_to(message)
        quick = message.get("quick_reply")
        fields = dict(mid=mid, text=_text(message.get("text")), attachments=_attachments(message.get("attachments")),
                      reply_to_mid=reply_mid, reply_to_story=story,
                      quick_reply_payload=_text(quick.get("payload"), 1000) if isinstance(quick, dict) else None,
                      referral=_clean_dict(message.get("referral")),
                      is_unsupported=bool(message.get("is_unsupported")), **base)
        if not is_echo and not (fields["text"] or fields["attachments"] or fields["is_unsupported"]):
            return "message with no content"
        return Event(ECHO if is_echo else MESSAGE, **fields)
    if isinstance(item.get("message_edit"), dict):
        edit = item["message_edit"]
        mid = _text(edit.get("mid"), 255)
        if not mid:
            return "edit without mid"
        count = edit.get("num_edit")
        return Event(EDIT, mid=mid, text=_text(edit.get("text")) or "",
                     num_edit=count if isinstance(count, int) and not isinstance(count, bool) else 1, **base)
    if isinstance(item.get("reaction"), dict):
        reaction = item["reaction"]
        mid = _text(reaction.get("mid"), 255)
        action = reaction.get("action")
        if not mid or action not in (REACT, UNREACT):
            return "reaction without mid or action"
        return Event(action, mid=mid, reaction=_text(reaction.get("reaction"), 32),
                     emoji=_text(reaction.get("emoji"), 32), **base)
    if isinstance(item.get("read"), dict):
        mid = _text(item["read"].get("mid"), 255)
        return Event(SEEN, mid=mid, **base) if mid else "read without mid"
    if isinstance(item.get("postback"), dict):
        postback = item["postback"]
        return Event(POSTBACK, mid=_text(postback.get("mid"), 255), text=_text(postback.get("title"), 1000),
                     postback=_clean_dict(postback), **base)
    if isinstance(item.get("referral"), dict):
        return Event(REFERRAL, referral=_clean_dict(item["referral"]), **base)
    return "unknown event shape"


def parse(payload: Any) -> Parsed:
    """Every event of a delivery, sorted by Meta's timestamp (Meta does not guarantee order)."""
    parsed = Parsed()
    if not isinstance(payload, dict):
        parsed.skipped.append("body is not an object")
        return parsed
    if payload.get("object") not in ("instagram", "page"):
        parsed.skipped.append(f"object {str(payload.get('object'))[:40]!r} is not instagram")
        return parsed
    entries = payload.get("entry")
    if not isinstance(entries, list):
        parsed.skipped.append("no entry list")
        return parsed
    for entry in entries[:2000]:
        if not isinstance(entry, dict):
            parsed.skipped.append("entry is not an object")
            continue
        entry_id = _id(entry.get("id")) or ""
        items = [(i, False) for i in _list(entry.get("messaging"))] + [(i, True) for i in _list(entry.get("standby"))]
        # The App Dashboard's "Test" button wraps one item in changes[].value.
        for change in _list(entry.get("changes")):
            if isinstance(change, dict) and change.get("field") in ("messages", "messaging_postbacks",
                                                                     "message_reactions", "messaging_seen"):
                items.append((change.get("value"), False))
        for item, standby in items[:2000]:
            result = event_of(item, entry_id, standby)
            if isinstance(result, Event):
                parsed.events.append(result)
            else:
                parsed.skipped.append(result)
    oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    parsed.events.sort(key=lambda e: e.timestamp or oldest)
    return parsed
