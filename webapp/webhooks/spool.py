"""When the database is away (restarting, unreachable), a signed delivery is kept on this machine's disk instead,
and answered 200 all the same: Meta is never told 5xx, and nothing it sent is lost. The webhook-spool worker moves
the files into `webhook_deliveries` once the database answers (the same digest rule: a copy Meta also redelivered
is stored once), then deletes them.

Each file is written under a temporary name, flushed to disk and renamed, so a file under its final name is whole.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from flask import Flask, current_app

from webapp.core import workers

log = logging.getLogger(__name__)

WORKER = "webhook-spool"
SUFFIX = ".delivery"
BATCH = 100


def folder(app: Flask) -> Path:
    return Path(app.config["WEBHOOK_SPOOL_DIR"])


def keep(body: bytes) -> Path:
    """Write the delivery durably; its path. Raises OSError when the disk cannot take it either."""
    target = folder(current_app)
    target.mkdir(parents=True, exist_ok=True)
    path = target / (hashlib.sha256(body).hexdigest() + SUFFIX)
    temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")
    # Customers' messages: readable by the service only.
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
        file.write(body)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    directory = os.open(target, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power loss
    finally:
        os.close(directory)
    return path  # the worker looks every few seconds, and moves it once the database answers


def waiting(app: Flask) -> list[Path]:
    """Spooled deliveries, oldest first."""
    found = []
    try:
        for path in folder(app).glob("*" + SUFFIX):
            try:
                found.append((path.stat().st_mtime, path))
            except FileNotFoundError:  # moved by another process of this machine meanwhile
                continue
    except FileNotFoundError:
        return []
    return [path for _, path in sorted(found)]


def drain(app: Flask, limit: int = BATCH) -> int:
    """The worker's step: store up to `limit` spooled deliveries in the database; how many were moved."""
    from webapp.webhooks import processor, store

    moved = 0
    for path in waiting(app)[:limit]:
        try:
            body = path.read_bytes()
            received = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
        except FileNotFoundError:  # another process of this machine moved it a moment ago
            continue
        store.keep(body, object_type_of(body), received_at=received)  # raises while the database is still away
        path.unlink(missing_ok=True)
        moved += 1
        workers.pause_point()
    if moved:
        workers.wake(processor.WORKER)
        log.info("moved %d spooled webhook deliveries into the database", moved)
    return moved


def object_type_of(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    kind = payload.get("object") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None

