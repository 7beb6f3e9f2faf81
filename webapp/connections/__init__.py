"""Instagram connections: the wizard, Facebook Login, page choice, health and reauthorization."""
from __future__ import annotations

from flask import Flask
from flask_login import current_user


def init_app(app: Flask) -> None:
    from webapp.connections import facebook_login

    facebook_login.init_app(app)

    @app.context_processor
    def connections_needing_reauth():
        """Admins see a banner on every page while a connection needs reauthorization."""
        if not (current_user and current_user.is_authenticated and current_user.is_admin):
            return {}
        from sqlalchemy import select

        from webapp.connections.models import Connection, ConnectionStatus
        from webapp.extensions import db

        needing = db.session.scalars(select(Connection).where(Connection.status == ConnectionStatus.NEEDS_REAUTH)).all()
        return {"connections_needing_reauth": needing}
