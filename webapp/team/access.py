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
