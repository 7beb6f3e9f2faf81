"""Live events across processes through Redis (webapp.events.relay): published once per commit, heard by the other
processes, survived when Redis drops the subscriber. Against the real Redis of TEST_REDIS_URL."""
from __future__ import annotations

import os
import queue
import secrets
import socket
import time

import pytest
import redis

from tests.inbound_support import eventually
from webapp import create_app
from webapp.events import bus, relay
from webapp.extensions import db

REDIS_URL = os.environ.get("TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL (the PostgreSQL + Redis pass of CI)")
WAIT = 5.0


def test_reconnections_back_off_up_to_a_cap_with_jitter():
    delays = [relay.backoff(failures) for failures in range(1, 12)]
    assert 0.5 * 0.75 <= delays[0] <= 0.5 * 1.25
    assert 1.0 * 0.75 <= delays[1] <= 1.0 * 1.25
    assert all(relay.BACKOFF_MAX * 0.75 <= delay <= relay.BACKOFF_MAX * 1.25 for delay in delays[8:])
    assert len({round(relay.backoff(3), 6) for _ in range(20)}) > 1  # not every process knocks at the same instant


@pytest.mark.parametrize("redis_is", ["refusing", "hanging"])
def test_a_redis_that_is_down_or_hangs_never_holds_back_a_commit(test_settings, redis_is):
    """The change is committed before Redis is told, and telling it is not the committer's wait: a dead or hung
    Redis costs other processes a poll, never the agent's reply or the webhook's processing."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)  # accepts connections into its backlog, and never answers a byte
    port = hung.getsockname()[1] if redis_is == "hanging" else 9  # nothing listens on port 9
    app = create_app({**test_settings, "REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    try:
        with app.app_context():
            started = time.monotonic()
            for _ in range(3):
                bus.publish("connection.status", department_id=None)
                db.session.commit()
            assert time.monotonic() - started < 0.5
            from webapp.events.models import LiveEvent

            assert db.session.query(LiveEvent).count() == 3
    finally:
        relay.for_url(f"redis://127.0.0.1:{port}/0").stop()
        hung.close()


@pytest.fixture
def channel():
    return f"direto:test-{secrets.token_hex(4)}"


def heard(messages: queue.Queue) -> list:
    try:
        return [messages.get(timeout=WAIT)]
    except queue.Empty:
        return []


@needs_redis
def test_a_commit_with_events_is_published_once_and_one_without_is_not(test_settings):
    app = create_app({**test_settings, "REDIS_URL": REDIS_URL})
    ours = relay.for_url(REDIS_URL)
    listener = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(relay.CHANNEL)
    listener.get_message(timeout=WAIT)
    before = ours.published
    with app.app_context():
        bus.publish("connection.status", department_id=None)
        bus.publish("connection.status", department_id=None)
        db.session.commit()  # two events, one commit
        db.session.commit()  # nothing recorded
    eventually(lambda: ours.published > before, timeout=WAIT, what="the relay publishing")
    redis.Redis.from_url(REDIS_URL).publish(relay.CHANNEL, b"end of test")
    received = []
    while True:
        message = listener.get_message(timeout=WAIT)
        assert message is not None, f"the test's own last message never came; got {received}"
        if message["data"] == b"end of test":
            break
        received.append(message["data"])
    listener.close()
    # Other processes on this Redis (the live server) publish too: ours are those with this process's origin.
    assert [data for data in received if data == ours.origin] == [ours.origin]
    assert ours.published == before + 1


@needs_redis
def test_another_process_is_heard_and_our_own_messages_are_not(channel):
    here, there = relay.Relay(REDIS_URL, channel), relay.Relay(REDIS_URL, channel)
    wakes = queue.Queue()
    here.subscribe(lambda: wakes.put(here.received))  # how many messages it had heard when woken
    try:
        assert here.connected.wait(WAIT)
        assert heard(wakes) == [0]  # subscribing wakes once: whatever went by before is read
        here.publish()  # our own: the bus already woke this process, in process
        eventually(lambda: here.received == 1, timeout=WAIT, what="our own message coming back")
        there.publish()
        assert heard(wakes) == [2]  # the first wake since is the other process's message, the second heard
        there.publish()
        assert heard(wakes) == [3]
    finally:
        here.stop()


@needs_redis
def test_a_dropped_subscriber_reconnects_and_wakes_to_catch_up(channel):
    here, there = relay.Relay(REDIS_URL, channel), relay.Relay(REDIS_URL, channel)
    wakes = queue.Queue()
    here.subscribe(lambda: wakes.put(here.connections))
    try:
        assert here.connected.wait(WAIT)
        assert heard(wakes) == [1]
        # What Redis does to its clients when it restarts: every subscriber connection is closed.
        killed = redis.Redis.from_url(REDIS_URL).client_kill_filter(_type="pubsub")
        assert killed >= 1
        assert heard(wakes) == [2]  # connected again, and woke: events published meanwhile are read now
        there.publish()
        assert heard(wakes) == [2]
    finally:
        here.stop()
