"""Who may see a ticket (product.md, Roles): the one rule, for a single ticket and for lists of tickets.

Admins and supervisors see every ticket. An agent sees the tickets of the departments they belong to and the
tickets assigned to them. Nobody else sees any. Whatever hangs off a ticket (its contact, messages, media) is
visible exactly when the ticket is; what a user may not see answers 404 (webapp/team/access.py).
"""
from __future__ import annotations

from sqlalchemy import Select, false, or_, select

from webapp.team.models import Role, User, user_departments
from webapp.tickets.models import Ticket


def _role(user) -> Role | None:
    """The role of a signed-in, active user; None for the anonymous user and deactivated accounts."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    return getattr(user, "role", None)


def can_see(user: User | None, ticket: Ticket | None) -> bool:
    role = _role(user)
    if ticket is None or role is None:
        return False
    if role in (Role.ADMIN, Role.SUPERVISOR):
        return True
    if role != Role.AGENT:
        return False
    if ticket.assigned_to_id is not None and ticket.assigned_to_id == user.id:
        return True
    return any(department.id == ticket.department_id for department in user.departments)


def visible(query: Select, user: User | None) -> Select:
    """`query` (a select involving Ticket) narrowed to the tickets `user` may see.

    Membership is read in the same statement, so a list is never built from a stale idea of the departments.
    """
    role = _role(user)
    if role in (Role.ADMIN, Role.SUPERVISOR):
        return query
    if role != Role.AGENT:
        return query.where(false())
    memberships = select(user_departments.c.department_id).where(user_departments.c.user_id == user.id)
    return query.where(or_(Ticket.assigned_to_id == user.id, Ticket.department_id.in_(memberships)))
