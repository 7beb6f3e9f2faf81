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
    _tell_open_pages_of_status_changes()


def _tell_open_pages_of_status_changes() -> None:
    """Every change of a connection's status (linked, needs reauthorization, disconnected) is a live event, in the
    transaction that makes it: open pages show or drop the reauthorization banner without a reload."""
    from sqlalchemy import event
    from sqlalchemy.orm.base import NO_VALUE

    from webapp.connections.models import Connection
    from webapp.events import bus

    if getattr(Connection, "_status_events", False):
        return

    @event.listens_for(Connection.status, "set")
    def _status_set(connection, value, old, _initiator):
        if connection.id is not None and old not in (NO_VALUE, None) and value != old:
            bus.publish("connection.status", connection_id=connection.id, status=getattr(value, "value", value))

    Connection._status_events = True


def connections_needing_reauth() -> list:
    """Admins see a banner on every page while a connection needs reauthorization."""
    if not (current_user and current_user.is_authenticated and current_user.is_admin):
        return []
    from sqlalchemy import select

    from webapp.connections.models import Connection, ConnectionStatus
    from webapp.extensions import db

    return db.session.scalars(select(Connection).where(Connection.status == ConnectionStatus.NEEDS_REAUTH)).all()
