"""Who may see what. What a user may not see does not exist for them: 404, never 403."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from webapp.team.models import Role


def role_required(*roles: Role):
    """Sign-in first (redirect to login); then a role outside `roles` gets 404."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorate


admin_required = role_required(Role.ADMIN)


def ticket_or_404(ticket_id: int | None):
    """The ticket, if the signed-in user may see it (webapp.tickets.access); 404 otherwise, as if it did not exist.
    Whatever hangs off a ticket (messages, media, files) is looked up through its ticket here."""
    from webapp.extensions import db
    from webapp.tickets import access
    from webapp.tickets.models import Ticket

    ticket = db.session.get(Ticket, ticket_id) if ticket_id is not None else None
    if not access.can_see(current_user, ticket):
        abort(404)
    return ticket
