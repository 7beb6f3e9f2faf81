"""Injected failures: rate limits, transient errors, dead tokens, HTTP 500, latency, dropped connections.

A fault names an endpoint ("send", "token", "profile", "subscribed_apps", "accounts", "me", "permissions",
"page", "debug_token"), "graph" (every Graph call) or "*" (the same). The most specific matching fault
fires; with a count it fires that many times and then clears itself. Faults are rows, so every worker
process honours them and a count is consumed atomically.
"""
from __future__ import annotations

import socket
import time

from sqlalchemy import delete, select, update

from .errors import DEFAULT_SUBCODE, GraphError
from .models import Fault
from .runtime import Sandbox

ENDPOINTS = ("send", "token", "debug_token", "me", "accounts", "permissions", "page", "profile",
             "subscribed_apps", "graph", "*")


class DroppedConnection(Exception):
    """Close the client's socket without any response (see drop_connection)."""


def parse(body: dict) -> Fault:
    """Validate a fault from the control API; raises ValueError with a readable message."""
    endpoint = str(body.get("endpoint", "*"))
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}")
    code, subcode = body.get("code"), body.get("subcode")
    if isinstance(body.get("error"), (str, int)):  # shorthand: "613", "190/463"
        parts = str(body["error"]).split("/")
        code, subcode = int(parts[0]), int(parts[1]) if len(parts) > 1 else None
    if code is not None:
        code = int(code)
        subcode = int(subcode) if subcode is not None else DEFAULT_SUBCODE.get(code)
    http_status = body.get("http_status")
    drop = bool(body.get("drop", False))
    latency = int(body.get("latency_ms", 0) or 0)
    if code is None and http_status is None and not drop and not latency:
        raise ValueError("a fault needs code, http_status, drop or latency_ms")
    count = body.get("count")
    return Fault(endpoint=endpoint, code=code, subcode=subcode, message=body.get("message"),
                 http_status=int(http_status) if http_status else None, latency_ms=latency, drop=drop,
                 remaining=int(count) if count is not None else None, fired=0)


def as_dict(fault: Fault) -> dict:
    return {"id": fault.id, "endpoint": fault.endpoint, "code": fault.code, "subcode": fault.subcode,
            "message": fault.message, "http_status": fault.http_status, "latency_ms": fault.latency_ms,
            "drop": fault.drop, "remaining": fault.remaining, "fired": fault.fired}


def _take(sandbox: Sandbox, names: list[str]) -> Fault | None:
    """The most specific active fault for these endpoint names, consuming one of its count."""
    with sandbox.store.tx() as session:
        faults = session.scalars(select(Fault).where(Fault.endpoint.in_(names)).order_by(Fault.id)).all()
        for name in names:
            for fault in (f for f in faults if f.endpoint == name):
                if fault.remaining is None:
                    session.execute(update(Fault).where(Fault.id == fault.id).values(fired=Fault.fired + 1))
                    return fault
                # Atomic decrement: two processes cannot both consume the last firing.
                taken = session.execute(
                    update(Fault).where(Fault.id == fault.id, Fault.remaining > 0)
                    .values(remaining=Fault.remaining - 1, fired=Fault.fired + 1)
                ).rowcount
                if taken:
                    session.execute(delete(Fault).where(Fault.id == fault.id, Fault.remaining <= 0))
                    return fault
    return None


def check(sandbox: Sandbox, endpoint: str) -> None:
    """Called at the start of every Graph request; raises what the active fault asks for."""
    fault = _take(sandbox, [endpoint, "graph", "*"])
    if fault is None:
        return
    if fault.latency_ms:
        time.sleep(fault.latency_ms / 1000)  # under gevent this yields to other greenlets
    if fault.drop:
        raise DroppedConnection()
    if fault.code is not None:
        status = fault.http_status or 400
        raise GraphError(fault.code, fault.subcode, fault.message, status=status)
    if fault.http_status:
        raise GraphError(2, None, fault.message, status=fault.http_status)


def drop_connection(environ: dict) -> None:
    """Shut the TCP connection down under the server's feet, so the client sees no response at all.

    werkzeug's server exposes the socket as `werkzeug.socket`, gunicorn as `gunicorn.socket`. Without a
    socket (Flask's test client) the exception propagates, which a test client reports as a failure too.
    """
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    if sock is None:
        raise ConnectionAbortedError("sandbox fault: connection dropped")
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
