"""What the ingest benchmark sends and how: Meta-shaped signed deliveries, and a cheap keep-alive HTTP client.

The client shares the machine with the server, so it does as little as it can while the clock runs: every request
is built (JSON, signature, HTTP head) before a phase starts, and one thread drives all connections with a selector.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import secrets
import selectors
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from webapp.meta.signatures import sign

TEXTS = (
    "Olá! Vocês têm esse tênis no número 38? 👟",
    "Bom dia, qual é o prazo de entrega para São Paulo?",
    "Meu pedido ainda não chegou 😕 já faz uma semana",
    "Vocês aceitam Pix? Quero fechar a compra hoje",
    "Oi, tudo bem? Gostaria de trocar a camiseta por um tamanho maior",
    "Qual o horário de atendimento da loja física em Florianópolis?",
    "Amei o produto!!! ❤️ Chegou certinho, obrigada",
    "A promoção de 20% ainda está valendo? 🔥",
    "Preciso da nota fiscal do pedido, por favor",
    "Vocês entregam em Ribeirão Preto? É urgente 🙏",
    "Tem na cor azul-marinho também?",
    "Não consigo finalizar o pagamento no cartão, dá erro",
)
CUSTOMERS = 5000  # distinct IGSIDs writing to the business
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class Deliveries:
    """Bodies as Meta posts them for Instagram DMs (meta-platform.md §3): every one unique, all signed."""

    def __init__(self, account_id: str, app_secret: str, host: str, seed: int = 7):
        self.account_id, self.app_secret, self.host = account_id, app_secret, host
        self.rng = random.Random(seed)
        self.customers = [str(self.rng.randrange(10**15, 10**16)) for _ in range(CUSTOMERS)]
        self.nonce = secrets.token_hex(4)  # mids differ from any earlier run's
        self.counter = 0
        self.base_ms = int(time.time() * 1000)

    def event(self) -> dict:
        self.counter += 1
        raw_id = f"ig_item:1:IGMessageID:{self.account_id}:{self.nonce}{self.counter:012d}"
        text = self.rng.choice(TEXTS)
        if self.rng.random() < 0.3:
            text += f" (pedido nº {self.rng.randrange(10000, 99999)})"
        return {
            "sender": {"id": self.rng.choice(self.customers)},
            "recipient": {"id": self.account_id},
            "timestamp": self.base_ms + self.counter,  # one millisecond apart: unique, and in order
            "message": {"mid": base64.urlsafe_b64encode(raw_id.encode()).rstrip(b"=").decode(), "text": text},
        }

    def body(self, events: int) -> bytes:
        """One POST's bytes; a batch spreads its events over entries of one to five, as Meta may."""
        entries, left = [], events
        while left:
            messaging = [self.event() for _ in range(min(left, self.rng.randint(1, 5)))]
            left -= len(messaging)
            entries.append({"id": self.account_id, "time": messaging[-1]["timestamp"] + self.rng.randrange(20, 900),
                            "messaging": messaging})
        payload = {"object": "instagram", "entry": entries}
        return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode()

    def requests(self, path: str, count: int, events: int) -> list[bytes]:
        """`count` complete HTTP/1.1 requests, ready to write to a socket."""
        built = []
        for _ in range(count):
            body = self.body(events)
            head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: facebookexternalua\r\n"
                    f"Content-Type: application/json\r\nX-Hub-Signature-256: {sign(body, self.app_secret)}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n")
            built.append(head.encode() + body)
        return built


def body_digest(request: bytes) -> str:
    """The digest the store keeps for the body inside a built request."""
    return hashlib.sha256(request[request.index(b"\r\n\r\n") + 4:]).hexdigest()


@dataclass
class PhaseResult:
    accepted: list[int] = field(default_factory=list)  # indexes of the requests answered 200
    seconds: float = 0.0
    client_cpu: float = 0.0  # seconds of CPU this process spent driving the phase
    statuses: Counter = field(default_factory=Counter)  # of every answer
    lost: int = 0  # requests whose connection dropped before an answer (a worker killed mid-request)
    latencies: list[float] = field(default_factory=list)
    reconnects: int = 0
    error_sample: bytes = b""  # the first answer that was not a 200
    ran_out: bool = False  # every prepared request was sent before the time was up

    @property
    def failures(self) -> int:
        return sum(self.statuses.values()) - self.statuses[200] + self.lost

    @property
    def rate(self) -> float:
        """Accepted requests per second."""
        return len(self.accepted) / self.seconds if self.seconds else 0.0

    def latency_ms(self, quantile: float) -> float:
        if len(self.latencies) < 2:
            return 0.0
        return statistics.quantiles(self.latencies, n=100)[int(quantile * 100) - 1] * 1000


class _Connection:
    def __init__(self, address):
        self.address = address
        self.sock = self._connect()
        self.buffer = b""
        self.in_flight = -1  # index of the request waiting for its answer
        self.sent_at = 0.0

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def reconnect(self) -> None:
        self.sock.close()
        self.sock = self._connect()
        self.buffer = b""


def drive(address: tuple[str, int], requests: list[bytes], concurrency: int, seconds: float) -> PhaseResult:
    """Send `requests` in order over `concurrency` keep-alive connections, one in flight on each, until the time
    is up or the list is spent."""
    result = PhaseResult()
    selector = selectors.DefaultSelector()
    upcoming = 0

    def send_next(conn: _Connection) -> bool:
        nonlocal upcoming
        if upcoming >= len(requests) or time.perf_counter() >= deadline:
            result.ran_out = result.ran_out or upcoming >= len(requests)
            selector.unregister(conn.sock)
            return False
        conn.in_flight, conn.sent_at = upcoming, time.perf_counter()
        try:
            conn.sock.sendall(requests[upcoming])
        except ConnectionError:  # the server dropped the connection between requests: it never saw this one
            start_over(conn)
            conn.sock.sendall(requests[upcoming])
        upcoming += 1
        return True

    def start_over(conn: _Connection) -> None:
        selector.unregister(conn.sock)
        conn.reconnect()
        selector.register(conn.sock, selectors.EVENT_READ, conn)
        result.reconnects += 1

    connections = [_Connection(address) for _ in range(min(concurrency, len(requests)))]
    cpu_start = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    for conn in connections:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    in_flight = sum(send_next(conn) for conn in connections)
    try:
        while in_flight:
            ready = selector.select(timeout=60)
            if not ready:
                raise TimeoutError(f"no answer from the server in 60 s ({in_flight} requests in flight)")
            for key, _ in ready:
                conn = key.data
                try:
                    chunk = conn.sock.recv(262144)
                except ConnectionError:
                    chunk = b""
                if not chunk:  # dropped with a request in flight: count it, and go on over a new connection
                    result.lost += 1
                    start_over(conn)
                    in_flight -= not send_next(conn)
                    continue
                conn.buffer += chunk
                answer = _complete_response(conn.buffer)
                if answer is None:
                    continue
                status, closing = answer
                result.latencies.append(time.perf_counter() - conn.sent_at)
                result.statuses[status] += 1
                if status == 200:
                    result.accepted.append(conn.in_flight)
                elif not result.error_sample:
                    result.error_sample = conn.buffer[:400]
                conn.buffer = b""
                if closing:  # the server ended keep-alive: carry on over a new connection
                    start_over(conn)
                in_flight -= not send_next(conn)
    finally:
        result.seconds = time.perf_counter() - start
        result.client_cpu = time.process_time() - cpu_start
        for conn in connections:
            conn.sock.close()
        selector.close()
    return result


def _complete_response(buffer: bytes) -> tuple[int, bool] | None:
    """(status, server closes) once `buffer` holds a whole response, else None."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = buffer[:head_end]
    length = CONTENT_LENGTH.search(head)
    if length is None:
        raise ValueError(f"response without Content-Length: {head[:200]!r}")
    if len(buffer) < head_end + 4 + int(length.group(1)):
        return None
    return int(head[9:12]), b"\r\nconnection: close" in head.lower()


# ---- running a benchmark ------------------------------------------------------------------------------


def in_workdir(run: Callable, args, prefix: str):
    """Run `run(args, workdir)` in a fresh temporary folder (removed after, unless --keep); a server that did not
    start, stopped answering or went away is reported as FAILED and gives None."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server is stopped on kill too
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return run(args, workdir)
    except (OSError, RuntimeError) as error:
        print(f"\nFAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return None
    finally:
        if args.keep:
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def entry_point(main: Callable[[], int]) -> None:
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted (the server was stopped)")


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def signed_in_cookie(base_url: str, email: str, password: str) -> str:
    """Sign in through the login form as a browser does (CSRF token from the page); the Cookie header to reuse.
    Raises RuntimeError when the form does not let us in."""
    import requests

    with requests.Session() as session:
        token = CSRF_META.search(session.get(f"{base_url}/login", timeout=30).text).group(1)
        answer = session.post(f"{base_url}/login", data={"email": email, "password": password, "csrf_token": token},
                              allow_redirects=False, timeout=30)
        if answer.status_code != 302:
            raise RuntimeError(f"signing in failed: {answer.status_code}")
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in session.cookies)
