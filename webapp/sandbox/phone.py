"""The customer phone (/sandbox/phone): a person plays an Instagram user writing to the business.

Made for a 360-px touch screen. The thread refreshes by htmx polling every second; the server answers
204 (no swap) while the conversation's version is unchanged, so a half-typed edit is not wiped. Every
action goes through threads.customer_event, exactly like the control API's POST /api/messages.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, redirect, render_template, request, send_from_directory, url_for
from sqlalchemy import select

from . import threads
from .models import Conversation, Customer, IgAccount
from .runtime import current

phone = Blueprint("phone", __name__, url_prefix="/phone")

LOCAL_TIME = ZoneInfo("America/Sao_Paulo")
VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"
ATTACH_BUTTONS = [("image", "Photo"), ("video", "Video"), ("audio", "Audio"), ("file", "PDF"),
                  ("story_mention", "Story mention"), ("story_reply", "Story reply"), ("ig_post", "Share post"),
                  ("ig_reel", "Share reel")]


# Icebreaker questions shown on an empty thread; tapping one sends a postback, as on Instagram.
ICEBREAKERS = [("Quais são os horários?", "ICEBREAKER_HOURS"), ("Quero falar com alguém", "ICEBREAKER_HUMAN")]
# Actions sent from the composer (the others come from buttons inside the thread).
COMPOSER_KINDS = {"text", "seen"} | {kind for kind, _ in ATTACH_BUTTONS}


@phone.app_template_filter("clock")
def clock(ms: int | None) -> str:
    if not ms:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).astimezone(LOCAL_TIME).strftime("%d/%m %H:%M")


@phone.get("/htmx.min.js")
def htmx():
    """The sandbox serves Direto's vendored htmx itself, so it also works when run on its own."""
    return send_from_directory(VENDOR, "htmx.min.js", mimetype="text/javascript")


@phone.get("/")
def choose():
    sandbox = current()
    with sandbox.store.tx() as session:
        customer, account = request.args.get("customer"), request.args.get("account")
        if customer and account:
            try:
                conversation = threads.find_conversation(session, customer=customer, account=account)
            except threads.ThreadError:
                abort(404)
            return redirect(url_for("phone.conversation", igsid=conversation.igsid))
        customers = session.scalars(select(Customer).order_by(Customer.name)).all()
        accounts = session.scalars(select(IgAccount).order_by(IgAccount.username)).all()
        return render_template("sandbox/phone_choose.html", customers=customers, accounts=accounts)


def _context(igsid: str) -> dict:
    sandbox = current()
    with sandbox.store.tx() as session:
        conversation = session.get(Conversation, igsid)
        if conversation is None:
            abort(404)
        messages = threads.messages(session, conversation)
        last_business = next((m for m in reversed(messages) if not m.from_customer), None)
        answered = last_business is not None and any(
            m.from_customer and m.timestamp_ms >= last_business.timestamp_ms for m in messages)
        return {
            "conversation": conversation,
            "customer": session.get(Customer, conversation.customer_key),
            "account": session.get(IgAccount, conversation.ig_account_id),
            "messages": messages,
            "quick_replies": [] if answered or last_business is None else last_business.extra.get("quick_replies", []),
            "typing": conversation.typing_until_ms > sandbox.now_ms(),
            "attach_buttons": ATTACH_BUTTONS,
            "icebreakers": ICEBREAKERS,
            # Short quotes of every message, for "↩ replying to …" lines.
            "quoted": {m.mid: (m.text or "attachment")[:40] for m in messages},
        }


@phone.get("/<igsid>")
def conversation(igsid: str):
    return render_template("sandbox/phone.html", **_context(igsid))


@phone.get("/<igsid>/thread")
def thread(igsid: str):
    """The thread fragment for polling: 204 when nothing changed since the version the page holds."""
    context = _context(igsid)
    # Typing expires by time, not by a change: keep the version moving while it shows.
    state = f"{context['conversation'].version}-{int(context['typing'])}"
    if request.args.get("v") == state:
        return Response(status=204)
    return _fragment(context)


def _fragment(context: dict):
    response = Response(render_template("sandbox/_phone_thread.html", **context))
    response.headers["Vary"] = "HX-Request"
    return response


@phone.post("/<igsid>/act")
def act(igsid: str):
    """One customer action from a phone form: send, react, unsend, edit, mark as seen, tap a quick reply."""
    sandbox, form = current(), request.form
    kind = form.get("kind", "text")
    data = {key: value for key, value in form.items() if key not in ("csrf_token", "kind") and value != ""}
    hours = data.pop("sent_hours_ago", None)
    error = None
    try:
        timestamp = sandbox.now_ms() - int(float(hours) * 3600 * 1000) if hours else None
        with sandbox.store.tx() as session:
            conversation = session.get(Conversation, igsid)
            if conversation is None:
                abort(404)
            threads.customer_event(sandbox, session, conversation, kind, data, timestamp)
    except (threads.ThreadError, ValueError) as exc:
        error = str(exc)
    if request.headers.get("HX-Request") != "true":
        return redirect(url_for("phone.conversation", igsid=igsid))
    context = _context(igsid)
    response = _fragment({**context, "error": error})
    if error is None and kind in COMPOSER_KINDS:
        response.headers["HX-Trigger"] = "sandbox-sent"  # phone.js clears and folds the composer
    return response
