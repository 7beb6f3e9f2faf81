"""Flask-Login wiring: sessions name a user *and* their session token, and anonymous users are sent to sign in."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from webapp.extensions import db


def init_app(app, login_manager) -> None:
    from webapp.team.models import User

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    # A stolen remember-me cookie stops working when the session token rotates.
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str):
        user_id, _, token = session_id.partition(":")
        if not user_id.isdigit() or not token:
            return None
        user = db.session.get(User, int(user_id))
        if user is None or not user.active or user.session_token != token:
            return None
        return user
