"""`flask --app wsgi run-jobs`: run the due jobs now (an operator's check, or a cron-driven install)."""
import click
from flask import current_app
from flask.cli import with_appcontext

from webapp.scheduler.loop import Scheduler


@click.command("run-jobs")
@with_appcontext
def run_jobs():
    """Run the scheduled jobs that are due, if no other process holds the scheduler."""
    scheduler = Scheduler(current_app._get_current_object())
    ran = scheduler.tick_once()
    scheduler.stop()  # hand the lease back: serving processes take over at their next tick
    click.echo("Ran: " + (", ".join(ran) if ran else "nothing due (or another process holds the scheduler)."))
