"""Conexões (admins only)."""
from __future__ import annotations

from flask import Blueprint, render_template

from webapp.team.access import admin_required

bp = Blueprint("connections", __name__, url_prefix="/connections")


@bp.get("/")
@admin_required
def index():
    return render_template("connections/index.html")
