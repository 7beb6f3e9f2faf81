"""Meta's webhook, as the tests send it: signed bodies built the way Meta builds them (meta-platform.md §3), an app
that processes each delivery right after storing it, and small readers of what ended up in the database.

A pytest plugin (see tests/conftest.py): the fixtures `inbox_app`, `shop` and `meta` are available to every test module.
"""
import datetime as dt
import json
import time

import pytest

from webapp import create_app
from webapp.bots import store as bot_store
from webapp.connections.models import Connection, ConnectionStatus
from webapp.extensions import db
from webapp.meta.signatures import sign
from webapp.messages.models import Message
from webapp.team import directory
from webapp.tickets.models import Ticket

SECRET = "inbound-app-secret"
ACCOUNT, PAGE, ANA, BIA = "17841463172128465", "166683886271735", "8532027536890212", "4204039278529172"
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture(scope="module")
def inbox_app(test_settings):
    return create_app({**test_settings, "FACEBOOK_CLIENT_SECRET": SECRET, "WEBHOOK_PROCESSING": "inline"})


@pytest.fixture
def shop(inbox_app):
    """A linked connection whose bot attends at any hour: Recepção by default, menu 1 Vendas, 2 Suporte."""
    with inbox_app.app_context():
        reception, sales, support = (directory.ensure_department(n) for n in ("Recepção", "Vendas", "Suporte"))
        bot = bot_store.ensure_default_bot(reception.id, menu=[("Vendas", sales.id), ("Suporte", support.id)])
        bot.schedule_id, bot.max_attempts = None, 2
        connection = Connection(name="Loja Demo", default_department_id=reception.id, bot_id=bot.id,
                                status=ConnectionStatus.ACTIVE, instagram_account_id=ACCOUNT, page_id=PAGE)
        db.session.add(connection)
        db.session.commit()
        return {"connection": connection.id, "bot": bot.id, "reception": reception.id, "sales": sales.id,
                "support": support.id}


@pytest.fixture
def meta(inbox_app):
    client = inbox_app.test_client()

    def deliver(*items, entry_id=ACCOUNT, raw=None):
        payload = raw or {"object": "instagram", "entry": [{"id": entry_id, "time": ms(NOW), "messaging": list(items)}]}
        body = json.dumps(payload, separators=(",", ":")).encode()
        response = client.post("/webhooks/instagram", data=body,
                               headers={"X-Hub-Signature-256": sign(body, SECRET), "Content-Type": "application/json"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    return deliver


def customer(message=None, at=NOW, who=ANA, **other):
    item = {"sender": {"id": who}, "recipient": {"id": ACCOUNT}, "timestamp": ms(at)}
    if message is not None:
        item["message"] = message
    item.update(other)
    return item


def business(message, at=NOW, to=ANA):
    return {"sender": {"id": ACCOUNT}, "recipient": {"id": to}, "timestamp": ms(at),
            "message": {"is_echo": True, **message}}


def rows(app, model, *where, order=None):
    with app.app_context():
        query = db.select(model).where(*where).order_by(order if order is not None else model.id)
        found = list(db.session.scalars(query))
        for row in found:
            db.session.expunge(row)
        return found


def the_ticket(app) -> Ticket:
    [ticket] = rows(app, Ticket)
    return ticket


def conversation(app) -> list[Message]:
    return rows(app, Message, order=Message.sent_at)


def eventually(check, timeout=30.0, what="the live server"):
    """Wait for something another process does (the live server's workers, the sandbox); returns the first truthy
    result, and fails the test if none comes in time. Polling a condition, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
