"""From a signed webhook to records (product.md §2), through Direto's own endpoint: every event kind in Meta's
wire format, duplicates, out-of-order arrival, echoes, unknown shapes, and a crash between storing and processing.

The bodies are built here as Meta sends them (meta-platform.md §3); tests/test_inbound_live.py sends the same
kinds from the sandbox on a live server.
"""
import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.inbound_support import (
    ACCOUNT, ANA, BIA, NOW, PAGE, SECRET, business, conversation, customer, ms, rows, the_ticket,
)
from webapp import create_app
from webapp.database import utcnow
from webapp.extensions import db
from webapp.messages.models import Author, Direction, MediaFile, MediaStatus, Message, MessageStatus, TicketEvent
from webapp.meta.signatures import sign
from webapp.tickets import tunnel
from webapp.tickets.models import Contact, Ticket, TicketStatus
from webapp.webhooks import processor
from webapp.webhooks.models import DeliveryStatus, WebhookDelivery

# ---- the customer writes ---------------------------------------------------------------------------------


def test_a_first_message_opens_a_ticket_in_the_bot_which_greets_with_the_protocol(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi! <b>tem</b> tênis 42? 👟"}))
    ticket = the_ticket(inbox_app)
    assert ticket.status == TicketStatus.BOT and ticket.department_id == shop["reception"]
    assert ticket.protocol.startswith(NOW.astimezone(ZoneInfo("America/Sao_Paulo")).strftime("%Y%m%d"))
    assert ticket.tunnel_closes_at == NOW + tunnel.WINDOW
    first, greeting = conversation(inbox_app)
    assert (first.text, first.direction, first.status) == ("Oi! <b>tem</b> tênis 42? 👟", Direction.INBOUND,
                                                           MessageStatus.RECEIVED)
    assert greeting.author == Author.BOT and greeting.status == MessageStatus.QUEUED
    assert ticket.protocol in greeting.text and "1 - Vendas\n2 - Suporte" in greeting.text
    assert [r["title"] for r in greeting.details["quick_replies"]] == ["Vendas", "Suporte"]
    [contact] = rows(inbox_app, Contact)
    assert contact.igsid == ANA and contact.profile_checked_at is not None  # refused (no token), never dropped


def test_a_menu_answer_routes_the_ticket_to_that_departments_queue(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}))
    meta(customer({"mid": "m-2", "text": "2"}, at=NOW + dt.timedelta(seconds=5)))
    ticket = the_ticket(inbox_app)
    assert (ticket.status, ticket.department_id) == (TicketStatus.QUEUED, shop["support"])
    assert [e.kind for e in rows(inbox_app, TicketEvent)] == ["opened", "bot_routed"]


def test_a_quick_reply_tap_and_a_label_also_choose(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}))
    meta(customer({"mid": "m-2", "text": "Vendas", "quick_reply": {"payload": "DIRETO_BOT_OPTION:1"}},
                  at=NOW + dt.timedelta(seconds=5)))
    assert the_ticket(inbox_app).department_id == shop["sales"]
    answer = [m for m in conversation(inbox_app) if m.author == Author.CUSTOMER][-1]
    assert answer.details == {"quick_reply": "DIRETO_BOT_OPTION:1"}


def test_invalid_answers_are_asked_again_then_go_to_the_fallback(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}))
    meta(customer({"mid": "m-2", "text": "quero falar com alguém"}, at=NOW + dt.timedelta(seconds=5)))
    ticket = the_ticket(inbox_app)
    assert ticket.status == TicketStatus.BOT and ticket.bot_attempts == 1
    assert [m for m in conversation(inbox_app) if m.author == Author.BOT][-1].text.startswith("Não entendi.")
    meta(customer({"mid": "m-3", "text": "9"}, at=NOW + dt.timedelta(seconds=9)))
    ticket = the_ticket(inbox_app)
    assert (ticket.status, ticket.department_id) == (TicketStatus.QUEUED, shop["reception"])  # the bot's fallback
    assert len([m for m in conversation(inbox_app) if m.author == Author.BOT]) == 2


@pytest.mark.parametrize("kind", ["image", "video", "audio", "file"])
def test_media_is_queued_for_download(inbox_app, shop, meta, kind):
    url = f"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature={kind}"
    meta(customer({"mid": "m-1", "attachments": [{"type": kind, "payload": {"url": url}}]}))
    message = conversation(inbox_app)[0]
    assert message.kind == kind and message.attachments == [{"type": kind, "url": url}]
    [media] = rows(inbox_app, MediaFile)
    assert (media.status, media.source_url, media.message_id) == (MediaStatus.PENDING, url, message.id)


@pytest.mark.parametrize("attachment, kind, kept", [
    ({"type": "share", "payload": {"url": "https://cdn/p.png"}}, "share", None),
    ({"type": "ig_post", "payload": {"url": "https://cdn/p.png", "title": "Verão", "ig_post_media_id": "99"}},
     "ig_post", None),
    ({"type": "ig_reel", "payload": {"url": "https://cdn/r.mp4", "title": "Bastidores", "reel_video_id": "77"}},
     "ig_reel", None),
    ({"type": "reel", "payload": {"url": "https://cdn/r.mp4", "title": "Bastidores", "reel_video_id": "77"}},
     "reel", None),
    ({"type": "story_mention", "payload": {"url": "https://cdn/s.png"}}, "story_mention", MediaStatus.LINK_ONLY),
    ({"type": "ig_story", "payload": {"story_media_id": "55", "story_media_url": "https://cdn/s.png"}}, "ig_story",
     MediaStatus.LINK_ONLY),
])
def test_shares_posts_reels_and_stories_are_cards_not_downloads(inbox_app, shop, meta, attachment, kind, kept):
    meta(customer({"mid": "m-1", "attachments": [attachment]}))
    message = conversation(inbox_app)[0]
    assert message.kind == kind and message.attachments[0]["url"].startswith("https://cdn/")
    assert [m.status for m in rows(inbox_app, MediaFile)] == ([kept] if kept else [])


def test_unsupported_replies_and_story_replies_keep_what_they_refer_to(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "is_unsupported": True}),
         customer({"mid": "m-2", "text": "sobre isso", "reply_to": {"mid": "m-1"}}, at=NOW + dt.timedelta(seconds=1)),
         customer({"mid": "m-3", "text": "amei!", "reply_to": {"story": {"url": "https://cdn/s.png", "id": "44"}}},
                  at=NOW + dt.timedelta(seconds=2)))
    unsupported, reply, story_reply = [m for m in conversation(inbox_app) if m.author == Author.CUSTOMER]
    assert unsupported.kind == "unsupported" and unsupported.text is None
    assert reply.reply_to_mid == "m-1"
    assert story_reply.details == {"reply_to_story": {"url": "https://cdn/s.png", "id": "44"}}


def test_postbacks_and_referrals_are_the_customer_acting(inbox_app, shop, meta):
    meta(customer(postback={"mid": "pb-1", "title": "Falar com atendente", "payload": "HUMAN"}))
    meta(customer(referral={"ref": "promo", "source": "https://ig.me/m/loja.demo", "type": "OPEN_THREAD"},
                  at=NOW + dt.timedelta(seconds=1)))
    meta(customer({"mid": "m-3", "text": "Vi o anúncio", "referral": {
        "ref": "ad_summer", "ad_id": "1202", "source": "ADS", "type": "OPEN_THREAD",
        "ads_context_data": {"ad_title": "Promoção de verão"}}}, at=NOW + dt.timedelta(seconds=2)))
    kinds = [(m.kind, m.text) for m in conversation(inbox_app) if m.author == Author.CUSTOMER]
    assert kinds == [("postback", "Falar com atendente"), ("referral", None), ("text", "Vi o anúncio")]
    assert the_ticket(inbox_app).referral["ads_context_data"]["ad_title"] == "Promoção de verão"


def test_duplicates_make_one_message(inbox_app, shop, meta):
    item = customer({"mid": "m-1", "text": "Oi"})
    first = meta(item)
    meta(item, {**item, "timestamp": item["timestamp"] + 1})  # other bytes, same mid (a batch, a retry)
    again = meta(item)
    assert again["duplicate"] is True and again["delivery"] == first["delivery"]
    assert len([m for m in conversation(inbox_app) if m.author == Author.CUSTOMER]) == 1
    assert len([m for m in conversation(inbox_app) if m.author == Author.BOT]) == 1


def test_a_timestamp_from_the_future_counts_as_now(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}, at=NOW + dt.timedelta(days=3)))
    closes = the_ticket(inbox_app).tunnel_closes_at
    assert NOW + tunnel.WINDOW <= closes <= dt.datetime.now(dt.timezone.utc) + tunnel.WINDOW


def test_a_late_older_message_never_shortens_the_tunnel(inbox_app, shop, meta):
    meta(customer({"mid": "m-2", "text": "depois"}, at=NOW))
    meta(customer({"mid": "m-1", "text": "antes"}, at=NOW - dt.timedelta(hours=3)))
    assert the_ticket(inbox_app).tunnel_closes_at == NOW + tunnel.WINDOW
    assert [m.text for m in conversation(inbox_app) if m.author == Author.CUSTOMER] == ["antes", "depois"]


# ---- changes, in and out of order ------------------------------------------------------------------------


def test_unsend_edit_and_reactions_change_the_message(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}), customer({"mid": "m-2", "text": "errado"}))
    meta(customer(message_edit={"mid": "m-1", "text": "Oi!!", "num_edit": 1}, at=NOW + dt.timedelta(seconds=3)))
    meta(customer({"mid": "m-2", "is_deleted": True}, at=NOW + dt.timedelta(seconds=4)))
    edited, deleted = [m for m in conversation(inbox_app) if m.author == Author.CUSTOMER]
    assert (edited.text, edited.num_edit, edited.details["earlier_texts"]) == ("Oi!!", 1, ["Oi"])
    assert deleted.is_deleted and deleted.text is None


@pytest.mark.parametrize("early", ["unsend", "edit"])
def test_a_change_that_arrives_before_its_message_is_applied_when_it_comes(inbox_app, shop, meta, early):
    later = NOW + dt.timedelta(seconds=10)
    if early == "unsend":
        meta(customer({"mid": "m-1", "is_deleted": True}, at=later))
    else:
        meta(customer(message_edit={"mid": "m-1", "text": "corrigido", "num_edit": 1}, at=later))
    meta(customer({"mid": "m-1", "text": "original"}))
    message = next(m for m in conversation(inbox_app) if m.author == Author.CUSTOMER)
    assert (message.is_deleted, message.text) == ((True, None) if early == "unsend" else (False, "corrigido"))


def test_reactions_and_reads_on_what_the_business_sent(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}))
    # The reaction comes before the echo of the message it reacts to: it waits for it.
    meta(customer(reaction={"mid": "e-1", "action": "react", "reaction": "love", "emoji": "❤️"},
                  at=NOW + dt.timedelta(seconds=6)))
    meta(business({"mid": "e-1", "text": "Oi, Ana! Vimos seu pedido."}, at=NOW + dt.timedelta(seconds=5)))
    meta(customer(read={"mid": "e-1"}, at=NOW + dt.timedelta(seconds=7)))
    from_app = next(m for m in conversation(inbox_app) if m.author == Author.INSTAGRAM_APP)
    assert from_app.reaction == "❤️" and from_app.status == MessageStatus.SEEN
    meta(customer(reaction={"mid": "e-1", "action": "unreact"}, at=NOW + dt.timedelta(seconds=8)))
    meta(customer(reaction={"mid": "e-1", "action": "react", "reaction": "like", "emoji": "👍"},
                  at=NOW + dt.timedelta(seconds=7, milliseconds=500)))  # older than the unreact: ignored
    assert next(m for m in conversation(inbox_app) if m.author == Author.INSTAGRAM_APP).reaction is None


# ---- echoes ------------------------------------------------------------------------------------------------


def test_an_echo_from_the_instagram_app_with_no_ticket_opens_one_and_starts_the_count(inbox_app, shop, meta):
    meta(business({"mid": "e-1", "text": "Oi, Ana! Seu pedido saiu."}, to=BIA))
    ticket = the_ticket(inbox_app)
    assert ticket.status == TicketStatus.QUEUED and ticket.department_id == shop["reception"]
    assert ticket.tunnel_closes_at == NOW + tunnel.WINDOW
    [message] = conversation(inbox_app)
    assert (message.author, message.direction, message.status) == (Author.INSTAGRAM_APP, Direction.OUTBOUND,
                                                                   MessageStatus.SENT)
    assert rows(inbox_app, TicketEvent)[0].details["by"] == "instagram_app"


def test_echoes_do_not_renew_the_tunnel(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}))
    meta(business({"mid": "e-1", "text": "Olá"}, at=NOW + dt.timedelta(hours=2)))
    assert the_ticket(inbox_app).tunnel_closes_at == NOW + tunnel.WINDOW


def test_the_echo_of_our_own_send_is_not_a_second_message(inbox_app, shop, meta):
    meta(customer({"mid": "m-1", "text": "Oi"}))
    with inbox_app.app_context():
        greeting = db.session.scalar(db.select(Message).where(Message.author == Author.BOT))
        greeting.mid, greeting.status = "sent-1", MessageStatus.SENT
        db.session.commit()
    meta(business({"mid": "sent-1", "text": "Olá!"}, at=NOW + dt.timedelta(seconds=1)))
    assert [m.author for m in conversation(inbox_app)] == [Author.CUSTOMER, Author.BOT]


# ---- what is not for us ------------------------------------------------------------------------------------


def test_unknown_accounts_and_the_dashboard_test_are_kept_and_ignored(inbox_app, shop, meta):
    meta({**customer({"mid": "x-2", "text": "Oi"}), "recipient": {"id": "17840000000000000"}},
         entry_id="17840000000000000")
    meta(raw={"object": "instagram", "entry": [{"id": "0", "time": 1527459824, "changes": [{"field": "messages",
         "value": {"sender": {"id": "12334"}, "recipient": {"id": "23245"}, "timestamp": "1527459824",
                   "message": {"mid": "random_mid", "text": "random_text"}}}]}]})
    meta(raw={"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [{"sender": {"id": "1"}}]}]})
    deliveries = rows(inbox_app, WebhookDelivery)
    assert [d.status for d in deliveries] == [DeliveryStatus.IGNORED] * 3
    assert "no connection for account" in deliveries[0].error
    assert rows(inbox_app, Message) == [] and rows(inbox_app, Ticket) == []


def test_the_page_id_variant_of_entry_id_routes_too(inbox_app, shop, meta):
    meta({**customer({"mid": "m-1", "text": "Oi"}), "recipient": {"id": PAGE}}, entry_id=PAGE)
    assert the_ticket(inbox_app).connection_id == shop["connection"]


def test_standby_messages_are_kept_but_the_bot_stays_quiet(inbox_app, shop, meta):
    meta(raw={"object": "instagram", "entry": [{"id": ACCOUNT, "time": ms(NOW), "standby": [
        customer({"mid": "s-1", "text": "Oi por outro app"})]}]})
    [message] = conversation(inbox_app)
    assert message.details == {"standby": True}


# ---- crashes --------------------------------------------------------------------------------------------------


def test_a_delivery_stored_but_never_processed_is_processed_later(inbox_app, shop, test_settings):
    crashed = create_app({**test_settings, "FACEBOOK_CLIENT_SECRET": SECRET, "WEBHOOK_PROCESSING": "off"})
    body = json.dumps({"object": "instagram", "entry": [{"id": ACCOUNT, "time": ms(NOW), "messaging": [
        customer({"mid": "m-1", "text": "Oi"})]}]}).encode()
    answer = crashed.test_client().post("/webhooks/instagram", data=body,
                                        headers={"X-Hub-Signature-256": sign(body, SECRET)})
    assert answer.status_code == 200
    assert [d.status for d in rows(inbox_app, WebhookDelivery)] == [DeliveryStatus.PENDING]
    with inbox_app.app_context():
        # A process claimed it and died: the claim goes stale, and the next pass takes it. (The real clock: NOW is
        # when the suite started, and a long suite would make that claim stale already.)
        claimed_at = utcnow()
        [claimed] = processor.claim(claimed_at)
        assert processor.drain(inbox_app) == 0  # still held by the "dead" process
        db.session.execute(db.update(WebhookDelivery).values(claimed_at=claimed_at - processor.STALE_CLAIM * 2))
        db.session.commit()
        assert processor.drain(inbox_app) == 1
    [delivery] = rows(inbox_app, WebhookDelivery)
    assert delivery.status == DeliveryStatus.PROCESSED and delivery.attempts == 2
    assert len(conversation(inbox_app)) == 2  # the message and the bot's greeting, once


def store_unprocessed(test_settings, *messages):
    """Each (mid, text) as its own signed delivery, stored by a process that does not process them."""
    stored = create_app({**test_settings, "FACEBOOK_CLIENT_SECRET": SECRET, "WEBHOOK_PROCESSING": "off"})
    for mid, text in messages:
        body = json.dumps({"object": "instagram", "entry": [{"id": ACCOUNT, "time": ms(NOW), "messaging": [
            customer({"mid": mid, "text": text})]}]}).encode()
        assert stored.test_client().post("/webhooks/instagram", data=body,
                                         headers={"X-Hub-Signature-256": sign(body, SECRET)}).status_code == 200


def test_deliveries_the_database_went_away_under_are_handed_back_once_it_answers(inbox_app, shop, test_settings,
                                                                                 monkeypatch):
    """A PostgreSQL restart in the middle of a batch: its deliveries wait seconds, not until their claim is stale."""
    from sqlalchemy.exc import OperationalError

    store_unprocessed(test_settings, ("m-1", "Oi"), ("m-2", "Tudo bem?"))
    real, calls = processor.process, []

    def database_goes_away(delivery_id, app, **options):
        calls.append(delivery_id)
        if len(calls) == 1:
            raise OperationalError("UPDATE webhook_deliveries", {}, Exception("the database system is shutting down"))
        return real(delivery_id, app, **options)

    monkeypatch.setattr(processor, "process", database_goes_away)
    with inbox_app.app_context():
        assert processor.drain(inbox_app) == 2  # both claimed; the first fails, the second is not even tried
        assert [d.status for d in rows(inbox_app, WebhookDelivery)] == [DeliveryStatus.PROCESSING] * 2
        assert processor.drain(inbox_app) == 2  # handed back, and processed at the next step
    assert [d.status for d in rows(inbox_app, WebhookDelivery)] == [DeliveryStatus.PROCESSED] * 2
    assert [m.text for m in conversation(inbox_app) if m.direction == "in"] == ["Oi", "Tudo bem?"]


def test_inline_processing_waits_for_another_process_that_took_the_delivery_first(inbox_app, shop, test_settings):
    """Inline mode promises the delivery is done when the answer leaves, even if a worker elsewhere claimed it."""
    import threading

    store_unprocessed(test_settings, ("m-1", "Oi"))
    with inbox_app.app_context():
        [delivery_id] = processor.claim(utcnow())  # another process's worker got there first

    def the_other_process():
        with inbox_app.app_context():
            processor.process(delivery_id, inbox_app)
            db.session.remove()

    other = threading.Thread(target=the_other_process)
    with inbox_app.app_context():
        other.start()
        assert processor.process_now(delivery_id, inbox_app) == DeliveryStatus.PROCESSED
    other.join(30)
    assert [m.text for m in conversation(inbox_app) if m.direction == "in"] == ["Oi"]


def test_a_delivery_that_breaks_processing_fails_alone_and_the_batch_goes_on(inbox_app, shop, test_settings,
                                                                             monkeypatch):
    """A bug is not an outage: the broken delivery is marked failed (retried later), the others are processed."""
    store_unprocessed(test_settings, ("m-1", "Oi"), ("m-2", "Tudo bem?"))
    real = processor.Routes.connection

    def broken_for_the_first(self, event):
        if event.mid == "m-1":
            raise ValueError("a bug in routing")
        return real(self, event)

    monkeypatch.setattr(processor.Routes, "connection", broken_for_the_first)
    with inbox_app.app_context():
        assert processor.drain(inbox_app) == 2
        assert processor.drain(inbox_app) == 0  # no busy loop on the broken one: it waits for its backoff
    first, second = rows(inbox_app, WebhookDelivery)
    assert first.status == DeliveryStatus.FAILED and "a bug in routing" in first.error and first.next_attempt_at
    assert second.status == DeliveryStatus.PROCESSED


# ---- anything at all ----------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)
items = st.fixed_dictionaries({"sender": st.one_of(st.just({"id": ANA}), json_values),
                               "recipient": st.one_of(st.just({"id": ACCOUNT}), json_values),
                               "timestamp": st.one_of(st.integers(), st.text(max_size=30), json_values)},
                              optional={"message": json_values | st.fixed_dictionaries(
                                            {"mid": st.text(max_size=5)}, optional={
                                                "text": json_values, "attachments": json_values,
                                                "is_echo": json_values, "is_deleted": json_values,
                                                "reply_to": json_values, "quick_reply": json_values}),
                                        "reaction": json_values, "read": json_values, "postback": json_values,
                                        "referral": json_values, "message_edit": json_values})


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(items, max_size=4) | json_values)
def test_any_signed_payload_is_answered_200_and_processed_without_error(inbox_app, shop, meta, messaging):
    raw = {"object": "instagram", "entry": [{"id": ACCOUNT, "time": ms(NOW), "messaging": messaging}]}
    meta(raw=raw)
    with inbox_app.app_context():
        statuses = set(db.session.scalars(db.select(WebhookDelivery.status)))
    assert statuses <= {DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED}
