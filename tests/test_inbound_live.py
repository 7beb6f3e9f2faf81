"""Inbound DMs end to end: the sandbox plays Meta and the customer's phone, Direto runs as in production (gunicorn,
gevent, its background workers), and the webhook, the processor, the bot and the sender meet over real HTTP.

Every event kind is sent the way the sandbox really delivers it (docs/sandbox.md, control API).
"""
import pytest

from tests.inbound_support import eventually
from tests.test_connections import admin, linked_connection  # noqa: F401  (fixtures and helpers)
from webapp.bots import store as bot_store
from webapp.extensions import db
from webapp.messages.models import Author, MediaFile, Message, MessageStatus
from webapp.team import directory
from webapp.tickets.models import Contact, Ticket, TicketStatus
from webapp.webhooks.models import DeliveryStatus, WebhookDelivery

ANA = "8532027536890212"


@pytest.fixture
def setup(meta_app):
    """The demo's departments and a triage bot that attends at any hour (menu: 1 Vendas, 2 Suporte)."""
    with meta_app.app_context():
        reception, sales, support = (directory.ensure_department(n) for n in ("Recepção", "Vendas", "Suporte"))
        bot = bot_store.ensure_default_bot(reception.id, menu=[("Vendas", sales.id), ("Suporte", support.id)])
        bot.schedule_id = None
        db.session.commit()
        return {"department": reception.id, "bot": bot.id, "sales": sales.id, "support": support.id}


@pytest.fixture
def shop(admin, setup):  # noqa: F811
    return linked_connection(admin, setup)


def query(app, statement):
    with app.app_context():
        found = list(db.session.scalars(statement))
        for row in found:
            db.session.expunge(row)
        return found


def settled(app, sandbox):
    """Meta delivered everything it queued, and Direto processed every delivery it stored."""
    sandbox.post("deliveries/await")
    return eventually(lambda: all(d.status in (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED)
                                  for d in query(app, db.select(WebhookDelivery))))


def messages(app, *where):
    return query(app, db.select(Message).where(*where).order_by(Message.sent_at, Message.id))


def ticket_of(app) -> Ticket:
    [ticket] = query(app, db.select(Ticket))
    return ticket


def test_a_customer_writes_the_bot_greets_and_routes_and_the_ticket_waits_in_the_queue(meta_app, sandbox, shop,
                                                                                        setup):
    sandbox.post("messages", customer="ana", kind="text", text="Oi! Vocês têm o tênis 42? 👟")
    settled(meta_app, sandbox)
    ticket = ticket_of(meta_app)
    assert ticket.status == TicketStatus.BOT
    # The profile was read from Meta before the greeting, so the bot calls Ana by her name.
    [contact] = query(meta_app, db.select(Contact))
    assert (contact.name, contact.username) == ("Ana Souza", "ana.souza")
    greeting = eventually(lambda: [m for m in sandbox.get(f"threads/{ANA}")["messages"] if m["from"] == "business"])
    assert greeting[0]["text"].startswith(f"Olá, Ana Souza! Seu protocolo é {ticket.protocol}.")
    assert [q["title"] for q in greeting[0]["quick_replies"]] == ["Vendas", "Suporte"]
    settled(meta_app, sandbox)  # the greeting's echo
    [bot_message] = messages(meta_app, Message.author == Author.BOT)
    assert bot_message.status == MessageStatus.SENT and bot_message.mid == greeting[0]["mid"]

    sandbox.post("messages", customer="ana", kind="quick_reply", text="Suporte", payload="DIRETO_BOT_OPTION:2")
    settled(meta_app, sandbox)
    ticket = ticket_of(meta_app)
    assert (ticket.status, ticket.department_id) == (TicketStatus.QUEUED, setup["support"])
    assert len(messages(meta_app)) == 3  # Ana's two messages and one greeting: the echo made no second row


@pytest.mark.parametrize("kind, extra, stored_kind", [
    ("image", {}, "image"), ("video", {}, "video"), ("audio", {}, "audio"), ("file", {}, "file"),
    ("share", {}, "share"), ("ig_post", {}, "ig_post"), ("ig_reel", {}, "ig_reel"), ("reel", {}, "reel"),
    ("story_mention", {}, "story_mention"), ("ig_story", {}, "ig_story"), ("unsupported", {}, "unsupported"),
    ("story_reply", {"text": "Que lindo!"}, "text"), ("postback", {"title": "Começar"}, "postback"),
    ("referral", {"text": "Vi o anúncio"}, "text"),
    ("referral", {"source": "https://ig.me/m/loja.demo", "ref": "promo"}, "referral"),
])
def test_every_kind_the_sandbox_delivers_becomes_a_message(meta_app, sandbox, shop, kind, extra, stored_kind):
    sent = sandbox.post("messages", customer="ana", kind=kind, **extra)
    settled(meta_app, sandbox)
    # An ig.me referral in a thread carries no mid (meta-platform.md §3.4): it is the customer's only message.
    [message] = messages(meta_app, Message.mid == sent["mid"]) if "mid" in sent["item"].get("message", {}) or \
        "postback" in sent["item"] else messages(meta_app, Message.author == Author.CUSTOMER)
    assert message.kind == stored_kind and message.author == Author.CUSTOMER
    ticket = ticket_of(meta_app)
    assert ticket.tunnel_closes_at is not None and ticket.protocol
    if kind in ("image", "video", "audio", "file"):
        [media] = eventually(lambda: [m for m in query(meta_app, db.select(MediaFile)) if m.status.value != "pending"])
        assert media.status.value == "stored", media.error
    if kind == "referral" and "source" not in extra:
        assert ticket.referral["source"] == "ADS"


def test_unsend_edit_reply_and_reactions_from_the_phone(meta_app, sandbox, shop):
    first = sandbox.post("messages", customer="ana", kind="text", text="Quero o azul")
    second = sandbox.post("messages", customer="ana", kind="text", text="sobre isso", reply_to=first["mid"])
    settled(meta_app, sandbox)
    sandbox.post("messages", customer="ana", kind="edit", mid=first["mid"], text="Quero o vermelho")
    sandbox.post("messages", customer="ana", kind="unsend", mid=second["mid"])
    settled(meta_app, sandbox)
    edited, unsent = messages(meta_app, Message.author == Author.CUSTOMER)
    assert (edited.text, edited.num_edit) == ("Quero o vermelho", 1)
    assert unsent.is_deleted and unsent.text is None and unsent.reply_to_mid == first["mid"]

    greeting = eventually(lambda: [m for m in sandbox.get(f"threads/{ANA}")["messages"] if m["from"] == "business"])
    sandbox.post("messages", customer="ana", kind="react", mid=greeting[0]["mid"], reaction="love")
    sandbox.post("messages", customer="ana", kind="seen")
    settled(meta_app, sandbox)
    greeted, asked_again = messages(meta_app, Message.author == Author.BOT)  # "sobre isso" was not an option
    assert greeted.mid == greeting[0]["mid"] and greeted.reaction == "❤️"
    assert greeted.status == asked_again.status == MessageStatus.SEEN


def test_a_message_written_in_the_instagram_app_opens_a_ticket(meta_app, sandbox, shop):
    sandbox.post("business-messages", customer="ana", text="Oi, Ana! Seu pedido saiu hoje.")
    settled(meta_app, sandbox)
    [message] = messages(meta_app)
    assert (message.author, message.status, message.text) == (Author.INSTAGRAM_APP, MessageStatus.SENT,
                                                              "Oi, Ana! Seu pedido saiu hoje.")
    ticket = ticket_of(meta_app)
    assert ticket.status == TicketStatus.QUEUED and ticket.tunnel_closes_at is not None


def test_a_batched_shuffled_delivery_ends_in_the_right_state(meta_app, sandbox, shop):
    sandbox.post("settings", batching=True, batch_window_ms=200, shuffle_batches=True)
    sent = [sandbox.post("messages", customer="ana", kind="text", text=f"parte {n}") for n in range(1, 6)]
    sandbox.post("messages", customer="ana", kind="unsend", mid=sent[2]["mid"])
    sandbox.post("deliveries/flush")
    settled(meta_app, sandbox)
    texts = [m.text for m in messages(meta_app, Message.author == Author.CUSTOMER)]
    assert texts == ["parte 1", "parte 2", None, "parte 4", "parte 5"]
