"""The tunnel: Instagram lets a business answer only within 24 hours of the customer's last message.

One module owns the rule (as Chatwoot's message-window service does), so the composer, the send path and the
scheduler's "closing soon / closed" events all agree. Plain functions, no database, no Flask.
"""
from __future__ import annotations

import datetime as dt
import enum

WINDOW = dt.timedelta(hours=24)
CLOSING_SOON = dt.timedelta(hours=1)

# What the customer does that reopens the window: writing, tapping a button, coming through an ig.me link or an
# ad (the sandbox, like Meta's third-party reports, counts these). Echoes (our own sends), reactions and reads do not.
RENEWING_EVENTS = frozenset({"message", "postback", "referral"})


class TunnelState(str, enum.Enum):
    OPEN = "open"
    CLOSING_SOON = "closing_soon"
    CLOSED = "closed"


def meta_time(value) -> dt.datetime | None:
    """A Meta timestamp as an aware UTC datetime: epoch milliseconds (the norm), seconds, or an ISO-8601 string
    (seen in some deliveries). None when it is none of these."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        # Milliseconds are the norm; the dashboard's test sends seconds ("1527459824"): no real millisecond
        # timestamp is below 10^11 (that is March 1973).
        seconds = value if abs(value) < 10**11 else value / 1000
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return meta_time(int(text))
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc)
    return None


def renews(event: str, is_echo: bool = False) -> bool:
    return event in RENEWING_EVENTS and not is_echo


def closes_at(customer_moment: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When the window opened by this customer message closes. A timestamp from the future counts as now:
    a skewed clock at Meta must not give us a window Instagram will not honour."""
    return min(customer_moment, now) + WINDOW


def renewed(current: dt.datetime | None, customer_moment: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The ticket's closing time after a customer message. Messages can arrive out of order: an older one
    arriving late never shortens the tunnel."""
    candidate = closes_at(customer_moment, now)
    return candidate if current is None or candidate > current else current


def state(closing: dt.datetime | None, now: dt.datetime) -> TunnelState:
    """Open strictly before the closing time (at 24 h − 1 s one may still send; at 24 h one may not)."""
    if closing is None or now >= closing:
        return TunnelState.CLOSED
    return TunnelState.CLOSING_SOON if closing - now <= CLOSING_SOON else TunnelState.OPEN


def is_open(closing: dt.datetime | None, now: dt.datetime) -> bool:
    return state(closing, now) != TunnelState.CLOSED


def remaining(closing: dt.datetime | None, now: dt.datetime) -> dt.timedelta:
    if closing is None:
        return dt.timedelta(0)
    return max(closing - now, dt.timedelta(0))
