"""Sign-in with e-mail and password, remember me, sign-out."""
from __future__ import annotations

import math

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from webapp.auth import throttle
from webapp.auth.forms import LoginForm
from webapp.core.urls import safe_next
from webapp.team.models import find_user_by_email, normalise_email

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("inbox.chat"))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        email = normalise_email(form.email.data)
        remote = request.remote_addr or "unknown"
        limit = current_app.config["LOGIN_THROTTLE_ATTEMPTS"]
        window = current_app.config["LOGIN_THROTTLE_WINDOW_SECONDS"]
        wait = throttle.seconds_locked(email, remote, limit, window)
        if wait:
            minutes = max(1, math.ceil(wait / 60))
            error = _("Too many failed attempts. Try again in %(minutes)d min.", minutes=minutes)
            status = 429
        else:
            user = find_user_by_email(email)
            if user is not None and user.active and user.check_password(form.password.data):
                throttle.clear_failures(email)
                login_user(user, remember=form.remember.data)
                current_app.logger.info("user %s signed in", user.id)
                return redirect(safe_next(request.args.get("next")) or url_for("inbox.chat"))
            throttle.record_failure(email, remote, window)
            # One message for unknown e-mail, wrong password and deactivated user: no account probing.
            error = _("E-mail or password is incorrect.")
            status = 401
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))
