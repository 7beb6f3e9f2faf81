"""The Send API (issue 3, point 5): body formats, limits, attachments fetched for real, quick replies,
sender actions, the 24-hour window, HUMAN_AGENT, blocked customers, and echoes with the same mid."""
from __future__ import annotations

import json

import pytest
from werkzeug.wrappers import Response

from webapp.sandbox import ids, media

from .conftest import ANA_AT_LOJA, LOJA_IG, LOJA_PAGE, PUBLIC, serve

DAY = 24 * 3600


@pytest.fixture
def page_token(meta):
    return meta.page_token()


@pytest.fixture
def files():
    """A web server with one PNG (and a 404 for everything else), for attachments by URL."""
    png = media.samples()["sample-image"][1]

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/cat.png":
            return Response(png, mimetype="image/png")(environ, start_response)
        if environ["PATH_INFO"] == "/doc.pdf":
            return Response(b"%PDF-1.4 tiny", mimetype="application/pdf")(environ, start_response)
        return Response("nope", 404)(environ, start_response)

    base, server = serve(app)
    yield base
    server.shutdown()


def error_of(response) -> tuple[int, int | None]:
    assert response.status_code == 400, response.json
    return response.json["error"]["code"], response.json["error"].get("error_subcode")


def echoes(meta) -> list[dict]:
    return [e["item"] for e in meta.client.get("/api/events").json["events"] if e["item"].get("message", {}).get("is_echo")]


def test_text_is_accepted_and_echoed_with_the_same_mid(meta, page_token):
    meta.customer()
    response = meta.send(page_token, message={"text": "Temos sim! \u2728"})
    assert response.status_code == 200
    assert set(response.json) == {"recipient_id", "message_id"} and response.json["recipient_id"] == ANA_AT_LOJA
    echo = echoes(meta)[0]
    assert echo["message"] == {"mid": response.json["message_id"], "is_echo": True, "text": "Temos sim! \u2728"}
    assert echo["sender"] == {"id": LOJA_IG} and echo["recipient"] == {"id": ANA_AT_LOJA}


@pytest.mark.parametrize("path", [f"/graph/v21.0/{LOJA_PAGE}/messages", f"/graph/v21.0/{LOJA_IG}/messages", "/graph/me/messages"])
def test_send_path_is_page_id_ig_id_or_me(meta, page_token, client, path):
    meta.customer()
    response = client.post(path, json={"recipient": {"id": ANA_AT_LOJA}, "message": {"text": "ok"}},
                           headers={"Authorization": f"Bearer {page_token}"})
    assert response.status_code == 200


def test_form_fields_holding_json_strings_are_accepted(meta, page_token, client):
    meta.customer()
    response = client.post("/graph/v21.0/me/messages", data={
        "recipient": json.dumps({"id": ANA_AT_LOJA}), "message": json.dumps({"text": "form json"}),
        "access_token": page_token})
    assert response.status_code == 200, response.json


def test_rails_bracket_forms_are_accepted(meta, page_token, client):
    meta.customer()
    response = client.post(f"/graph/v21.0/me/messages?access_token={page_token}", data={
        "recipient[id]": ANA_AT_LOJA, "message[text]": "Escolha",
        "message[quick_replies][0][content_type]": "text", "message[quick_replies][0][title]": "Sim",
        "message[quick_replies][0][payload]": "Q_YES", "messaging_type": "RESPONSE"})
    assert response.status_code == 200, response.json
    thread = client.get(f"/api/threads/{ANA_AT_LOJA}").json["messages"]
    assert thread[-1]["quick_replies"] == [{"content_type": "text", "title": "Sim", "payload": "Q_YES"}]


def test_text_limit_is_1000_utf8_bytes(meta, page_token):
    meta.customer()
    exactly = "é" * 500  # 1000 bytes, 500 characters
    assert meta.send(page_token, message={"text": exactly}).status_code == 200
    over = meta.send(page_token, message={"text": exactly + "a"})
    assert error_of(over) == (100, None)
    assert over.json["error"]["message"] == "(#100) Length of param message[text] must be less than or equal to 1000"


def test_empty_message_is_refused(meta, page_token):
    meta.customer()
    assert error_of(meta.send(page_token, message={}))[0] == 100


def test_quick_replies_max_13_and_titles_truncated_to_20(meta, page_token, client):
    meta.customer()
    replies = [{"content_type": "text", "title": f"Option number {n} is long", "payload": f"P{n}"} for n in range(13)]
    assert meta.send(page_token, message={"text": "Pick", "quick_replies": replies}).status_code == 200
    stored = client.get(f"/api/threads/{ANA_AT_LOJA}").json["messages"][-1]["quick_replies"]
    assert len(stored) == 13 and all(len(reply["title"]) == 20 for reply in stored)
    assert stored[0]["title"] == "Option number 0 is l"
    too_many = replies + [{"content_type": "text", "title": "x", "payload": "x"}]
    assert error_of(meta.send(page_token, message={"text": "Pick", "quick_replies": too_many})) == (100, None)


def test_window_refuses_at_24h_plus_1s_and_accepts_at_24h_minus_1s(meta, page_token, frozen):
    meta.customer(customer="ana", sent_seconds_ago=DAY + 1)
    late = meta.send(page_token, recipient=ANA_AT_LOJA, message={"text": "tarde demais"})
    assert error_of(late) == (10, 2534022)
    assert late.json["error"]["message"] == "(#10) This message is sent outside of allowed window."

    bruno = ids.igsid("bruno", "loja")
    meta.customer(customer="bruno", sent_seconds_ago=DAY - 1)
    assert meta.send(page_token, recipient=bruno, message={"text": "a tempo"}).status_code == 200
    frozen.advance(2)  # the same conversation, two seconds later: now 24 h + 1 s
    assert error_of(meta.send(page_token, recipient=bruno, message={"text": "agora não"})) == (10, 2534022)


def test_a_new_customer_message_reopens_the_window(meta, page_token):
    meta.customer(sent_hours_ago=30)
    assert error_of(meta.send(page_token, message={"text": "x"})) == (10, 2534022)
    meta.customer(text="voltei")
    assert meta.send(page_token, message={"text": "bem-vinda de volta"}).status_code == 200


def test_a_customer_who_never_wrote_cannot_be_messaged(meta, page_token):
    assert error_of(meta.send(page_token, message={"text": "oi?"})) == (10, 2534022)


def test_human_agent_only_with_the_feature_and_within_7_days(meta, page_token):
    tagged = {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    meta.customer(sent_hours_ago=3 * 24)
    assert error_of(meta.send(page_token, message={"text": "humano"}, **tagged))[0] == 10  # no feature

    meta.settings(human_agent=True)
    assert meta.send(page_token, message={"text": "humano"}, **tagged).status_code == 200
    assert error_of(meta.send(page_token, message={"text": "sem tag"})) == (10, 2534022)

    bruno = ids.igsid("bruno", "loja")
    meta.customer(customer="bruno", sent_seconds_ago=7 * DAY + 1)
    assert error_of(meta.send(page_token, recipient=bruno, message={"text": "x"}, **tagged)) == (10, 2534022)
    carla = ids.igsid("carla", "loja")
    meta.customer(customer="carla", sent_seconds_ago=7 * DAY - 5)
    assert meta.send(page_token, recipient=carla, message={"text": "x"}, **tagged).status_code == 200


def test_other_tags_are_not_available_on_instagram(meta, page_token):
    meta.customer()
    meta.settings(human_agent=True)
    response = meta.send(page_token, message={"text": "x"}, messaging_type="MESSAGE_TAG", tag="ACCOUNT_UPDATE")
    assert error_of(response) == (100, None)


def test_a_customer_who_blocked_the_business_gives_551(meta, page_token, client):
    meta.customer()
    assert client.post(f"/api/threads/{ANA_AT_LOJA}/block", json={}).json["blocked"] is True
    response = meta.send(page_token, message={"text": "oi"})
    assert error_of(response) == (551, 1545041)
    assert response.json["error"]["message"] == "(#551) This person isn't available right now."
    client.post(f"/api/threads/{ANA_AT_LOJA}/unblock", json={})
    assert meta.send(page_token, message={"text": "oi"}).status_code == 200


def test_unknown_recipient(meta, page_token):
    assert error_of(meta.send(page_token, recipient="1111111111111111", message={"text": "x"})) == (100, 2534014)
    # Ana's IGSID for another account is not a recipient of this page either.
    assert error_of(meta.send(page_token, recipient=ids.igsid("ana", "cafe"), message={"text": "x"})) == (100, 2534014)


def test_a_user_token_cannot_send(meta):
    meta.customer()
    assert error_of(meta.send(meta.user_token(), message={"text": "x"}))[0] == 210


def test_without_instagram_manage_messages_sending_is_refused(meta):
    meta.customer()
    token = meta.page_token(decline=("instagram_manage_messages",))
    assert error_of(meta.send(token, message={"text": "x"})) == (10, None)


def test_attachment_by_url_is_fetched_and_served_from_the_sandbox_cdn(meta, page_token, files, client):
    meta.customer()
    response = meta.send(page_token, message={"attachment": {"type": "image", "payload": {"url": f"{files}/cat.png"}}})
    assert response.status_code == 200, response.json
    echo = echoes(meta)[0]["message"]
    assert echo["mid"] == response.json["message_id"]
    url = echo["attachments"][0]["payload"]["url"]
    assert echo["attachments"][0]["type"] == "image" and url.startswith(PUBLIC + "/sandbox/cdn/ig_messaging_cdn/")
    served = client.get(url.removeprefix(PUBLIC + "/sandbox"))
    assert served.status_code == 200 and served.data == media.samples()["sample-image"][1]


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/unreachable.png", "{files}/missing.png", "{files}/doc.pdf"])
def test_attachment_that_cannot_be_fetched_fails_like_meta(meta, page_token, files, url):
    meta.customer()
    response = meta.send(page_token, message={"attachment": {"type": "image", "payload": {"url": url.format(files=files)}}})
    assert error_of(response) == (100, 2018047)
    assert response.json["error"]["message"] == "(#100) Upload attachment failure."
    assert echoes(meta) == []


def test_like_heart_and_media_share(meta, page_token):
    meta.customer()
    assert meta.send(page_token, message={"attachment": {"type": "like_heart"}}).status_code == 200
    share = {"attachment": {"type": "MEDIA_SHARE", "payload": {"id": "17900000000000001"}}}
    assert meta.send(page_token, message=share).status_code == 200


def test_sender_actions(meta, page_token, client):
    customer_mid = meta.customer()["mid"]
    for action in ("typing_on", "mark_seen"):
        response = meta.send(page_token, sender_action=action)
        assert response.status_code == 200 and response.json == {"recipient_id": ANA_AT_LOJA}
    thread = client.get(f"/api/threads/{ANA_AT_LOJA}").json
    assert thread["typing"] is True and thread["messages"][0]["seen"]
    meta.send(page_token, sender_action="typing_off")
    assert client.get(f"/api/threads/{ANA_AT_LOJA}").json["typing"] is False

    react = meta.send(page_token, sender_action="react", payload={"message_id": customer_mid, "reaction": "love"})
    assert react.json == {"recipient_id": ANA_AT_LOJA}
    assert client.get(f"/api/threads/{ANA_AT_LOJA}").json["messages"][0]["business_reaction"] == "\u2764\ufe0f"
    meta.send(page_token, sender_action="unreact", payload={"message_id": customer_mid})
    assert client.get(f"/api/threads/{ANA_AT_LOJA}").json["messages"][0]["business_reaction"] is None
    assert echoes(meta) == []  # no echo for sender actions or the business's reactions


def test_malformed_requests_get_the_envelope_never_a_500(meta, page_token, client):
    meta.customer()
    headers = {"Authorization": f"Bearer {page_token}"}
    bad_json = client.post("/graph/me/messages", data="{not json", content_type="application/json", headers=headers)
    assert error_of(bad_json)[0] == 100
    both = meta.send(page_token, message={"text": "x", "attachment": {"type": "like_heart"}})
    assert error_of(both)[0] == 100
    assert error_of(meta.send(page_token, message={"attachment": {"type": "carousel"}}))[0] == 100
    assert error_of(meta.send(page_token, sender_action="dance"))[0] == 100
    user = {"Authorization": f"Bearer {meta.user_token()}"}
    assert error_of(client.get("/graph/me/accounts", query_string={"limit": "many"}, headers=user)) == (100, None)
    nested = client.post("/graph/me/messages", headers=headers,
                         json={"recipient": json.dumps({"id": ANA_AT_LOJA}), "message": json.dumps({"text": "ok"})})
    assert nested.status_code == 200
