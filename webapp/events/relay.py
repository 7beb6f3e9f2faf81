"""Live events across processes and machines, through Redis (REDIS_URL).

After a commit that recorded live events, the committing process publishes one short message on CHANNEL; every
process keeps one subscriber connection, and each message wakes its hub, which reads the new `live_events` rows
from the database as it does for its own commits. The rows stay the truth: a message lost while Redis restarts
costs a page at most one SSE_POLL, and a subscriber that reconnects wakes its hub at once to catch up.

Without REDIS_URL nothing here runs: events stay in the process (and other processes find them by polling).
"""
from __future__ import annotations

import logging
import random
import secrets
import threading
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

CHANNEL = "direto:live-events"
BACKOFF_FIRST = 0.5  # seconds before the first reconnect; doubled each failure, up to BACKOFF_MAX, with jitter
BACKOFF_MAX = 30.0
PUBLISH_PAUSE = 1.0  # after a failed publish, seconds before the next try
TIMEOUT = 2.0  # connect and write timeout: Redis answers in well under a millisecond when it is up
LISTEN_WAIT = 1.0  # seconds the subscriber waits for a message before looking at whether it was stopped


def backoff(failures: int) -> float:
    """Seconds to wait after `failures` failed connections in a row: 0.5, 1, 2 ... 30, each ±25 % so that
    processes which lost Redis together do not all knock again at the same instant."""
    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(failures - 1, 0))
    return delay * random.uniform(0.75, 1.25)


class Relay:
    """One per Redis URL and process: publishes this process's commits, hears the others'."""

    def __init__(self, url: str, channel: str = CHANNEL):
        self.url, self.channel = url, channel
        self.origin = secrets.token_hex(8).encode()  # our own messages come back too: they are not news here
        self._publisher = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._to_publish = threading.Event()
        self._publisher_thread: threading.Thread | None = None
        self.published = 0  # messages sent
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.connected = threading.Event()  # the subscriber listens now
        self.connections = 0  # successful subscriptions so far (1 + reconnects)
        self.received = 0  # messages heard, ours included

    # -- out

    def publish(self) -> None:
        """Tell every other process that new events are committed. Called in the committing greenlet, so it only
        raises a flag: the publisher sends one message for however many commits raised it meanwhile, and a Redis
        that hangs holds back nobody's commit. The other processes find the events by polling anyway."""
        self._to_publish.set()
        if self._publisher_thread is None:
            with self._lock:
                if self._publisher_thread is None:
                    self._publisher_thread = threading.Thread(target=self._publish_loop, name="direto-redis-publish",
                                                              daemon=True)
                    self._publisher_thread.start()

    def _publish_loop(self) -> None:
        while not self._stopped.is_set():
            self._to_publish.wait(LISTEN_WAIT)
            if not self._to_publish.is_set():
                continue
            self._to_publish.clear()
            try:
                self._publisher.publish(self.channel, self.origin)
                self.published += 1
            except redis.RedisError as error:
                log.warning("could not publish a live event on Redis (%s); other processes will poll", error)
                self._stopped.wait(PUBLISH_PAUSE)  # a dead Redis is not knocked at for every commit

    def ping(self) -> str:
        """"ok", or what went wrong (the health check's word on Redis)."""
        try:
            self._publisher.ping()
            return "ok"
        except redis.RedisError as error:
            return f"error: {type(error).__name__}"

    # -- in

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener()` whenever another process committed events, and after each reconnection (events may
        have gone by unheard). The subscriber connection starts with the first listener."""
        with self._lock:
            self._listeners.append(listener)
            if self._thread is None:
                # Under gunicorn's gevent worker threading is patched: this is a greenlet, and Redis's socket
                # reads yield to the requests.
                self._thread = threading.Thread(target=self._listen, name="direto-redis-events", daemon=True)
                self._thread.start()
        return lambda: self._forget(listener)

    def _forget(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def stop(self) -> None:
        self._stopped.set()

    def _wake(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # one broken listener must not deafen the others
                log.exception("live event listener failed")

    def _listen(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            # No retries inside redis-py: it would reconnect and subscribe again silently, and we need to know,
            # to catch up on what went by meanwhile.
            client = redis.Redis.from_url(self.url, socket_connect_timeout=TIMEOUT, socket_keepalive=True,
                                          health_check_interval=30, retry=Retry(NoBackoff(), 0))
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                pubsub.get_message(timeout=TIMEOUT)  # the subscription's confirmation: we listen from here on
                self.connections += 1
                if failures:
                    log.info("listening to live events on Redis again")
                failures = 0
                self.connected.set()
                self._wake()  # whatever was published while we were not listening
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=LISTEN_WAIT)
                    if message is None:
                        continue
                    self.received += 1
                    if message.get("data") != self.origin:
                        self._wake()
            except Exception as error:  # Redis's errors, and any surprise: the subscriber must never end
                self.connected.clear()
                failures += 1
                delay = backoff(failures)
                log.warning("lost Redis for live events (%s); reconnecting in %.1f s", error, delay)
                self._stopped.wait(delay)
            finally:
                self.connected.clear()
                try:
                    pubsub.close()
                    client.close()
                except Exception:
                    pass


_relays: dict[str, Relay] = {}
_relays_lock = threading.Lock()


def for_url(url: str) -> Relay:
    """The process's relay for `url` (one subscriber connection per process, however many apps use it)."""
    with _relays_lock:
        relay = _relays.get(url)
        if relay is None:
            relay = _relays[url] = Relay(url)
        return relay
