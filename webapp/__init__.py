"""Direto: a customer-service inbox for Instagram Direct.

create_app() reads as the table of contents of the application.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask

from webapp import config as settings_module
from webapp import database

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    # INSTANCE_PATH moves secrets, the SQLite file and media elsewhere (tests, packaged installs).
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH") or ROOT / "instance"
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(settings_module.load(app.instance_path, overrides=test_config))
    settings_module.check_production(app.config)
    database.check_driver_cooperates(app.config["SQLALCHEMY_DATABASE_URI"])
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    register_workers(app)
    mount_sandbox(app)
    return app


def mount_sandbox(app: Flask) -> None:
    """Meta's stand-in answers at /sandbox only when META_SANDBOX is on (never in production)."""
    from webapp.sandbox import mount

    mount(app)


def configure_logging(app: Flask) -> None:
    from webapp.core.logging import install_redaction

    install_redaction(logging.getLogger())
    install_redaction(app.logger)


def register_extensions(app: Flask) -> None:
    from webapp import connections
    from webapp.core import errors, i18n, security, static
    from webapp.extensions import babel, csrf, db, login_manager, migrate
    from webapp.team import auth_loader

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_time_zone)
    auth_loader.init_app(app, login_manager)
    security.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    static.init_app(app)
    connections.init_app(app)


def register_blueprints(app: Flask) -> None:
    from webapp.admin.views import bp as admin_bp
    from webapp.auth.views import bp as auth_bp
    from webapp.bots.views import bp as bots_bp
    from webapp.connections.views import bp as connections_bp
    from webapp.core.views import bp as core_bp
    from webapp.events.views import bp as events_bp
    from webapp.history.views import bp as history_bp
    from webapp.inbox.views import bp as inbox_bp
    from webapp.messages.views import bp as messages_bp
    from webapp.webhooks.views import bp as webhooks_bp
    from webapp.workspace.views import bp as workspace_bp

    for blueprint in (core_bp, auth_bp, inbox_bp, history_bp, messages_bp, connections_bp, admin_bp, bots_bp, workspace_bp,
                      webhooks_bp, events_bp):
        app.register_blueprint(blueprint)
    if app.config["WEBHOOK_BARE_ENDPOINT"]:  # the ingest benchmark's baseline, off unless asked for
        from webapp.webhooks.bare import bp as bare_bp

        app.register_blueprint(bare_bp)


def register_workers(app: Flask) -> None:
    """Background loops each serving process runs (started by gunicorn's post_worker_init)."""
    from webapp.core import workers
    from webapp.messages import inbound, media, outbound, sender
    from webapp.webhooks import processor, spool

    # Each is woken right after a commit that gives it work; the idle poll only picks up what another process
    # left behind (the scheduler's sweep covers that too).
    if app.config["WEBHOOK_PROCESSING"] == "background":  # inline: the request does it; off: only the sweep
        workers.register(processor.WORKER, processor.drain, idle=5.0)
    workers.register(outbound.SENDER, sender.drain, idle=30.0)
    workers.register(inbound.MEDIA_WORKER, media.drain, idle=30.0)
    # Deliveries kept on disk while the database was away: retried every few seconds until it answers.
    workers.register(spool.WORKER, spool.drain, idle=5.0)


def register_commands(app: Flask) -> None:
    from webapp.demo.cli import init_instance, seed_demo
    from webapp.scheduler.cli import run_jobs
    from webapp.events import models as event_models  # noqa: F401  (tables for migrations)
    from webapp.messages import models as message_models  # noqa: F401
    from webapp.tickets import models as ticket_models  # noqa: F401
    from webapp.team.cli import create_user

    for command in (create_user, init_instance, seed_demo, run_jobs):
        app.cli.add_command(command)
