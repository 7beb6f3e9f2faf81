"""Instagram connections: the wizard, Facebook Login, page choice, health and reauthorization."""
from __future__ import annotations

from flask import Flask
from flask_login import current_user


def init_app(app: Flask) -> None:
    from webapp.connections import facebook_login

    facebook_login.init_app(app)

    # A function, not a value: the query runs only where layout.html draws the banner, not for every htmx
    # fragment, error page or sign-in page rendered.
    app.jinja_env.globals["connections_needing_reauth"] = connections_needing_reauth


def connections_needing_reauth() -> list:
    """Admins see a banner on every page while a connection needs reauthorization."""
    if not (current_user and current_user.is_authenticated and current_user.is_admin):
        return []
    from sqlalchemy import select

    from webapp.connections.models import Connection, ConnectionStatus
    from webapp.extensions import db

    return db.session.scalars(select(Connection).where(Connection.status == ConnectionStatus.NEEDS_REAUTH)).all()
