"""Changes that arrived before their message (Meta does not guarantee order), and echoes waiting for a send.

An unsend, edit, reaction or read whose mid is unknown is kept as an EarlyChange and applied the moment a
message with that mid appears. An echo that arrives while we are sending to the same contact may be our own
message coming back before Meta's answer to the send: it waits until the send ends, so it is never shown twice.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, exists, select

from webapp.extensions import db
from webapp.messages import changes
from webapp.messages.models import Direction, EarlyChange, Message, MessageStatus
from webapp.webhooks import parse

ECHO = "echo"
ECHO_WAIT = dt.timedelta(minutes=2)  # a send's answer that never comes: the echo stops waiting for it


def keep(connection_id: int, contact_id: int | None, kind: str, event: parse.Event, when: dt.datetime) -> None:
    db.session.add(EarlyChange(connection_id=connection_id, contact_id=contact_id, mid=event.mid, kind=kind,
                               payload={"entry_id": event.entry_id, "item": event.item}, happened_at=when))


def _event(row: EarlyChange) -> parse.Event | None:
    event = parse.event_of(row.payload.get("item"), row.payload.get("entry_id", ""))
    return event if isinstance(event, parse.Event) else None


def on_mid_known(message: Message, now: dt.datetime) -> None:
    """Apply, in their order, the changes that came before this message's mid was known. Caller commits."""
    if not message.mid:
        return
    waiting = db.session.scalars(select(EarlyChange).where(EarlyChange.connection_id == message.connection_id,
                                                           EarlyChange.mid == message.mid)
                                 .order_by(EarlyChange.happened_at, EarlyChange.id)).all()
    for row in waiting:
        event = _event(row)
        if event is not None:
            changes.apply(message, event, row.happened_at)
        db.session.delete(row)


def sending_to(contact_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(
        Message.contact_id == contact_id, Message.direction == Direction.OUTBOUND,
        Message.status == MessageStatus.SENDING))))


def _content(text: str | None) -> str:
    return (text or "").strip()


def adopt_echo_by_text(message: Message) -> str | None:
    """For a send whose answer was lost: the mid of a waiting echo to the same contact with the same content
    (an agent's name may have been put before the text). The echo is consumed. Caller sets the mid and commits."""
    echoes = db.session.scalars(select(EarlyChange).where(EarlyChange.contact_id == message.contact_id,
                                                          EarlyChange.kind == ECHO)
                                .order_by(EarlyChange.happened_at, EarlyChange.id)).all()
    ours = _content(message.text)
    for row in echoes:
        event = _event(row)
        if event is None:
            continue
        theirs = _content(event.text)
        same_text = ours and (theirs == ours or theirs.endswith("\n" + ours))
        same_media = not ours and not theirs and event.attachments and message.attachments and \
            event.attachments[0].get("type") == message.attachments[0].get("type")
        if same_text or same_media:
            db.session.delete(row)
            return event.mid
    return None


def settle_echoes(connection_id: int, contact_id: int, now: dt.datetime) -> None:
    """Once nothing is being sent to this contact, waiting echoes that matched no send were written in the
    Instagram app: they become messages "via Instagram". Commits, the caller's pending changes first."""
    if sending_to(contact_id):
        return
    _settle(connection_id, contact_id, now)


def _settle(connection_id: int, contact_id: int, now: dt.datetime) -> None:
    from webapp.connections.models import Connection
    from webapp.messages import inbound
    from webapp.tickets.models import Contact

    echoes = db.session.scalars(select(EarlyChange).where(EarlyChange.contact_id == contact_id,
                                                          EarlyChange.kind == ECHO)
                                .order_by(EarlyChange.happened_at, EarlyChange.id)).all()
    connection, contact = db.session.get(Connection, connection_id), db.session.get(Contact, contact_id)
    db.session.commit()  # the caller's outcome first: each echo below commits (or rolls back) on its own
    for row in echoes:
        event = _event(row)
        db.session.delete(row)
        if event is not None and connection is not None and contact is not None:
            ours = inbound.find_message(connection_id, event.mid)
            if ours is not None:
                changes.confirm_sent(ours)
            else:
                inbound.written_in_instagram_app(event, connection, contact, now)
        db.session.commit()


def settle_stale_echoes(now: dt.datetime) -> int:
    """The sweep: echoes that waited longer than any send takes (the sending process died) are settled."""
    stale = db.session.execute(select(EarlyChange.connection_id, EarlyChange.contact_id).where(
        EarlyChange.kind == ECHO, EarlyChange.created_at < now - ECHO_WAIT).distinct()).all()
    for connection_id, contact_id in stale:
        if contact_id is not None:
            _settle(connection_id, contact_id, now)
    db.session.execute(delete(EarlyChange).where(EarlyChange.kind == ECHO, EarlyChange.contact_id.is_(None)))
    db.session.commit()
    return len(stale)
