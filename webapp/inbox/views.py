"""Chat and Histórico: the queue of waiting tickets now; the workspace issue adds the conversation and the rest."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from webapp.database import utcnow
from webapp.inbox import queue

bp = Blueprint("inbox", __name__)


@bp.get("/")
@login_required
def chat():
    now = utcnow()
    return render_template("inbox/chat.html", waiting=queue.waiting(current_user, now),
                           mine=queue.assigned_count(current_user))


@bp.get("/history")
@login_required
def history():
    return render_template("inbox/history.html")
