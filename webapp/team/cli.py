"""`flask --app wsgi create-user`: also how a production install gets its first admin."""
from __future__ import annotations

import click
from flask import current_app
from flask_babel import force_locale
from flask.cli import with_appcontext

from webapp.team import directory
from webapp.team.models import Role


@click.command("create-user")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default=None, help="Display name (default: the part of the e-mail before @).")
@click.option("--department", "departments", multiple=True, help="Department name; created if missing. Repeatable.")
@click.option("--language", type=click.Choice(["pt_BR", "en"]), default="pt_BR")
@with_appcontext
def create_user(email, password, role, name, departments, language):
    """Create a user who can sign in at once."""
    if len(password) < 8:
        raise click.BadParameter("must have at least 8 characters", param_hint="--password")
    with force_locale("en"):  # the command line speaks English, like the rest of its output
        try:
            user = directory.create_user(
                name=name or email.split("@")[0],
                email=email,
                password=password,
                role=Role(role),
                language=language,
                departments=[directory.ensure_department(d) for d in departments],
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
        except directory.TeamError as error:
            raise click.ClickException(str(error)) from error
    names = ", ".join(d.name for d in user.departments) or "-"
    click.echo(f"Created {user.role.value} {user.email} (departments: {names}).")
