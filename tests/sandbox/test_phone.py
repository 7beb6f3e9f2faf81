"""The customer phone (issue 3, point 7): choose who and to whom, the live thread, every action through
forms with the sandbox's own CSRF token, strict CSP, and customer text always escaped."""
from __future__ import annotations

import pytest

from webapp.sandbox import CONTENT_SECURITY_POLICY

from .conftest import ANA_AT_LOJA, hidden_inputs

HTMX = {"HX-Request": "true"}


@pytest.fixture
def phone(client):
    page = client.get(f"/phone/{ANA_AT_LOJA}")
    assert page.status_code == 200
    return hidden_inputs(page.get_data(as_text=True))["csrf_token"]


def act(client, csrf, **form):
    return client.post(f"/phone/{ANA_AT_LOJA}/act", data={"csrf_token": csrf, **form}, headers=HTMX)


def thread(client):
    return client.get(f"/api/threads/{ANA_AT_LOJA}").json["messages"]


def test_phone_pages_carry_the_strict_csp_and_load_no_inline_code(client):
    for path in ("/phone/", f"/phone/{ANA_AT_LOJA}", "/www/dialog/oauth", "/"):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = client.get(f"/phone/{ANA_AT_LOJA}").get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and "<style" not in html and "hx-on" not in html
    assert 'name="viewport"' in html


def test_choosing_a_customer_and_an_account_opens_their_thread(client):
    chooser = client.get("/phone/").get_data(as_text=True)
    assert "Ana Souza" in chooser and "@loja.demo" in chooser
    response = client.get("/phone/", query_string={"customer": "ana", "account": "loja.demo"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/phone/{ANA_AT_LOJA}")


def test_customer_text_with_script_is_escaped(client, phone):
    act(client, phone, kind="text", text='<script>alert("x")</script> & <b>oi</b>')
    html = client.get(f"/phone/{ANA_AT_LOJA}").get_data(as_text=True)
    assert "<script>alert" not in html and "<b>oi</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;oi&lt;/b&gt;" in html


def test_forms_without_the_csrf_token_are_refused(client, phone):
    assert client.post(f"/phone/{ANA_AT_LOJA}/act", data={"kind": "text", "text": "x"}).status_code == 400
    assert client.post(f"/phone/{ANA_AT_LOJA}/act", data={"kind": "text", "text": "x", "csrf_token": "forged"}).status_code == 400
    assert thread(client) == []


def test_sending_text_and_emoji_queues_a_webhook_and_shows_in_the_thread(client, phone):
    response = act(client, phone, kind="text", text="Quero esse \U0001f60d")
    assert response.status_code == 200 and "Quero esse \U0001f60d" in response.get_data(as_text=True)
    assert response.headers["HX-Trigger"] == "sandbox-sent"
    events = client.get("/api/events").json["events"]
    assert events[0]["item"]["message"]["text"] == "Quero esse \U0001f60d"


@pytest.mark.parametrize("kind, tag", [("image", "<img"), ("video", "<video"), ("audio", "<audio"), ("file", "Document"),
                                       ("story_mention", "story"), ("ig_post", "🔗"), ("ig_reel", "🔗")])
def test_every_sample_can_be_sent(client, phone, kind, tag):
    html = act(client, phone, kind=kind).get_data(as_text=True)
    assert tag in html
    attachment = client.get("/api/events").json["events"][0]["item"]["message"]["attachments"][0]
    assert attachment["type"] == kind


def test_story_reply(client, phone):
    act(client, phone, kind="story_reply", text="Amei!")
    message = client.get("/api/events").json["events"][0]["item"]["message"]
    assert message["text"] == "Amei!" and "url" in message["reply_to"]["story"]


def test_back_dating_a_message(client, phone, sandbox):
    act(client, phone, kind="text", text="ontem", sent_hours_ago="23.5")
    sent = thread(client)[0]["timestamp"]
    assert abs(sandbox.now_ms() - 23.5 * 3600 * 1000 - sent) < 5000


def test_unsend_edit_react_and_seen(client, phone, meta):
    token = meta.page_token()
    act(client, phone, kind="text", text="primeira versão")
    mine = thread(client)[0]["mid"]
    act(client, phone, kind="edit", mid=mine, text="segunda versão")
    assert thread(client)[0]["text"] == "segunda versão" and thread(client)[0]["num_edit"] == 1

    business = meta.send(token, message={"text": "Oi Ana"}).json["message_id"]
    act(client, phone, kind="react", mid=business)
    assert thread(client)[1]["customer_reaction"] == "\u2764\ufe0f"
    act(client, phone, kind="seen")
    assert thread(client)[1]["seen"]
    act(client, phone, kind="unsend", mid=mine)
    assert thread(client)[0]["deleted"] is True and thread(client)[0]["text"] is None

    kinds = [e["field"] for e in reversed(client.get("/api/events").json["events"]) if not e["item"].get("message", {}).get("is_echo")]
    assert kinds == ["messages", "message_edits", "message_reactions", "messaging_seen", "messages"]


def test_the_customer_cannot_unsend_the_business_message(client, phone, meta):
    token = meta.page_token()
    act(client, phone, kind="text", text="oi")
    business = meta.send(token, message={"text": "Oi Ana"}).json["message_id"]
    response = act(client, phone, kind="unsend", mid=business)
    assert "own message" in response.get_data(as_text=True)
    assert thread(client)[1]["deleted"] is False


def test_quick_replies_show_as_buttons_until_answered(client, phone, meta):
    token = meta.page_token()
    act(client, phone, kind="text", text="oi")
    replies = [{"content_type": "text", "title": "Sim", "payload": "Q_YES"}, {"content_type": "text", "title": "Não", "payload": "Q_NO"}]
    meta.send(token, message={"text": "Confirma?", "quick_replies": replies})
    html = client.get(f"/phone/{ANA_AT_LOJA}").get_data(as_text=True)
    assert 'value="Q_YES"' in html and 'value="Q_NO"' in html
    act(client, phone, kind="quick_reply", text="Sim", payload="Q_YES")
    event = client.get("/api/events").json["events"][0]["item"]["message"]
    assert event["quick_reply"] == {"payload": "Q_YES"} and event["text"] == "Sim"
    assert 'value="Q_YES"' not in client.get(f"/phone/{ANA_AT_LOJA}").get_data(as_text=True)


def test_polling_answers_204_while_nothing_changed(client, phone, meta):
    fragment = client.get(f"/phone/{ANA_AT_LOJA}/thread", headers=HTMX)
    version = hidden_inputs(fragment.get_data(as_text=True))["v"]
    assert client.get(f"/phone/{ANA_AT_LOJA}/thread", query_string={"v": version}, headers=HTMX).status_code == 204
    meta.customer(text="mudou")
    changed = client.get(f"/phone/{ANA_AT_LOJA}/thread", query_string={"v": version}, headers=HTMX)
    assert changed.status_code == 200 and "mudou" in changed.get_data(as_text=True)


def test_business_typing_shows_on_the_phone(client, phone, meta):
    token = meta.page_token()
    act(client, phone, kind="text", text="oi")
    meta.send(token, sender_action="typing_on")
    assert "is typing" in client.get(f"/phone/{ANA_AT_LOJA}/thread").get_data(as_text=True)


def test_without_htmx_the_form_redirects_back_to_the_thread(client, phone):
    response = client.post(f"/phone/{ANA_AT_LOJA}/act", data={"csrf_token": phone, "kind": "text", "text": "sem js"})
    assert response.status_code == 302 and thread(client)[0]["text"] == "sem js"


def test_static_assets_and_htmx_are_served_by_the_sandbox(client):
    assert client.get("/static/phone.js").status_code == 200
    assert client.get("/static/sandbox.css").status_code == 200
    assert client.get("/phone/htmx.min.js").status_code == 200


def test_icebreakers_on_an_empty_thread_send_a_postback(client, phone):
    html = client.get(f"/phone/{ANA_AT_LOJA}").get_data(as_text=True)
    assert 'value="ICEBREAKER_HOURS"' in html
    act(client, phone, kind="postback", title="Quais são os horários?", payload="ICEBREAKER_HOURS")
    event = client.get("/api/events").json["events"][0]
    assert event["field"] == "messaging_postbacks"
    assert event["item"]["postback"]["payload"] == "ICEBREAKER_HOURS" and event["item"]["postback"]["mid"]


def test_replying_to_a_message_from_the_phone(client, phone):
    act(client, phone, kind="text", text="primeira")
    first = thread(client)[0]["mid"]
    html = act(client, phone, kind="text", text="respondendo", reply_to=first).get_data(as_text=True)
    assert client.get("/api/events").json["events"][0]["item"]["message"]["reply_to"] == {"mid": first}
    assert "↩ primeira" in html and f'data-reply-mid="{first}"' in html
