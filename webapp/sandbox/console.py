"""The sandbox's home page and a human-readable delivery log (the control API has the JSON)."""
from __future__ import annotations

from flask import Blueprint, make_response, render_template, request
from sqlalchemy import select

from .models import Delivery, DeliveryAttempt, Page, Subscription
from .runtime import current

console = Blueprint("console", __name__)


@console.get("/")
def home():
    sandbox = current()
    with sandbox.store.tx() as session:
        # What the App Dashboard shows: the pages this app is installed on, with their webhook fields.
        subscribed = [
            {"page": page.name, "page_id": page.id, "fields": sorted(subscription.fields or [])}
            for subscription, page in session.execute(
                select(Subscription, Page).join(Page, Page.id == Subscription.page_id).order_by(Page.name))
        ]
    return render_template("sandbox/home.html", settings=sandbox.settings, knobs=sandbox.knobs(), subscribed=subscribed)


@console.get("/deliveries")
def deliveries():
    with current().store.tx() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id.desc()).limit(100)).all()
        attempts: dict[int, list[DeliveryAttempt]] = {}
        for item in session.scalars(select(DeliveryAttempt).where(
                DeliveryAttempt.delivery_id.in_([row.id for row in rows])).order_by(DeliveryAttempt.id)):
            attempts.setdefault(item.delivery_id, []).append(item)
        # htmx polling asks for the rows only; a browser gets the whole page.
        template = "sandbox/_delivery_rows.html" if request.headers.get("HX-Request") else "sandbox/deliveries.html"
        response = make_response(render_template(template, deliveries=rows, attempts=attempts))
        response.headers["Vary"] = "HX-Request"
        return response
