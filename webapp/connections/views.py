"""Conexões (admins only): the list, the wizard (type → details → terms → Facebook Login → page), and upkeep."""
from __future__ import annotations

import secrets

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.bots import store as bot_store
from webapp.connections import facebook_login, linking, store
from webapp.connections.forms import AcceptTermsForm, ConnectionForm, LegalTextForm
from webapp.connections.models import Connection
from webapp.core.pages import page_or_fragment
from webapp.extensions import db
from webapp.meta import errors
from webapp.meta.client import GraphClient
from webapp.team import directory
from webapp.team.access import admin_required

bp = Blueprint("connections", __name__, url_prefix="/connections")

# state → connection id, for every Facebook Login started in this session: two tabs linking two connections
# must each come back to their own connection.
LINKING_KEY = "linking_by_state"
MAX_PENDING_LOGINS = 5


def _graph() -> GraphClient:
    return GraphClient.from_config(current_app.config)


def _connection_or_404(connection_id: int) -> Connection:
    connection = store.get(connection_id)
    if connection is None:
        abort(404)
    return connection


def _form(**kwargs) -> ConnectionForm:
    return ConnectionForm(departments=directory.departments_for_choice(), bots=bot_store.active_bots(), **kwargs)


def _validate_choices(form: ConnectionForm) -> bool:
    ok = True
    if form.default_department.data and not store.valid_department(form.default_department.data):
        form.default_department.errors.append(_("Choose the department that receives new tickets."))
        ok = False
    if form.bot.data and not store.valid_bot(form.bot.data):
        form.bot.errors.append(_("Choose the bot that greets and routes customers."))
        ok = False
    return ok


# ---- the list and the wizard ------------------------------------------------------------------------


@bp.get("/")
@admin_required
def index():
    return render_template("connections/index.html", connections=store.all_connections())


@bp.get("/new")
@admin_required
def new():
    """Step 1: the type. Only Instagram exists; types that do not work are not shown."""
    return render_template("connections/new_type.html")


@bp.route("/new/instagram", methods=["GET", "POST"])
@admin_required
def new_instagram():
    """Step 2: the details, all required."""
    form = _form()
    if form.validate_on_submit() and _validate_choices(form):
        connection = store.create(form.name.data, int(form.default_department.data), int(form.bot.data))
        return redirect(url_for("connections.link", connection_id=connection.id))
    status = 422 if request.method == "POST" else 200
    return page_or_fragment("connections/new_details.html", "connections/_details_form.html", status=status, form=form,
                            action=url_for("connections.new_instagram"))


@bp.route("/<int:connection_id>/link", methods=["GET", "POST"])
@admin_required
def link(connection_id: int):
    """Step 3: accept this installation's privacy policy and terms, then go to Facebook Login."""
    connection = _connection_or_404(connection_id)
    form = AcceptTermsForm()
    if form.validate_on_submit():
        state = secrets.token_urlsafe(24)
        pending = dict(list(session.get(LINKING_KEY, {}).items())[-(MAX_PENDING_LOGINS - 1):])
        pending[state] = connection.id
        session[LINKING_KEY] = pending
        extra = {"auth_type": "rerequest"} if request.args.get("rerequest") else {}
        return facebook_login.client().authorize_redirect(facebook_login.redirect_uri(), state=state, **extra)
    status = 422 if request.method == "POST" else 200
    return render_template("connections/link.html", connection=connection, form=form, legal=store.legal_text(),
                           rerequest=request.args.get("rerequest")), status


@bp.get("/oauth/callback")
@admin_required
def oauth_callback():
    """Back from Facebook: check the state, exchange the code, check the permissions, then list the pages."""
    pending = session.get(LINKING_KEY, {})
    connection_id = pending.pop(request.args.get("state", ""), None)
    session[LINKING_KEY] = pending
    connection = store.get(connection_id) if connection_id else None
    if connection is None:
        return _link_failed(None, linking.LinkError("state"))
    try:
        token = facebook_login.client().authorize_access_token()
    except MismatchingStateError as error:
        return _link_failed(connection, linking.LinkError("state"), cause=error)
    except OAuthError as error:
        return _link_failed(connection, _oauth_error(error), cause=error)
    except Exception as error:  # requests' network errors reach us raw from Authlib
        return _link_failed(connection, linking.LinkError("graph", meta_error=errors.Transient(str(error))), cause=error)
    try:
        linking.record_login(connection, current_user.id, token["access_token"], _graph(), current_app.config)
    except linking.LinkError as error:
        return _link_failed(connection, error)
    return redirect(url_for("connections.pages", connection_id=connection.id))


def _oauth_error(error: OAuthError) -> linking.LinkError:
    if isinstance(error.error, dict):  # Meta's envelope came back from the token endpoint
        meta_error = errors.from_response(400, {"error": error.error})
        kind = "code_used" if isinstance(meta_error, errors.CodeAlreadyUsed) else "graph"
        return linking.LinkError(kind, meta_error=meta_error)
    if error.error == "access_denied":
        return linking.LinkError("cancelled")
    return linking.LinkError("graph", meta_error=errors.InvalidRequest(str(error.description or error.error)))


def _link_failed(connection, error: linking.LinkError, cause=None):
    if cause is not None:
        current_app.logger.info("Facebook Login for connection %s stopped: %s (%s)",
                                connection.id if connection else "?", error.kind, type(cause).__name__)
    status = 400 if error.kind in ("state", "code_used") else 200
    return render_template("connections/link_error.html", connection=connection, error=error), status


@bp.route("/<int:connection_id>/pages", methods=["GET", "POST"])
@admin_required
def pages(connection_id: int):
    """Step 4: every page of the Facebook profile; the one chosen is subscribed and checked."""
    connection = _connection_or_404(connection_id)
    attempt = linking.current_attempt(connection, current_user.id)
    if attempt is None:
        return _link_failed(connection, linking.LinkError("expired"))
    try:
        if request.method == "POST":
            linking.choose_page(connection, attempt, request.form.get("page_id", ""), _graph(), current_app.config,
                                current_user.id)
            flash(_("Connection %(name)s is active: new Instagram messages will arrive in Direto.", name=connection.name), "success")
            return redirect(url_for("connections.detail", connection_id=connection.id))
        choices = linking.page_choices(connection, attempt, _graph(), current_app.config)
    except linking.LinkError as error:
        return _link_failed(connection, error)
    if not choices:
        return _link_failed(connection, linking.LinkError("no_pages"))
    if not any(c.page.instagram for c in choices):
        return _link_failed(connection, linking.LinkError("no_instagram"))
    return render_template("connections/pages.html", connection=connection, choices=choices, attempt=attempt)


# ---- one connection ---------------------------------------------------------------------------------


@bp.route("/<int:connection_id>", methods=["GET", "POST"])
@admin_required
def detail(connection_id: int):
    connection = _connection_or_404(connection_id)
    if request.method == "POST":
        form = _form()
        if form.validate_on_submit() and _validate_choices(form):
            store.update(connection, form.name.data, int(form.default_department.data), int(form.bot.data))
            notice = _("Connection %(name)s saved.", name=connection.name)
            return page_or_fragment("connections/detail.html", "connections/_details_form.html", form=_edit_form(connection),
                                    connection=connection, notice=notice,
                                    action=url_for("connections.detail", connection_id=connection.id))
        return page_or_fragment("connections/detail.html", "connections/_details_form.html", status=422, form=form,
                                connection=connection, action=url_for("connections.detail", connection_id=connection.id))
    return render_template("connections/detail.html", connection=connection, form=_edit_form(connection),
                           action=url_for("connections.detail", connection_id=connection.id))


def _edit_form(connection: Connection) -> ConnectionForm:
    return _form(formdata=None, name=connection.name, default_department=str(connection.default_department_id),
                 bot=str(connection.bot_id))


@bp.post("/<int:connection_id>/check")
@admin_required
def check(connection_id: int):
    connection = _connection_or_404(connection_id)
    if linking.check_health(connection, _graph(), current_app.config):
        flash(_("The link is healthy: the app is subscribed to the page's messages."), "success")
    else:
        flash(_("The link needs attention: reauthorize the connection."), "error")
    return redirect(url_for("connections.detail", connection_id=connection.id))


@bp.post("/<int:connection_id>/disconnect")
@admin_required
def disconnect(connection_id: int):
    connection = _connection_or_404(connection_id)
    linking.disconnect(connection, _graph(), current_app.config)
    flash(_("Connection %(name)s disconnected. Its history is kept.", name=connection.name), "success")
    return redirect(url_for("connections.detail", connection_id=connection.id))


@bp.route("/terms", methods=["GET", "POST"])
@admin_required
def terms():
    legal = store.legal_text()
    form = LegalTextForm(obj=legal)
    if form.validate_on_submit():
        form.populate_obj(legal)
        db.session.commit()
        flash(_("Privacy policy and terms saved."), "success")
        return redirect(url_for("connections.terms"))
    return render_template("connections/terms.html", form=form), 422 if request.method == "POST" else 200
