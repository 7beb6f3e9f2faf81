"""The traffic of bench/faults.py: Meta (the sandbox's control API and Graph, and linking its Loja Demo through
Facebook Login), the load (the sandbox's customers writing numbered DMs at a steady rate), and the page (an admin
signed in through the login form, holding GET /events open and reconnecting as a browser's EventSource does).
"""
from __future__ import annotations

import codecs
import glob
import json
import os
import re
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from http_load import signed_in_cookie
from services import Failure
from webapp.config import SANDBOX_APP_ID, SANDBOX_APP_SECRET
from webapp.meta.client import LOGIN_SCOPES, WEBHOOK_FIELDS

ADMIN_EMAIL, ADMIN_PASSWORD = "faults@direto.local", "faults password 42"
CUSTOMERS = ("ana", "bruno", "carla", "diego", "erica", "fabio")  # the sandbox's seeded customers
BUSINESS = "loja.demo"
TEXT = "fault-run {:06d}"
NUMBERED = re.compile(r"fault-run (\d{6})")
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
SSE_RETRY = 1.0  # seconds before the page reconnects (a browser waits about that, or what `retry:` says)


# ---- the sandbox: Meta ------------------------------------------------------------------------------------------


class Meta:
    """The sandbox's control API and Graph, over HTTP."""

    def __init__(self, url: str):
        self.base = f"{url}/sandbox"
        self.http = requests.Session()

    def api(self, method: str, path: str, **payload) -> dict:
        response = self.http.request(method, f"{self.base}/api/{path}", json=payload if method != "GET" else None,
                                     timeout=30)
        response.raise_for_status()
        return response.json()

    def outbox(self) -> dict:
        """What the sandbox still has to deliver (queued events, deliveries pending or being sent)."""
        return self.api("GET", "deliveries?limit=1")

    def link_page(self, redirect_uri: str, user_name: str = "Dona Demo", page_name: str = "Loja Demo") -> dict:
        """Facebook Login as `user_name` through the dialog's forms, the code exchanged for a long-lived user
        token, the page's token from /me/accounts, and the app subscribed to the page's webhooks."""
        world = self.api("GET", "world")
        user = next(u for u in world["users"] if u["name"] == user_name)
        browser = requests.Session()
        params = {"client_id": SANDBOX_APP_ID, "redirect_uri": redirect_uri, "state": secrets.token_urlsafe(8),
                  "scope": ",".join(LOGIN_SCOPES), "response_type": "code"}
        dialog = browser.get(f"{self.base}/www/v24.0/dialog/oauth", params=params, timeout=30)
        token = CSRF_INPUT.search(dialog.text).group(1)
        browser.post(f"{self.base}/www/dialog/oauth/login", data={**params, "csrf_token": token, "user_id": user["id"]},
                     timeout=30).raise_for_status()
        form = list(params.items()) + [("csrf_token", token), ("action", "continue")]
        form += [("grant", scope) for scope in LOGIN_SCOPES]
        back = browser.post(f"{self.base}/www/dialog/oauth/confirm", data=form, allow_redirects=False, timeout=30)
        code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
        graph = f"{self.base}/graph/v24.0"
        app = {"client_id": SANDBOX_APP_ID, "client_secret": SANDBOX_APP_SECRET}
        short = browser.post(f"{graph}/oauth/access_token", data={**app, "redirect_uri": redirect_uri, "code": code},
                             timeout=30).json()["access_token"]
        long = browser.get(f"{graph}/oauth/access_token", timeout=30, params={
            **app, "grant_type": "fb_exchange_token", "fb_exchange_token": short}).json()["access_token"]
        pages = browser.get(f"{graph}/me/accounts", timeout=30, params={
            "access_token": long, "fields": "id,name,access_token,instagram_business_account{id,username}"}).json()
        page = next(p for p in pages["data"] if p["name"] == page_name)
        subscribed = browser.post(f"{graph}/{page['id']}/subscribed_apps", timeout=30, data={
            "subscribed_fields": ",".join(WEBHOOK_FIELDS), "access_token": page["access_token"]}).json()
        if subscribed.get("success") is not True:
            raise Failure(f"subscribing the app to {page_name} failed: {subscribed}")
        return page


# ---- the load ---------------------------------------------------------------------------------------------------


@dataclass
class Sent:
    number: int
    phase: str
    mid: str


class Load:
    """Customers writing DMs through the sandbox's control API at a steady rate, on a few keep-alive lanes (a slow
    answer on one does not hold the others). Each DM's text carries its number; the sandbox answers its mid."""

    LANES = 3

    def __init__(self, meta: Meta, rate: float):
        self.meta, self.rate = meta, rate
        self.phase = ""
        self.sent: dict[int, Sent] = {}
        self.unsure: dict[int, str] = {}  # number -> what went wrong: the sandbox may or may not have it
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        begin = time.monotonic() + 0.05
        for lane in range(self.LANES):
            thread = threading.Thread(target=self._lane, args=(lane, begin), daemon=True, name=f"load-{lane}")
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def _lane(self, lane: int, begin: float) -> None:
        http = requests.Session()
        index = lane
        while not self.stopping.is_set():
            delay = begin + index / self.rate - time.monotonic()
            if delay > 0 and self.stopping.wait(delay):
                return
            number = index + 1
            phase = self.phase
            payload = {"customer": CUSTOMERS[index % len(CUSTOMERS)], "account": BUSINESS, "kind": "text",
                       "text": TEXT.format(number)}
            try:
                response = http.post(f"{self.meta.base}/api/messages", json=payload, timeout=30)
                if response.status_code == 201:
                    with self.lock:
                        self.sent[number] = Sent(number, phase, response.json()["mid"])
                else:
                    with self.lock:
                        self.unsure[number] = f"HTTP {response.status_code}"
            except requests.RequestException as error:
                with self.lock:
                    self.unsure[number] = type(error).__name__
            index += self.LANES


# ---- the page: one admin's live stream ------------------------------------------------------------------------


def sign_in(url: str) -> str:
    """Sign in through the login form as the run's admin; the Cookie header."""
    try:
        return signed_in_cookie(url, ADMIN_EMAIL, ADMIN_PASSWORD)
    except RuntimeError as error:
        raise Failure(str(error)) from None


class EventStream:
    """text/event-stream parsing as an EventSource does it: fields per line, a blank line dispatches; `id:` sets the
    last event id even on a frame without data (the stream's opening frame names its resume point that way)."""

    def __init__(self):
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.pending = ""
        self.last_id: str | None = None
        self.retry: float | None = None
        self._event, self._data, self._id = "", [], None

    def feed(self, data: bytes) -> list[tuple[str, str, str | None]]:
        self.pending += self.decoder.decode(data)
        dispatched = []
        while True:
            match = re.search(r"\r\n|\r|\n", self.pending)
            if not match:
                return dispatched
            line, self.pending = self.pending[:match.start()], self.pending[match.end():]
            if not line:
                if self._id is not None:
                    self.last_id = self._id
                if self._data:
                    dispatched.append((self._event or "message", "\n".join(self._data), self.last_id))
                self._event, self._data, self._id = "", [], None
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
            elif name == "id" and "\0" not in value:
                self._id = value
            elif name == "retry" and value.isdigit():
                self.retry = int(value) / 1000


class ChunkedBody:
    """Incremental decoding of a chunked HTTP/1.1 body."""

    def __init__(self):
        self.buffer = bytearray()
        self.ended = False

    def feed(self, data: bytes) -> bytes:
        self.buffer += data
        out = bytearray()
        while True:
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            size = int(bytes(self.buffer[:end]).split(b";")[0], 16)
            if size == 0:
                self.ended = True
                break
            if len(self.buffer) < end + 2 + size + 2:
                break
            out += self.buffer[end + 2:end + 2 + size]
            del self.buffer[:end + 2 + size + 2]
        return bytes(out)


class Page(threading.Thread):
    """An agent's open page: GET /events held open, reconnected like an EventSource (with Last-Event-ID) whenever
    the stream ends, and every "dm" frame noted by the DM's number."""

    def __init__(self, url: str, cookie: str):
        super().__init__(daemon=True, name="page")
        self.host, self.port = urlsplit(url).hostname, urlsplit(url).port
        self.cookie = cookie
        self.parser = EventStream()
        self.frames: Counter = Counter()  # number -> dm frames received
        self.tickets: dict[int, int] = {}  # number -> ticket id, from its frame
        self.resyncs: list[int] = []  # event ids the stream resynced at
        self.connects = 0
        self.drops: list[str] = []  # why each stream ended
        self.refused: Counter = Counter()  # answers other than 200 to GET /events
        self.sock: socket.socket | None = None
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._stream()
            except (OSError, ValueError) as error:
                if self.stopping.is_set():
                    return
                self.drops.append(type(error).__name__)
            finally:
                self.connected.clear()
            self.stopping.wait(self.parser.retry or SSE_RETRY)

    def _stream(self) -> None:
        headers = ["GET /events HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: text/event-stream",
                   "Cache-Control: no-cache", f"Cookie: {self.cookie}"]
        if self.parser.last_id is not None:
            headers.append(f"Last-Event-ID: {self.parser.last_id}")
        sock = socket.create_connection((self.host, self.port), timeout=45)  # the server writes every 15 s at least
        with self.lock:
            self.sock = sock
        try:
            sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("closed before answering")
                head += chunk
            head, _, rest = head.partition(b"\r\n\r\n")
            status = head.split(b" ", 2)[1].decode()
            if status != "200":
                self.refused[status] += 1
                if status == "401":
                    raise ValueError("the page's session was refused (401)")
                return
            self.connects += 1
            self.parser.pending, self.parser._event, self.parser._data, self.parser._id = "", "", [], None
            body = ChunkedBody()
            self.connected.set()
            data = rest
            while True:
                for name, payload, event_id in self.parser.feed(body.feed(data)):
                    self._frame(name, payload, event_id)
                if body.ended:
                    self.drops.append("stream ended")
                    return
                data = sock.recv(65536)
                if not data:
                    if not self.stopping.is_set():
                        self.drops.append("connection closed")
                    return
        finally:
            with self.lock:
                self.sock = None
            sock.close()

    def _frame(self, name: str, payload: str, event_id: str | None) -> None:
        if name == "dm":
            found = NUMBERED.search(json.loads(payload).get("text") or "")
            if found:
                number = int(found.group(1))
                self.frames[number] += 1
                self.tickets[number] = json.loads(payload).get("ticket")
        elif name == "resync":
            self.resyncs.append(int(payload))

    def serving_worker(self, workers: set[int]) -> int | None:
        """Which gunicorn worker holds this stream: the server side of our TCP connection, by its socket inode."""
        with self.lock:
            if self.sock is None:
                return None
            local_port = self.sock.getsockname()[1]
        inode = None
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()
            local, remote = parts[1], parts[2]
            if int(local.split(":")[1], 16) == self.port and int(remote.split(":")[1], 16) == local_port:
                inode = parts[9]
        if inode is None:
            return None
        for pid in workers:
            for fd in glob.glob(f"/proc/{pid}/fd/*"):
                try:
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
                except OSError:
                    continue
        return None

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            if self.sock is not None:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.join(10)


