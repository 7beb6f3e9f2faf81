"""What one webhook event does to Direto's records (product.md §2): the customer writes, an echo comes back,
a message is unsent, edited, reacted to or seen.

Each event is idempotent: a message is known by (connection, mid), so a redelivered or duplicated event finds
it and changes nothing; a change to a message that is not here yet waits as an EarlyChange. Each customer
message and the bot's answer to it are one transaction.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.bots import runner
from webapp.connections.models import Connection
from webapp.core import workers
from webapp.events import bus
from webapp.extensions import db
from webapp.messages import changes, early
from webapp.messages.models import (
    Author, Direction, EarlyChange, MediaFile, MediaStatus, Message, MessageStatus,
)
from webapp.tickets import intake, profiles, tunnel
from webapp.tickets.models import Contact, Ticket, TicketStatus
from webapp.webhooks import parse

log = logging.getLogger(__name__)

# Outcomes, for the delivery's record and the tests.
NEW, DUPLICATE, APPLIED, WAITING = "new", "duplicate", "applied", "waiting"
DOWNLOADED_KINDS = frozenset({"image", "video", "audio", "file"})  # kept: Meta's CDN links expire
LINK_KINDS = frozenset({"story_mention", "ig_story"})  # shown from their URL, never stored (meta-platform.md §3.4)
MEDIA_WORKER = "media"


def find_message(connection_id: int, mid: str | None) -> Message | None:
    if not mid:
        return None
    return db.session.scalar(select(Message).where(Message.connection_id == connection_id, Message.mid == mid))


def _moment(event: parse.Event, now: dt.datetime) -> dt.datetime:
    """Meta's time for the event; a missing one is now, and one from the future counts as now."""
    return min(event.timestamp, now) if event.timestamp else now


def record(event: parse.Event, connection: Connection, now: dt.datetime, config) -> str:
    if event.kind in parse.CUSTOMER_WRITES:
        return customer_writes(event, connection, now, config)
    if event.kind == parse.ECHO:
        return echo(event, connection, now)
    return change(event, connection, now)


# ---- the customer writes -----------------------------------------------------------------------------


def _details(event: parse.Event) -> dict | None:
    details = {key: value for key, value in (
        ("reply_to_story", event.reply_to_story), ("quick_reply", event.quick_reply_payload),
        ("postback", event.postback), ("referral", event.referral), ("standby", event.standby or None),
        ("unsupported", event.is_unsupported or None),
    ) if value}
    return details or None


def customer_writes(event: parse.Event, connection: Connection, now: dt.datetime, config) -> str:
    if find_message(connection.id, event.mid) is not None:
        return DUPLICATE
    when = _moment(event, now)
    contact, _ = intake.contact_for(connection, event.igsid)
    if contact.profile_checked_at is None:
        # Before the bot greets, so {{nome}} has the name; a refusal or failure is recorded, never raised.
        profiles.fetch(contact, connection, config, now)
    ticket = intake.open_ticket_of(contact)  # most DMs join a conversation under way: no bot to look up
    if ticket is None:
        ticket, _ = intake.ticket_for(connection, contact, now, starts_in_bot=runner.bot_of(connection) is not None)
    message = Message(
        connection_id=connection.id, contact_id=contact.id, ticket_id=ticket.id, mid=event.mid,
        direction=Direction.INBOUND, author=Author.CUSTOMER, kind=event.message_kind, text=event.text,
        attachments=list(event.attachments) or None, details=_details(event), reply_to_mid=event.reply_to_mid,
        sent_at=when, created_at=now, status=MessageStatus.RECEIVED,
    )
    db.session.add(message)
    try:
        db.session.flush()  # the (connection, mid) constraint decides between two deliveries of one message
    except IntegrityError:
        db.session.rollback()
        return DUPLICATE
    _keep_media(message)
    _renew_tunnel(ticket, when, now)
    ticket.last_message_at = max(ticket.last_message_at or when, when)
    if event.referral:
        ticket.referral = event.referral
    early.on_mid_known(message, now)
    bus.publish("message.new", ticket=ticket, message_id=message.id, direction="in")
    if ticket.status == TicketStatus.BOT and not event.standby:
        runner.on_customer_message(ticket, connection, contact, now, event.text,
                                   event.quick_reply_payload or (event.postback or {}).get("payload"))
    db.session.commit()
    return NEW


def _keep_media(message: Message) -> None:
    for position, attachment in enumerate(message.attachments or []):
        kind = attachment.get("type")
        if kind in DOWNLOADED_KINDS and attachment.get("url"):
            status = MediaStatus.PENDING
            workers.wake_after_commit(MEDIA_WORKER)
        elif kind in LINK_KINDS:
            status = MediaStatus.LINK_ONLY
        else:
            continue  # shares, posts and reels are link cards
        db.session.add(MediaFile(message=message, position=position, kind=kind, source_url=attachment.get("url"),
                                 status=status))


def _renew_tunnel(ticket: Ticket, when: dt.datetime, now: dt.datetime) -> None:
    reopens = ticket.tunnel_closes_at is not None and not tunnel.is_open(ticket.tunnel_closes_at, now)
    closes = tunnel.renewed(ticket.tunnel_closes_at, when, now)
    if closes == ticket.tunnel_closes_at:
        return
    ticket.tunnel_closes_at = closes
    ticket.tunnel_notice = None  # a new closing time: its notices are still to come
    ticket.last_customer_message_at = max(ticket.last_customer_message_at or when, when)
    if reopens:
        bus.publish("tunnel.reopened", ticket=ticket, closes_at=closes.isoformat())


# ---- echoes: what the business sent --------------------------------------------------------------------


def echo(event: parse.Event, connection: Connection, now: dt.datetime) -> str:
    ours = find_message(connection.id, event.mid)
    if ours is not None:
        changes.confirm_sent(ours)
        db.session.commit()
        return DUPLICATE if ours.author == Author.INSTAGRAM_APP else APPLIED
    contact, _ = intake.contact_for(connection, event.igsid)
    if early.sending_to(contact.id):
        # A send of ours is waiting for Meta's answer: this may be its echo, arriving first. It waits until the
        # answer names its mid (or the send ends), and only then can become a message "via Instagram".
        early.keep(connection.id, contact.id, "echo", event, _moment(event, now))
        db.session.commit()
        return WAITING
    outcome = written_in_instagram_app(event, connection, contact, now)
    db.session.commit()
    return outcome


def written_in_instagram_app(event: parse.Event, connection: Connection, contact: Contact, now: dt.datetime) -> str:
    """An echo of something sent from the Instagram app: an outbound message "via Instagram". With no ticket open,
    it opens one (Digisac's "active attendance" through the app) whose 24-hour count starts now."""
    when = _moment(event, now)
    ticket, opened = intake.ticket_for(connection, contact, now, starts_in_bot=False, opened_by="instagram_app")
    if opened:
        ticket.tunnel_closes_at = tunnel.closes_at(when, now)
    message = Message(
        connection_id=connection.id, contact_id=contact.id, ticket_id=ticket.id, mid=event.mid,
        direction=Direction.OUTBOUND, author=Author.INSTAGRAM_APP, kind=event.message_kind, text=event.text,
        attachments=list(event.attachments) or None, reply_to_mid=event.reply_to_mid, sent_at=when,
        created_at=now, status=MessageStatus.SENT,
    )
    db.session.add(message)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return DUPLICATE
    ticket.last_message_at = max(ticket.last_message_at or when, when)
    early.on_mid_known(message, now)
    bus.publish("message.new", ticket=ticket, message_id=message.id, direction="out")
    return NEW


# ---- changes to a message: unsend, edit, reaction, seen ---------------------------------------------------


def change(event: parse.Event, connection: Connection, now: dt.datetime) -> str:
    when = event.timestamp or now  # Meta's own, unclamped: it orders a reaction against an unreact
    target = find_message(connection.id, event.mid)
    if target is None:
        contact = db.session.scalar(select(Contact).where(Contact.connection_id == connection.id,
                                                          Contact.igsid == event.igsid))
        early.keep(connection.id, contact.id if contact else None, event.kind, event, when)
        db.session.commit()
        return WAITING
    changes.apply(target, event, when)
    db.session.commit()
    return APPLIED


def forget_early_changes(older_than: dt.datetime) -> int:
    """Changes whose message never came (a message from before the connection was linked): not kept forever."""
    gone = db.session.query(EarlyChange).filter(EarlyChange.kind != "echo", EarlyChange.created_at < older_than)
    count = gone.delete(synchronize_session=False)
    db.session.commit()
    return count
