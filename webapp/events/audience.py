"""Who hears a live event, and how it is written on the wire: the part of the live stream that knows no hub.

An event's audience comes from its ticket's current department and assignee (webapp.tickets.access is the rule);
each open stream is a Listener that checks it in memory, so an idle page costs a few hundred bytes and a broadcast
to thousands of them is a loop over a list.
"""
from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from webapp.events.models import LiveEvent
from webapp.extensions import db

MAX_WAITING = 5000  # items waiting for a stream that does not take them: it is closed, and its page catches up
LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Audience:
    """Who may hear an event, besides admins and supervisors (who hear everything)."""

    everyone: bool = False
    departments: frozenset[int] = frozenset()
    users: frozenset[int] = frozenset()


@dataclass(slots=True)
class Item:
    """A live event ready to send: its frames encoded once per language that a listener needed."""

    id: int
    audience: Audience
    chunks: dict[str, bytes]  # language -> the encoded frames, `id: <event id>` on each
    frames: dict[str, list[tuple[str, str]]]
    late: bool = False  # committed after events with higher ids had been sent (a gap filled)
    resync: bool = False  # the ids started over: the stream resyncs at `id`


@dataclass(eq=False, slots=True)
class Listener:
    """One open stream: who listens, and what waits to be sent to them."""

    user_id: int
    session_token: str
    language: str
    sees_all: bool
    departments: frozenset[int]
    inbox: deque = field(default_factory=deque)
    woken: threading.Event = field(default_factory=threading.Event)
    closed: bool = False

    def hears(self, audience: Audience) -> bool:
        return (self.sees_all or audience.everyone or self.user_id in audience.users
                or not self.departments.isdisjoint(audience.departments))

    def deliver(self, items: list[Item]) -> None:
        if self.closed:
            return
        self.inbox.extend(items)
        if len(self.inbox) > MAX_WAITING:  # a client that stopped reading: it reconnects and catches up
            self.inbox.clear()
            self.closed = True
        self.woken.set()

    def close(self) -> None:
        self.closed = True
        self.woken.set()

    def take(self) -> list[Item]:
        items = []
        while self.inbox:
            items.append(self.inbox.popleft())
        return items


def listener_for(user) -> Listener:
    return Listener(user_id=user.id, session_token=user.session_token, language=user.language,
                    sees_all=user.sees_every_department, departments=frozenset(d.id for d in user.departments))


# ---- frames -------------------------------------------------------------------------------------


def encode(event_id: int, frames: Iterable[tuple[str, str]]) -> bytes:
    """SSE frames: one `data:` line per line of the data (the spec joins them back with newlines)."""
    parts = []
    for name, data in frames:
        lines = "".join(f"data: {line}\n" for line in LINE_BREAK.split(data))
        parts.append(f"id: {event_id}\nevent: {name}\n{lines}\n")
    return "".join(parts).encode()


def resync_frame(event_id: int) -> bytes:
    """Too much was missed to replay: the page reloads its fragments, and the stream goes on from `event_id`."""
    return encode(event_id, [("resync", str(event_id))])


def read_events(*where, limit: int) -> tuple[list[LiveEvent], list]:
    """Live events in id order, and their tickets: read in one query, and kept in the session for who may hear
    them (`audiences`) and their frames. Hold on to the tickets while using the events (the session keeps weak
    references only)."""
    from webapp.tickets.models import Ticket

    query = (select(LiveEvent, Ticket).outerjoin(Ticket, Ticket.id == LiveEvent.ticket_id).where(*where)
             .order_by(LiveEvent.id).limit(limit))
    pairs = db.session.execute(query).all()
    return [event for event, _ in pairs], [ticket for _, ticket in pairs if ticket is not None]


def audiences(rows: list[LiveEvent]) -> dict[int, Audience]:
    """Who may hear each row, from its ticket's current department and assignee (read with it: `read_events`).

    "ticket.left" reaches the department (and agent) a transfer took the ticket from, instead: it says only that
    their lists changed. Events without a ticket go to their department's agents, or, without one (a connection's
    status), to those who see every department.
    """
    from webapp.tickets.models import Ticket

    found = {}
    for row in rows:
        if row.ticket_id is None:
            found[row.id] = Audience(departments=frozenset({row.department_id} - {None}))
            continue
        if row.kind == "ticket.left":
            departments, users = {row.department_id}, {(row.payload or {}).get("from_user")}
        else:
            ticket = db.session.get(Ticket, row.ticket_id)
            departments = {ticket.department_id if ticket else None}
            users = {ticket.assigned_to_id if ticket else None}
        found[row.id] = Audience(departments=frozenset(departments - {None}), users=frozenset(users - {None}))
    return found
