"""Words and states the Chat templates show: one place, so a page, a fragment and a live update say the same."""
from __future__ import annotations

import datetime as dt

from flask_babel import format_datetime, gettext, to_user_timezone
from sqlalchemy import select

from webapp.messages import reasons
from webapp.tickets import tunnel
from webapp.tickets.models import Ticket, TicketStatus


def kind_label(kind: str | None) -> str:
    return {
        "image": gettext("Photo"), "video": gettext("Video"), "audio": gettext("Audio"), "file": gettext("Document"),
        "share": gettext("Shared post"), "ig_post": gettext("Instagram post"), "ig_reel": gettext("Reel"),
        "reel": gettext("Reel"), "story_mention": gettext("Story mention"), "ig_story": gettext("Story"),
        "unsupported": gettext("Unsupported message"), "postback": gettext("Button tapped"),
        "referral": gettext("Came through a link or an ad"), "like_heart": "❤️",
    }.get(kind or "", gettext("Message"))


def reason_of(message) -> str:
    return reasons.plain_words(message.error_code, message.error)


def tunnel_of(ticket: Ticket, now: dt.datetime):
    return tunnel.state(ticket.tunnel_closes_at, now), tunnel.remaining(ticket.tunnel_closes_at, now)


def composer_state(ticket: Ticket, may_answer: bool, now: dt.datetime) -> str:
    """open (send to the customer), tunnel_closed, closed or read_only (another agent's chat): comments only."""
    if ticket.status == TicketStatus.CLOSED:
        return "closed"
    if not may_answer:
        return "read_only"
    if not tunnel.is_open(ticket.tunnel_closes_at, now):
        return "tunnel_closed"
    return "open"


def when(moment: dt.datetime | None) -> str:
    """The time alone for today, the date too for older moments, in the company's time zone."""
    if moment is None:
        return ""
    local, today = to_user_timezone(moment), to_user_timezone(dt.datetime.now(dt.timezone.utc))
    if local.date() == today.date():
        return format_datetime(moment, "HH:mm")
    return format_datetime(moment, "dd/MM HH:mm" if local.year == today.year else "dd/MM/yyyy HH:mm")


def any_connection() -> bool:
    """Whether an Instagram account was ever added: an empty queue means something else before that."""
    from webapp.connections.models import Connection
    from webapp.extensions import db

    return db.session.scalar(select(Connection.id).limit(1)) is not None


def link(url) -> str | None:
    """A link from Meta (a shared post, a story) only if it is a web address: never javascript: or data:."""
    return url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None


def register(app) -> None:
    from webapp.messages.uploads import accept_attribute

    app.jinja_env.globals.update(kind_label=kind_label, reason_of=reason_of, tunnel_of=tunnel_of,
                                 composer_state=composer_state, any_connection=any_connection,
                                 attachment_types=accept_attribute())
    app.jinja_env.filters["link"] = link
    app.jinja_env.filters["when"] = when
