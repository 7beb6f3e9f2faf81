"""GET /events: the live updates of one signed-in tab, as server-sent events (product.md §4, Live updates).

The page names the last event it saw, `?after=<id>` (a new EventSource, opened after an error, sends no
Last-Event-ID) or the browser's own `Last-Event-ID` (the larger wins); the stream first replays what it missed, then
goes on live. Every frame carries its event's id; a comment every SSE_HEARTBEAT seconds keeps proxies from closing
an idle stream and finds dead clients. The hub (webapp.events.stream) decides who hears what; this module writes.
"""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, request
from flask_login import current_user

from webapp.events import audience, stream

bp = Blueprint("events", __name__)

KEEPALIVE = b": keepalive\n\n"


@bp.get("/events")
def events():
    if not current_user.is_authenticated:
        # An EventSource cannot show a sign-in page: a 401 ends its retries, and the next page load signs in.
        return Response("Sign in to receive live updates.\n", 401, mimetype="text/plain")
    listener = audience.listener_for(current_user)
    hub = stream.hub_for(current_app._get_current_object())
    if hub.stopping():
        return Response("Restarting.\n", 503, mimetype="text/plain", headers={"Retry-After": "2"})
    response = Response(_stream(hub, listener, resume_point()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx would otherwise hold the frames back
    return response


def resume_point() -> int | None:
    """The last event id the page saw: the larger of `?after=` and `Last-Event-ID`; None when it names none."""
    found = [int(value) for value in (request.args.get("after", ""), request.headers.get("Last-Event-ID", ""))
             if value.strip().isascii() and value.strip().isdigit()]
    return max(found) if found else None


def _stream(hub: stream.Hub, listener: audience.Listener, after: int | None):
    """The body of one stream. It registers with the hub before reading what was missed, so an event committed
    in between comes twice at most, and is sent once: by id."""
    hub.check_ids()
    if not hub.listen(listener):
        return
    try:
        cursor, missed = hub.catch_up(listener, after)
        replayed = {event_id for event_id, _ in missed}
        # The opening also names the resume point, so the browser's own reconnect carries it (no event fires).
        yield b"".join(chunk for _, chunk in missed) + f"id: {cursor}\n\n".encode()
        last_write = time.monotonic()
        while not listener.closed:
            listener.woken.wait(max(0.0, last_write + hub.heartbeat - time.monotonic()))
            listener.woken.clear()
            if listener.closed:
                return
            out = []
            for item in listener.take():
                chunk = item.chunks.get(listener.language) or next(iter(item.chunks.values()), b"")
                if item.resync:
                    cursor, replayed, chunk = item.id, set(), audience.resync_frame(item.id)
                elif item.late:
                    # Committed after later ids were sent (PostgreSQL): sent now, under the resume point, so a
                    # reconnect neither repeats nor skips anything.
                    if item.id in replayed:
                        continue
                    frames = item.frames.get(listener.language) or next(iter(item.frames.values()), [])
                    chunk = audience.encode(cursor, frames)
                elif item.id <= cursor:
                    continue
                else:
                    cursor = item.id
                out.append(chunk)
            if any(out):
                yield b"".join(out)
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= hub.heartbeat:
                yield KEEPALIVE
                last_write = time.monotonic()
    finally:
        hub.forget(listener)
