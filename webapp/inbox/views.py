"""Chat and Histórico. The workspace issue fills them; the shell is here from the start."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("inbox", __name__)


@bp.get("/")
@login_required
def chat():
    return render_template("inbox/chat.html")


@bp.get("/history")
@login_required
def history():
    return render_template("inbox/history.html")
