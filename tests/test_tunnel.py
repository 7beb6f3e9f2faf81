"""The tunnel rule (Instagram's 24-hour window), without HTTP or database."""
import datetime as dt

import pytest

from webapp.tickets import tunnel
from webapp.tickets.tunnel import TunnelState

UTC = dt.timezone.utc
SENT = dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_the_tunnel_closes_24_hours_after_the_customer_message():
    closing = tunnel.closes_at(SENT, now=SENT + dt.timedelta(seconds=2))
    assert closing == SENT + dt.timedelta(hours=24)
    assert tunnel.is_open(closing, SENT + dt.timedelta(hours=24) - dt.timedelta(seconds=1))
    assert not tunnel.is_open(closing, SENT + dt.timedelta(hours=24))
    assert not tunnel.is_open(closing, SENT + dt.timedelta(hours=24, seconds=1))


def test_closing_soon_is_the_last_hour():
    closing = SENT + tunnel.WINDOW
    assert tunnel.state(closing, closing - dt.timedelta(hours=1, seconds=1)) == TunnelState.OPEN
    assert tunnel.state(closing, closing - dt.timedelta(hours=1)) == TunnelState.CLOSING_SOON
    assert tunnel.state(closing, closing - dt.timedelta(seconds=1)) == TunnelState.CLOSING_SOON
    assert tunnel.state(closing, closing) == TunnelState.CLOSED
    assert tunnel.state(None, SENT) == TunnelState.CLOSED  # no customer message yet: nothing may be sent
    assert tunnel.remaining(closing, closing - dt.timedelta(minutes=5)) == dt.timedelta(minutes=5)
    assert tunnel.remaining(closing, closing + dt.timedelta(days=1)) == dt.timedelta(0)


def test_a_timestamp_from_the_future_counts_as_now():
    now = SENT
    assert tunnel.closes_at(SENT + dt.timedelta(hours=3), now) == now + tunnel.WINDOW


def test_a_late_older_message_never_shortens_the_tunnel():
    now = SENT + dt.timedelta(hours=2)
    current = tunnel.closes_at(SENT + dt.timedelta(hours=1), now)
    assert tunnel.renewed(current, SENT, now) == current
    assert tunnel.renewed(current, SENT + dt.timedelta(hours=2), now) == SENT + dt.timedelta(hours=26)
    assert tunnel.renewed(None, SENT, now) == SENT + tunnel.WINDOW


@pytest.mark.parametrize("event, echo, renews", [
    ("message", False, True), ("postback", False, True), ("message", True, False),
    ("reaction", False, False), ("read", False, False), ("referral", False, True), ("unsend", False, False),
])
def test_only_the_customer_reopens_it(event, echo, renews):
    assert tunnel.renews(event, is_echo=echo) is renews


@pytest.mark.parametrize("value, expected", [
    (1795627021076, dt.datetime(2026, 11, 25, 17, 17, 1, 76000, tzinfo=UTC)),
    ("1795627021076", dt.datetime(2026, 11, 25, 17, 17, 1, 76000, tzinfo=UTC)),
    ("2026-11-25T16:37:01+0000", dt.datetime(2026, 11, 25, 16, 37, 1, tzinfo=UTC)),
    ("2026-11-25T13:37:01-03:00", dt.datetime(2026, 11, 25, 16, 37, 1, tzinfo=UTC)),
    ("2026-11-25T16:37:01Z", dt.datetime(2026, 11, 25, 16, 37, 1, tzinfo=UTC)),
    (1527459824, dt.datetime(2018, 5, 27, 22, 23, 44, tzinfo=UTC)),  # seconds: the dashboard's test button
    ("1527459824", dt.datetime(2018, 5, 27, 22, 23, 44, tzinfo=UTC)),
    ("yesterday", None), (None, None), (True, None), ({"ms": 1}, None), (10**30, None),
])
def test_meta_timestamps_in_every_shape_seen(value, expected):
    assert tunnel.meta_time(value) == expected
