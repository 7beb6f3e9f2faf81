"""Where an inbound message lands: its contact, and the contact's ticket (product.md §2, ticket rules).

Both steps are insert-or-get guarded by unique constraints, so concurrent deliveries for one customer (several
workers, redeliveries) end with one contact and one open ticket.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.connections.models import Connection
from webapp.events import bus
from webapp.extensions import db
from webapp.messages.models import TicketEvent
from webapp.tickets import protocols
from webapp.tickets.models import Contact, Ticket, TicketStatus
from webapp.workspace.store import company_settings


def contact_for(connection: Connection, igsid: str) -> tuple[Contact, bool]:
    """The contact for this IGSID on this connection, created when new; (contact, created)."""
    query = select(Contact).where(Contact.connection_id == connection.id, Contact.igsid == igsid)
    contact = db.session.scalar(query)
    if contact is not None:
        return contact, False
    contact = Contact(connection_id=connection.id, igsid=igsid)
    db.session.add(contact)
    try:
        db.session.commit()
        return contact, True
    except IntegrityError:  # the same customer's other delivery created it a moment ago
        db.session.rollback()
        return db.session.scalar(query), False


def open_ticket_of(contact: Contact) -> Ticket | None:
    return db.session.scalar(select(Ticket).where(Ticket.contact_id == contact.id, Ticket.status != TicketStatus.CLOSED))


def ticket_for(connection: Connection, contact: Contact, now: dt.datetime, starts_in_bot: bool,
               opened_by: str = "customer") -> tuple[Ticket, bool]:
    """Join the contact's ticket that is not closed, or open a new one with a new protocol number in the contact's
    default department (else the connection's), in the bot or in the queue; (ticket, opened).

    The new ticket is committed with its "opened" timeline event and live event, before its first message:
    if the process dies in between, reprocessing the delivery finds the ticket and joins it."""
    ticket = open_ticket_of(contact)
    if ticket is not None:
        return ticket, False
    settings = company_settings()
    ticket = Ticket(
        protocol=protocols.next_protocol(now, settings.protocol_format, settings.time_zone),
        connection_id=connection.id,
        contact_id=contact.id,
        department_id=contact.default_department_id or connection.default_department_id,
        status=TicketStatus.BOT if starts_in_bot else TicketStatus.QUEUED,
        opened_at=now,
        last_message_at=now,
    )
    db.session.add(ticket)
    try:
        db.session.flush()
        db.session.add(TicketEvent(ticket_id=ticket.id, kind="opened", department_id=ticket.department_id,
                                   details={"by": opened_by, "protocol": ticket.protocol}, created_at=now))
        bus.publish("ticket.new", ticket=ticket, protocol=ticket.protocol, status=ticket.status.value)
        db.session.commit()
        return ticket, True
    except IntegrityError:  # another delivery opened it first; its protocol number is simply skipped
        db.session.rollback()
        return open_ticket_of(contact), False
