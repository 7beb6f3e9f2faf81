"""Histórico: every ticket the user may see, closed or not, with filters that live in the URL (so a search can be
shared or bookmarked), and each ticket's full transcript. Read-only: acting on a ticket happens in the Chat."""
from __future__ import annotations

from flask import Blueprint, make_response, render_template, request
from flask_babel import format_date, format_datetime
from flask_login import current_user, login_required

from webapp.core.pages import is_htmx
from webapp.database import utcnow
from webapp.extensions import db
from webapp.history import search
from webapp.inbox import conversation
from webapp.messages.models import TicketEvent
from webapp.team.access import ticket_or_404
from webapp.team.models import User
from webapp.workspace.store import company_settings

bp = Blueprint("history", __name__, url_prefix="/history")


@bp.context_processor
def _formats():
    # Full dates: a history is read weeks later, "14:05" alone would not say which day.
    return {"history_moment": lambda moment: format_datetime(moment, "dd/MM/yyyy HH:mm") if moment else "",
            "history_day": lambda day: format_date(day, "dd/MM/yyyy")}


def _zone():
    return search.zone_named(company_settings().time_zone)


def _filters(zone) -> search.Filters:
    return search.Filters.parse(request.args, today=search.today_in(zone, utcnow()))


@bp.get("")
@login_required
def index():
    zone = _zone()
    filters = _filters(zone)
    page = search.find(current_user, filters, zone, before=search.read_id(request.args.get("before")),
                       after=search.read_id(request.args.get("after")))
    # htmx asks for the results alone; a page restored from htmx's history (cache miss) needs the whole page.
    if is_htmx() and request.headers.get("HX-History-Restore-Request") != "true":
        response = make_response(render_template("history/_results.html", filters=filters, page=page))
    else:
        response = make_response(render_template("history/index.html", filters=filters, page=page,
                                                  choices=search.choices(current_user), statuses=search.Status))
    response.vary.add("HX-Request")
    return response


@bp.get("/<int:ticket_id>")
@login_required
def transcript(ticket_id: int):
    """Everything that happened in one ticket; 404 for who may not see it, as in the Chat."""
    ticket = ticket_or_404(ticket_id)
    thread = conversation.thread(ticket, limit=None)
    closing = next((item for item in reversed(thread.items)
                    if isinstance(item, TicketEvent) and item.kind == "closed"), None)
    return render_template(
        "history/transcript.html", ticket=ticket, thread=thread, closing=closing, read_only=True,
        closed_by=db.session.get(User, ticket.closed_by_id) if ticket.closed_by_id else None,
        back_args=_filters(_zone()).query_args() if request.args else {},
    )
