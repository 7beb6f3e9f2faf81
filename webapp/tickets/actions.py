"""What agents do to a ticket (product.md §4): accept, reply, comment, transfer and close.

Plain rules over the session, tested without HTTP; each records its step in the ticket's timeline and tells the
open pages (webapp.events.bus) in the same transaction. The caller commits. A refusal raises `Refused` with words
for the person, before anything changed.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from flask_babel import gettext
from sqlalchemy import select, update

from webapp.events import bus
from webapp.extensions import db
from webapp.messages import outbound, sender
from webapp.messages.models import Author, Message, TicketEvent
from webapp.team.models import Department, User
from webapp.tickets import access, tunnel
from webapp.tickets.models import WAITING, Ticket, TicketStatus
from webapp.workspace.models import Subject
from webapp.workspace.store import company_settings

COMMENT_LIMIT = 4000


class Refused(Exception):
    """The action is not allowed as asked; `str()` says why, in the reader's language. `field` names the form
    field at fault, when one is."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def handled_by_someone_else(ticket: Ticket, user: User) -> bool:
    return ticket.status == TicketStatus.OPEN and ticket.assigned_to_id not in (None, user.id)


def may_answer(ticket: Ticket, user: User) -> bool:
    """Agents answer waiting tickets and their own; supervisors and admins answer any open ticket."""
    if ticket.status == TicketStatus.CLOSED or not access.can_see(user, ticket):
        return False
    return user.sees_every_department or not handled_by_someone_else(ticket, user)


def _record(ticket: Ticket, kind: str, user: User | None, now: dt.datetime, department_id: int | None = None,
            **details) -> TicketEvent:
    event = TicketEvent(ticket_id=ticket.id, kind=kind, actor_id=user.id if user else None,
                        department_id=department_id, details=details or None, created_at=now)
    db.session.add(event)
    db.session.flush()
    return event


def _not_closed(ticket: Ticket) -> None:
    if ticket.status == TicketStatus.CLOSED:
        raise Refused(gettext("This ticket is closed."))


def _unchanged_since_read(ticket: Ticket) -> None:
    """Hold the ticket as it was read, or refuse: of two agents taking, transferring or closing the same ticket at
    once, the second finds it changed (the UPDATE waits for the first's commit, then matches nothing)."""
    held = db.session.execute(
        update(Ticket).where(
            Ticket.id == ticket.id, Ticket.status == ticket.status, Ticket.department_id == ticket.department_id,
            Ticket.assigned_to_id.is_(None) if ticket.assigned_to_id is None
            else Ticket.assigned_to_id == ticket.assigned_to_id)
        .values(status=ticket.status).execution_options(synchronize_session=False)
    ).rowcount == 1
    if not held:
        db.session.rollback()
        raise Refused(gettext("Someone else changed this ticket a moment ago. Look at it again."))


def accept(ticket: Ticket, user: User, now: dt.datetime) -> bool:
    """Take the ticket (the *Atender* button, or the first answer to a waiting ticket): it leaves the queue, or the
    bot, and becomes this user's chat. Supervisors may take a chat over from another agent; agents may not."""
    _not_closed(ticket)
    if ticket.status == TicketStatus.OPEN and ticket.assigned_to_id == user.id:
        return False
    if handled_by_someone_else(ticket, user) and not user.sees_every_department:
        raise Refused(gettext("Another agent is already handling this ticket."))
    _unchanged_since_read(ticket)
    previous = ticket.assigned_to_id
    ticket.status, ticket.assigned_to_id, ticket.accepted_at = TicketStatus.OPEN, user.id, now
    ticket.bot_deadline_at = None  # the bot stops waiting for an answer: a person took over
    event = _record(ticket, "accepted", user, now, ticket.department_id, **({"from_user": previous} if previous else {}))
    bus.publish("ticket.accepted", ticket=ticket, user_id=user.id, event_id=event.id)
    return True


def reply(ticket: Ticket, user: User, text: str, now: dt.datetime) -> Message:
    """An agent's text, stored for the sender. Answering a waiting ticket takes it first (as in Digisac)."""
    text = (text or "").strip()
    if not text:
        raise Refused(gettext("Write a message first."), "text")
    check_can_send(ticket, user, now, text=text)
    take_if_waiting(ticket, user, now)
    return outbound.queue(ticket, author=Author.AGENT, author_id=user.id, now=now, text=text)


def check_can_send(ticket: Ticket, user: User, now: dt.datetime, text: str | None = None,
                   field: str = "text") -> None:
    """What every send of an agent's (text, file, caption) must pass before anything is stored: an open ticket
    this user may answer, an open tunnel (so Meta is never asked), and a text within Instagram's byte limit."""
    if ticket.status == TicketStatus.CLOSED:
        raise Refused(gettext("This ticket is closed."), field)
    if not may_answer(ticket, user):
        raise Refused(gettext("Another agent is already handling this ticket."), field)
    if not tunnel.is_open(ticket.tunnel_closes_at, now):
        raise Refused(gettext("Messages can only be sent while the tunnel is open"), field)
    if text is not None:
        limit, size = text_limit(user), len(text.encode("utf-8"))
        if size > limit:
            raise Refused(gettext("Instagram accepts at most %(limit)d bytes in a message; this one has %(size)d.",
                                  limit=limit, size=size), field)


def take_if_waiting(ticket: Ticket, user: User, now: dt.datetime) -> None:
    """Answering a ticket still in the queue (or with the bot) takes it."""
    if ticket.status in WAITING:
        accept(ticket, user, now)


def text_limit(user: User, limit: int = 1000) -> int:
    """Bytes left for the agent's own words once the company's "*Name:*" line is counted (Instagram's limit is
    on the whole text)."""
    if not company_settings().agent_name_in_messages:
        return limit
    return limit - len(f"*{user.name}:*\n".encode("utf-8"))


def retry(message: Message, user: User, now: dt.datetime) -> bool:
    """The retry button under a failed message: queued again, never a second copy (webapp.messages.sender)."""
    ticket = db.session.get(Ticket, message.ticket_id)
    _not_closed(ticket)
    if not may_answer(ticket, user):
        raise Refused(gettext("Another agent is already handling this ticket."))
    return sender.retry(message, now)


def comment(ticket: Ticket, user: User, text: str, now: dt.datetime) -> TicketEvent:
    """An internal note: shown to the team in the timeline, never sent to the customer. Possible whatever the
    tunnel, and on closed tickets too (notes about what happened)."""
    text = (text or "").strip()
    if not text:
        raise Refused(gettext("Write a comment first."), "text")
    if len(text) > COMMENT_LIMIT:
        raise Refused(gettext("A comment has at most %(limit)d characters.", limit=COMMENT_LIMIT), "text")
    event = _record(ticket, "comment", user, now, text=text)
    bus.publish("ticket.comment", ticket=ticket, event_id=event.id)
    return event


def transfer(ticket: Ticket, user: User, department: Department | None, agent: User | None, note: str | None,
             now: dt.datetime) -> None:
    """To a department (required) and optionally one of its agents; without an agent it waits in that
    department's queue. The comment, when given, joins the timeline with the transfer."""
    _not_closed(ticket)
    if not may_answer(ticket, user):
        raise Refused(gettext("Another agent is already handling this ticket."))
    if department is None or not department.active:
        raise Refused(gettext("Choose a department."), "department")
    if agent is not None and (not agent.active or department not in agent.departments):
        raise Refused(gettext("%(name)s is not an agent of %(department)s.", name=agent.name,
                              department=department.name), "agent")
    note = (note or "").strip() or None
    if note and len(note) > COMMENT_LIMIT:
        raise Refused(gettext("A comment has at most %(limit)d characters.", limit=COMMENT_LIMIT), "comment")
    _unchanged_since_read(ticket)
    from_department, from_agent = ticket.department_id, ticket.assigned_to_id
    ticket.department_id = department.id
    ticket.bot_deadline_at = None
    if agent is not None:
        ticket.status, ticket.assigned_to_id, ticket.accepted_at = TicketStatus.OPEN, agent.id, now
    else:
        ticket.status, ticket.assigned_to_id = TicketStatus.QUEUED, None
    event = _record(ticket, "transferred", user, now, department.id, from_department=from_department,
                    from_user=from_agent, to_user=agent.id if agent else None, comment=note)
    bus.publish("ticket.transferred", ticket=ticket, from_department=from_department, from_user=from_agent,
                to_user=agent.id if agent else None, event_id=event.id)
    if from_department != department.id or from_agent not in (None, ticket.assigned_to_id):
        # Those who had it hear that it left (their lists change), and nothing of what it says: they may no
        # longer see the ticket, nor the comment that went with it.
        bus.publish("ticket.left", ticket=ticket, department_id=from_department, from_user=from_agent)


def close(ticket: Ticket, user: User, subject_ids: Iterable[int], note: str | None, now: dt.datetime) -> None:
    """Close with the chosen subjects (required when the company says so and there are subjects to choose) and
    a comment. The next customer message opens a new ticket with a new protocol."""
    _not_closed(ticket)
    if not may_answer(ticket, user):
        raise Refused(gettext("Another agent is already handling this ticket."))
    wanted = {int(i) for i in subject_ids}
    subjects = list(db.session.scalars(select(Subject).where(Subject.id.in_(wanted), Subject.active))) if wanted else []
    if len(subjects) != len(wanted):
        raise Refused(gettext("Choose subjects from the list."), "subjects")
    if not subjects and company_settings().subject_required_on_close and \
            db.session.scalar(select(Subject.id).where(Subject.active).limit(1)) is not None:
        raise Refused(gettext("Choose at least one subject to close the ticket."), "subjects")
    note = (note or "").strip() or None
    if note and len(note) > COMMENT_LIMIT:
        raise Refused(gettext("A comment has at most %(limit)d characters.", limit=COMMENT_LIMIT), "comment")
    _unchanged_since_read(ticket)
    ticket.status, ticket.closed_at, ticket.closed_by_id = TicketStatus.CLOSED, now, user.id
    ticket.bot_deadline_at = None
    if ticket.assigned_to_id is None:
        ticket.assigned_to_id = user.id  # who closed a waiting ticket handled it: History shows them
    ticket.subjects = subjects
    event = _record(ticket, "closed", user, now, ticket.department_id, subjects=[s.name for s in subjects],
                    comment=note)
    bus.publish("ticket.closed", ticket=ticket, user_id=user.id, event_id=event.id)
