"""History's search as plain rules (no request objects): the filters a URL carries, the tickets they find among
those the user may see, newest first, a page at a time, and the choices the filter form offers.

Pages are keyset pages: "older than ticket 123" reads the next 50 rows from the `opened_at` index wherever it is in
the history, so page 2,000 costs what page 1 costs. The period is a span of local days in the company's time zone
(a ticket opened at 23:30 in São Paulo belongs to that day, whatever the UTC date) and is about when the ticket was
opened.
"""
from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, exists, func, or_, select

from webapp.bots import hours
from webapp.connections.models import Connection
from webapp.extensions import db
from webapp.team.models import Department, User, user_departments
from webapp.tickets import access
from webapp.tickets.models import Contact, Ticket, TicketStatus, ticket_subjects
from webapp.workspace.models import Subject

PAGE_SIZE = 50
DEFAULT_DAYS = 30  # the default period: today and the 29 days before it
TEXT_LIMIT = 100  # the longest protocol or name worth searching for
# Dates outside these years are typing mistakes, and would overflow once moved to UTC.
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(9998, 12, 31)


class Status(str, enum.Enum):
    ALL = "all"
    OPEN = "open"  # not closed yet: with the bot, waiting in a queue, or with an agent
    CLOSED = "closed"


def _date(text: str | None) -> dt.date | None:
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


def read_id(text: str | None) -> int | None:
    """A row id typed in a URL; None for anything else (signs, spaces inside, numbers too large for a key)."""
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def _text(text: str | None) -> str:
    return " ".join((text or "").split())[:TEXT_LIMIT]


@dataclass(frozen=True)
class Filters:
    """What the History list is narrowed to. Every field has a default, so any URL (or none) is a valid search."""

    date_from: dt.date
    date_to: dt.date
    status: Status = Status.ALL
    department_id: int | None = None
    agent_id: int | None = None
    connection_id: int | None = None
    subject_id: int | None = None
    protocol: str = ""  # the beginning of a protocol number
    contact: str = ""  # part of the customer's name or @username

    @classmethod
    def parse(cls, args: Mapping[str, str], today: dt.date) -> Filters:
        """Read the filter form's fields (`from`, `to`, `status`, `department`, `agent`, `connection`, `subject`,
        `protocol`, `contact`); whatever is missing or unreadable falls back to its default."""
        date_to = _date(args.get("to")) or today
        date_from = _date(args.get("from")) or date_to - dt.timedelta(days=DEFAULT_DAYS - 1)
        if date_from > date_to:
            date_from, date_to = date_to, date_from
        try:
            status = Status(args.get("status") or Status.ALL.value)
        except ValueError:
            status = Status.ALL
        return cls(date_from=date_from, date_to=date_to, status=status,
                   department_id=read_id(args.get("department")), agent_id=read_id(args.get("agent")),
                   connection_id=read_id(args.get("connection")), subject_id=read_id(args.get("subject")),
                   protocol=_text(args.get("protocol")).replace(" ", ""), contact=_text(args.get("contact")))

    def query_args(self) -> dict[str, str]:
        """The filters as URL arguments (what `parse` reads back), leaving out those at their default."""
        found = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat(), "status": self.status.value,
                 "department": self.department_id, "agent": self.agent_id, "connection": self.connection_id,
                 "subject": self.subject_id, "protocol": self.protocol, "contact": self.contact}
        return {key: str(value) for key, value in found.items() if value not in (None, "", Status.ALL.value)}

    @property
    def more_than_period(self) -> bool:
        """Whether a filter besides the period and the status is in use (the form shows them open)."""
        return any((self.department_id, self.agent_id, self.connection_id, self.subject_id, self.contact))

    def window(self, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        """The period in UTC: from the first day's local midnight to the midnight after the last day (excluded)."""
        start = dt.datetime.combine(self.date_from, dt.time.min, tzinfo=zone)
        end = dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def zone_named(name: str | None) -> ZoneInfo:
    """The company's zone; the default one if the stored name is unknown to this machine."""
    try:
        return hours.time_zone(name or hours.DEFAULT_TIME_ZONE)
    except Exception:
        return hours.time_zone(hours.DEFAULT_TIME_ZONE)


def today_in(zone: ZoneInfo, now: dt.datetime) -> dt.date:
    return now.astimezone(zone).date()


# ---- the tickets ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One ticket of the list with the names it shows, read in the same statement (no query per row)."""

    ticket: Ticket
    contact_name: str | None
    contact_username: str | None
    department: str | None
    agent: str | None
    connection: str | None
    subjects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int  # tickets matching the filters, on every page
    older: int | None = None  # `before` for the next page (older tickets), when there is one
    newer: int | None = None  # `after` for the previous page (newer tickets), when there is one


def _matching(user: User, filters: Filters, zone: ZoneInfo) -> list:
    """The WHERE clauses of the filters (visibility is added by access.visible)."""
    start, end = filters.window(zone)
    clauses = [Ticket.opened_at >= start, Ticket.opened_at < end]
    if filters.status == Status.OPEN:
        clauses.append(Ticket.status != TicketStatus.CLOSED)
    elif filters.status == Status.CLOSED:
        clauses.append(Ticket.status == TicketStatus.CLOSED)
    if filters.department_id is not None:
        clauses.append(Ticket.department_id == filters.department_id)
    if filters.agent_id is not None:
        clauses.append(Ticket.assigned_to_id == filters.agent_id)
    if filters.connection_id is not None:
        clauses.append(Ticket.connection_id == filters.connection_id)
    if filters.subject_id is not None:
        clauses.append(exists().where(ticket_subjects.c.ticket_id == Ticket.id,
                                      ticket_subjects.c.subject_id == filters.subject_id))
    if filters.protocol:
        clauses.append(Ticket.protocol.startswith(filters.protocol, autoescape=True))
    if filters.contact:
        clauses.append(_of_contacts(filters.contact))
    return clauses


CONTACTS_BY_ID = 1000


def _of_contacts(text: str):
    """Tickets of the contacts whose name or @username contains `text`. The contacts are looked up once, not once
    per query of the page (a search in every name cannot use an index); a very common text stays a subquery."""
    contacts = select(Contact.id).where(Contact.matching(text))
    found = list(db.session.scalars(contacts.limit(CONTACTS_BY_ID + 1)))
    return Ticket.contact_id.in_(found if len(found) <= CONTACTS_BY_ID else contacts)


def _older_than(ticket: tuple[dt.datetime, int]):
    opened_at, ticket_id = ticket
    # The first condition alone is what the index answers; the second breaks ties between equal times.
    return and_(Ticket.opened_at <= opened_at, or_(Ticket.opened_at < opened_at, Ticket.id < ticket_id))


def _newer_than(ticket: tuple[dt.datetime, int]):
    opened_at, ticket_id = ticket
    return and_(Ticket.opened_at >= opened_at, or_(Ticket.opened_at > opened_at, Ticket.id > ticket_id))


def _position(ticket_id: int | None) -> tuple[dt.datetime, int] | None:
    if ticket_id is None:
        return None
    opened_at = db.session.scalar(select(Ticket.opened_at).where(Ticket.id == ticket_id))
    return (opened_at, ticket_id) if opened_at is not None else None


def find(user: User, filters: Filters, zone: ZoneInfo, before: int | None = None, after: int | None = None,
         size: int = PAGE_SIZE) -> Page:
    """A page of the tickets `user` may see that match `filters`, newest first: the first page, the page of those
    older than ticket `before`, or the page of those newer than ticket `after`."""
    clauses = _matching(user, filters, zone)
    total = db.session.scalar(access.visible(select(func.count(Ticket.id)).where(*clauses), user)) or 0
    query = access.visible(
        select(Ticket, Contact.name, Contact.username, Department.name, User.name, Connection.name)
        .join(Contact, Contact.id == Ticket.contact_id)
        .join(Department, Department.id == Ticket.department_id)
        .join(Connection, Connection.id == Ticket.connection_id)
        .outerjoin(User, User.id == Ticket.assigned_to_id)
        .where(*clauses), user)
    newer_than = _position(after) if before is None else None
    if newer_than is not None:  # walking back towards the newest: read upwards, show newest first
        found = list(reversed(db.session.execute(query.where(_newer_than(newer_than))
                                                 .order_by(Ticket.opened_at, Ticket.id).limit(size)).all()))
    else:
        older_than = _position(before)
        if older_than is not None:
            query = query.where(_older_than(older_than))
        found = db.session.execute(query.order_by(Ticket.opened_at.desc(), Ticket.id.desc()).limit(size)).all()
    if not found:
        if total and (before is not None or after is not None):  # a stale cursor: start from the newest again
            return find(user, filters, zone, size=size)
        return Page(rows=[], total=total)
    first, last = (found[0][0].opened_at, found[0][0].id), (found[-1][0].opened_at, found[-1][0].id)
    subjects = _subjects_of([row[0].id for row in found])
    rows = [Row(ticket, name, username, department, agent, connection, subjects.get(ticket.id, []))
            for ticket, name, username, department, agent, connection in found]
    return Page(rows=rows, total=total,
                older=last[1] if _any(clauses, user, _older_than(last)) else None,
                newer=first[1] if _any(clauses, user, _newer_than(first)) else None)


def _any(clauses: list, user: User, beyond) -> bool:
    return db.session.scalar(access.visible(select(Ticket.id).where(*clauses, beyond), user).limit(1)) is not None


def _subjects_of(ticket_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    query = (select(ticket_subjects.c.ticket_id, Subject.name).join(Subject, Subject.id == ticket_subjects.c.subject_id)
             .where(ticket_subjects.c.ticket_id.in_(ticket_ids)).order_by(func.lower(Subject.name)))
    for ticket_id, name in db.session.execute(query):
        found.setdefault(ticket_id, []).append(name)
    return found


# ---- the filter form's choices -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    id: int
    name: str
    active: bool = True


@dataclass(frozen=True)
class Choices:
    departments: list[Choice]
    agents: list[Choice]
    connections: list[Choice]
    subjects: list[Choice]


def choices(user: User) -> Choices:
    """What the selects offer. Everyone who sees every department chooses among all departments and people,
    inactive ones included (the history keeps them); an agent among their own departments and the people who share
    one with them."""
    departments = select(Department.id, Department.name, Department.active)
    people = select(User.id, User.name, User.active)
    if not user.sees_every_department:
        mine = select(user_departments.c.department_id).where(user_departments.c.user_id == user.id)
        departments = departments.where(Department.id.in_(mine))
        colleagues = select(user_departments.c.user_id).where(user_departments.c.department_id.in_(mine))
        people = people.where(or_(User.id == user.id, User.id.in_(colleagues)))
    return Choices(
        departments=_listed(departments.order_by(func.lower(Department.name))),
        agents=_listed(people.order_by(func.lower(User.name), User.id)),
        connections=[Choice(i, name) for i, name in db.session.execute(
            select(Connection.id, Connection.name).order_by(func.lower(Connection.name), Connection.id))],
        subjects=_listed(select(Subject.id, Subject.name, Subject.active).order_by(func.lower(Subject.name))),
    )


def _listed(query: Select) -> list[Choice]:
    return [Choice(i, name, bool(active)) for i, name, active in db.session.execute(query)]
