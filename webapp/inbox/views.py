"""Chat: the lists (Fila, Chats), the conversation pane, and what agents do to a ticket.

Every URL with a ticket in it answers 404 to whoever may not see the ticket (product.md, Roles). Pages are the
full Chat page for a browser and fragments for htmx, from the same partials the live updates use.
"""
from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from webapp.core.pages import is_htmx
from webapp.database import utcnow
from webapp.events.models import LiveEvent
from webapp.extensions import db
from webapp.inbox import conversation, display, lists
from webapp.messages import uploads
from webapp.messages.models import Message, TicketEvent
from webapp.team.access import ticket_or_404
from webapp.team.models import Department, User, active_departments
from webapp.tickets import access, actions
from webapp.tickets.models import WAITING, Ticket
from webapp.workspace import store

log = logging.getLogger(__name__)

bp = Blueprint("inbox", __name__)


@bp.record_once
def _register_display(state) -> None:
    display.register(state.app)


# ---- reading -------------------------------------------------------------------------------------------


def _list_context(ticket: Ticket | None = None) -> dict:
    tab, sort = lists.parse(request.args.get("tab"), request.args.get("sort"))
    if ticket is not None and "tab" not in request.args:
        tab = lists.Tab.CHATS if ticket.assigned_to_id == current_user.id else lists.Tab.QUEUE
    search = (request.args.get("q") or "").strip()[:100]
    limit = min(max(request.args.get("limit", lists.PAGE, type=int), lists.PAGE), lists.MOST)
    now = utcnow()
    return {"rows": lists.rows(current_user, tab, sort, search, now, limit), "counts": lists.counts(current_user),
            "tab": tab, "sort": sort, "search": search, "now": now, "limit": limit,
            "open_id": ticket.id if ticket else None}


def _pane_context(ticket: Ticket, part: str = "pane") -> dict:
    """What the pane shows; for its "head" or "composer" alone, only what that part needs (the head is fetched
    again at every change of an open ticket: no messages, no quick replies)."""
    context = {"ticket": ticket, "now": utcnow(), "may_answer": actions.may_answer(ticket, current_user),
               "thread": conversation.thread(ticket) if part == "pane" else conversation.bare(ticket)}
    if part != "head":
        context.update(quick_replies=_quick_replies(), text_limit=actions.text_limit(current_user))
    return context


def _quick_replies():
    if current_user.sees_every_department:
        return store.all_quick_replies()
    return store.quick_replies_for(d.id for d in current_user.departments)


def _last_event_id() -> int:
    """Where the page's live stream starts: nothing between this render and the stream is missed."""
    return db.session.scalar(select(LiveEvent.id).order_by(LiveEvent.id.desc()).limit(1)) or 0


@bp.get("/")
@login_required
def chat():
    return render_template("inbox/chat.html", **_list_context(), live_after=_last_event_id())


@bp.get("/chat/list")
@login_required
def ticket_list():
    """A tab: its search, sorting and rows."""
    return render_template("inbox/_list.html", **_list_context())


@bp.get("/chat/rows")
@login_required
def ticket_rows():
    """The rows alone, with the tab counts out of band: a search, or the refresh a live event asks for."""
    return render_template("inbox/_rows.html", **_list_context(), oob_counts=True)


@bp.get("/tickets/<int:ticket_id>")
@login_required
def ticket(ticket_id: int):
    ticket = ticket_or_404(ticket_id)
    if is_htmx():
        response = make_response(render_template("inbox/_conversation.html", **_pane_context(ticket)))
    else:
        response = make_response(render_template("inbox/chat.html", **{**_list_context(ticket), **_pane_context(ticket)},
                                                 live_after=_last_event_id()))
    response.vary.add("HX-Request")  # one URL, two answers: caches must keep them apart
    return response


@bp.get("/tickets/<int:ticket_id>/pane")
@login_required
def pane(ticket_id: int):
    """The conversation pane again (after a resync, or a change made in another tab)."""
    return render_template("inbox/_conversation.html", **_pane_context(ticket_or_404(ticket_id)))


@bp.get("/tickets/<int:ticket_id>/head")
@login_required
def head(ticket_id: int):
    """The ticket's head again, after a live event said the ticket changed."""
    return render_template("inbox/_ticket_head.html", **_pane_context(ticket_or_404(ticket_id), part="head"))


@bp.get("/tickets/<int:ticket_id>/thread")
@login_required
def thread(ticket_id: int):
    """The thread again: a page back from sleep, or told it missed too much to catch up."""
    ticket = ticket_or_404(ticket_id)
    return render_template("inbox/_thread.html", ticket=ticket, thread=conversation.thread(ticket))


@bp.get("/tickets/<int:ticket_id>/composer")
@login_required
def composer(ticket_id: int):
    """The composer again, when its state changed (tunnel, assignment, closing)."""
    return render_template("inbox/_composer.html", **_pane_context(ticket_or_404(ticket_id), part="composer"))


# ---- acting --------------------------------------------------------------------------------------------


def _refused(error: actions.Refused, ticket: Ticket, status: int = 422):
    """The reason, in the ticket's panel above the thread (the composer shows it under itself)."""
    return _in_panel(ticket, render_template("inbox/_refusal.html", error=error, ticket=ticket), status)


def _conversation(ticket: Ticket, notice: str | None = None):
    """After a change: the pane again (htmx) or the page (a plain form post, no double submit on reload)."""
    if not is_htmx():
        return redirect(url_for("inbox.ticket", ticket_id=ticket.id))
    if not access.can_see(current_user, ticket):  # transferred away: the ticket is no longer this user's to see
        return render_template("inbox/_pane_empty.html", notice=notice)
    return render_template("inbox/_conversation.html", **_pane_context(ticket), notice=notice)


@bp.post("/tickets/<int:ticket_id>/accept")
@login_required
def accept(ticket_id: int):
    ticket = ticket_or_404(ticket_id)
    try:
        actions.accept(ticket, current_user, utcnow())
    except actions.Refused as error:
        return _refused(error, ticket)
    db.session.commit()
    return _conversation(ticket)


@bp.post("/tickets/<int:ticket_id>/messages")
@login_required
def send(ticket_id: int):
    """The composer: a message to the customer, or in comment mode an internal note."""
    ticket = ticket_or_404(ticket_id)
    text, now = request.form.get("text", ""), utcnow()
    was_waiting = ticket.status in WAITING
    try:
        if request.form.get("mode") == "comment":
            item = actions.comment(ticket, current_user, text, now)
        else:
            item = actions.reply(ticket, current_user, text, now)
    except actions.Refused as error:
        return _refused(error, ticket)
    db.session.commit()
    return _answered(ticket, was_waiting, item)


@bp.post("/tickets/<int:ticket_id>/attachments")
@login_required
def attach(ticket_id: int):
    """The composer's upload (multipart `file`, optional `caption`): 201 once the message is queued, 422 with the
    reason in words under the composer otherwise."""
    ticket = ticket_or_404(ticket_id)
    was_waiting = ticket.status in WAITING
    try:
        message = uploads.attach(ticket, current_user, request.files.get("file"), utcnow(),
                                 caption=request.form.get("caption"))
    except actions.Refused as error:
        return _field_error(str(error), 422)
    db.session.commit()
    return _answered(ticket, was_waiting, message, status=201)


@bp.errorhandler(413)
def too_large(error):
    """An upload over MAX_CONTENT_LENGTH (the CSRF check reads the form before any view): words the composer can
    show, not an error page."""
    return _field_error(uploads.too_large_words(current_app.config), 413)


def _field_error(words: str, status: int):
    return make_response(render_template("inbox/_field_error.html", words=words), status)


def _answered(ticket: Ticket, was_waiting: bool, item, status: int = 200):
    """What the composer gets once its message is stored: the whole pane when answering took the ticket (its head
    and composer change too), else the new item. The message is committed by now: a rendering problem must not
    answer an error, or the agent would send it a second time; the live event shows it anyway."""
    if was_waiting and ticket.status not in WAITING:
        if not is_htmx():
            return _conversation(ticket)  # a plain form post: the page again, by a redirect
        response = make_response(_conversation(ticket), status)
    else:
        try:
            body = render_template("inbox/_item.html", ticket=ticket, thread=conversation.one(item, ticket), item=item)
        except Exception:
            log.exception("the stored %s %s could not be rendered", type(item).__name__, item.id)
            body = ""
        response = make_response(body, status)
    return response


@bp.post("/messages/<int:message_id>/retry")
@login_required
def retry(message_id: int):
    message = db.session.get(Message, message_id)
    ticket = ticket_or_404(message.ticket_id if message is not None else None)
    try:
        actions.retry(message, current_user, utcnow())
    except actions.Refused as error:
        return _refused(error, ticket)
    db.session.commit()
    return _answered(ticket, False, message)


# ---- transfer and close ------------------------------------------------------------------------------


def _agents_of(department_id: int | None) -> list[User]:
    if not department_id:
        return []
    return list(db.session.scalars(
        select(User).join(User.departments).where(Department.id == department_id, User.active).order_by(User.name)))


def _transfer_form(ticket: Ticket, error: actions.Refused | None = None, status: int = 200, **chosen):
    department_id = chosen.get("department_id")
    return _in_panel(ticket, render_template(
        "inbox/_transfer.html", ticket=ticket, departments=active_departments(), agents=_agents_of(department_id),
        error=error, **chosen), status)


def _in_panel(ticket: Ticket, body: str, status: int):
    """A form in the panel above the thread; answered with errors, it stays there."""
    response = make_response(body, status)
    if status == 422:
        response.headers["HX-Retarget"] = f"#ticket-panel-{ticket.id}"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


@bp.get("/tickets/<int:ticket_id>/transfer")
@login_required
def transfer_form(ticket_id: int):
    ticket = ticket_or_404(ticket_id)
    return _transfer_form(ticket, department_id=request.args.get("department_id", type=int))


@bp.get("/tickets/<int:ticket_id>/transfer/agents")
@login_required
def transfer_agents(ticket_id: int):
    """The agent choice follows the department choice."""
    ticket = ticket_or_404(ticket_id)
    department_id = request.args.get("department_id", type=int)
    return render_template("inbox/_transfer_agents.html", ticket=ticket, agents=_agents_of(department_id))


@bp.post("/tickets/<int:ticket_id>/transfer")
@login_required
def transfer(ticket_id: int):
    ticket = ticket_or_404(ticket_id)
    department_id = request.form.get("department_id", type=int)
    agent_id = request.form.get("agent_id", type=int)
    department = db.session.get(Department, department_id) if department_id else None
    agent = db.session.get(User, agent_id) if agent_id else None
    note = request.form.get("comment", "")
    try:
        if agent_id and agent is None:
            raise actions.Refused(_("Choose an agent from the list."), "agent")
        actions.transfer(ticket, current_user, department, agent, note, utcnow())
    except actions.Refused as error:
        return _transfer_form(ticket, error, 422, department_id=department_id, agent_id=agent_id, comment=note)
    db.session.commit()
    target = agent.name if agent is not None else department.name
    return _conversation(ticket, _("Ticket %(protocol)s transferred to %(target)s.", protocol=ticket.protocol,
                                   target=target))


def _close_form(ticket: Ticket, error: actions.Refused | None = None, status: int = 200, **chosen):
    return _in_panel(ticket, render_template(
        "inbox/_close.html", ticket=ticket, subjects=store.active_subjects(), error=error,
        subject_required=store.company_settings().subject_required_on_close, **chosen), status)


@bp.get("/tickets/<int:ticket_id>/close")
@login_required
def close_form(ticket_id: int):
    return _close_form(ticket_or_404(ticket_id), chosen_subjects=set())


@bp.post("/tickets/<int:ticket_id>/close")
@login_required
def close(ticket_id: int):
    ticket = ticket_or_404(ticket_id)
    subject_ids = [int(value) for value in request.form.getlist("subject_ids") if value.isascii() and value.isdigit()]
    note = request.form.get("comment", "")
    try:
        actions.close(ticket, current_user, subject_ids, note, utcnow())
    except actions.Refused as error:
        return _close_form(ticket, error, 422, chosen_subjects=set(subject_ids), comment=note)
    db.session.commit()
    return _conversation(ticket, _("Ticket %(protocol)s closed.", protocol=ticket.protocol))


@bp.get("/tickets/<int:ticket_id>/events/<int:event_id>")
@login_required
def timeline_event(ticket_id: int, event_id: int):
    """One timeline line (a comment), for a page that heard of it live."""
    ticket = ticket_or_404(ticket_id)
    event = db.session.get(TicketEvent, event_id)
    if event is None or event.ticket_id != ticket.id:
        abort(404)
    return render_template("inbox/_item.html", ticket=ticket, thread=conversation.one(event, ticket), item=event)
