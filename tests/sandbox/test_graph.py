"""Graph (issue 3, point 4): /me, /me/accounts with fields and paging, pages, subscribed_apps, profiles,
tokens by Bearer or parameter, appsecret_proof, and Meta's error envelope everywhere."""
from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

import pytest

from webapp.sandbox import ids

from .conftest import ANA_AT_LOJA, APP_SECRET, BLOG_PAGE, DONA, LOJA_IG, LOJA_PAGE, PUBLIC, RUI


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_envelope(response, code: int, subcode: int | None = None, status: int = 400):
    assert response.status_code == status
    error = response.json["error"]
    assert error["type"] == "OAuthException" and error["code"] == code
    assert error.get("error_subcode") == subcode
    assert error["fbtrace_id"] and error["message"]
    return error


@pytest.mark.parametrize("prefix", ["/graph/v21.0", "/graph/v19.0", "/graph/v26.0", "/graph"])
def test_me_answers_under_any_version_prefix_or_none(client, meta, prefix):
    token = meta.user_token()
    assert client.get(f"{prefix}/me", headers=bearer(token)).json == {"id": DONA, "name": "Dona Demo"}


def test_token_as_parameter_or_bearer_and_errors_without_one(client, meta):
    token = meta.user_token()
    assert client.get("/graph/me", query_string={"access_token": token, "fields": "id,name"}).json["name"] == "Dona Demo"
    assert_envelope(client.get("/graph/me"), 104)
    assert_envelope(client.get("/graph/me", headers=bearer("EAAGnonsense")), 190)


def test_appsecret_proof_is_verified_when_present(client, meta):
    token = meta.user_token()
    proof = hmac.new(APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()
    assert client.get("/graph/me", query_string={"access_token": token, "appsecret_proof": proof}).status_code == 200
    error = assert_envelope(client.get("/graph/me", query_string={"access_token": token, "appsecret_proof": "0" * 64}), 100)
    assert "appsecret_proof" in error["message"]


def test_me_accounts_fields_with_nested_instagram_account(client, meta):
    token = meta.user_token()
    fields = "name,access_token,tasks,instagram_business_account{id,username,profile_picture_url}"
    data = client.get("/graph/v21.0/me/accounts", query_string={"fields": fields}, headers=bearer(token)).json["data"]
    by_name = {page["name"]: page for page in data}
    assert set(by_name) == {"Loja Demo", "Café da Dona", "Dona Demo Blog"}
    loja = by_name["Loja Demo"]
    assert loja["id"] == LOJA_PAGE and loja["access_token"].startswith("EAA") and "MESSAGING" in loja["tasks"]
    assert loja["instagram_business_account"]["id"] == LOJA_IG
    assert loja["instagram_business_account"]["username"] == "loja.demo"
    assert loja["instagram_business_account"]["profile_picture_url"].startswith(PUBLIC + "/sandbox/cdn/")
    assert "instagram_business_account" not in by_name["Dona Demo Blog"]  # no linked account: no key at all
    assert "paging" in client.get("/graph/me/accounts", headers=bearer(token)).json
    assert "next" not in client.get("/graph/me/accounts", headers=bearer(token)).json["paging"]


def test_me_accounts_default_fields(client, meta):
    page = client.get("/graph/me/accounts", headers=bearer(meta.user_token())).json["data"][0]
    assert set(page) == {"access_token", "category", "category_list", "name", "id", "tasks"}


def test_paging_walks_every_page_of_a_user_with_more_than_25(client, meta):
    token = meta.user_token(user=RUI)
    url = "/graph/v21.0/me/accounts?fields=id,name,instagram_business_account"
    seen, sizes = [], []
    while url:
        body = client.get(url, headers=bearer(token)).json
        sizes.append(len(body["data"]))
        seen += [page["id"] for page in body["data"]]
        next_url = body["paging"].get("next")
        if next_url:
            assert next_url.startswith(PUBLIC + "/sandbox/graph/v21.0/" + RUI + "/accounts?")
            parts = urlsplit(next_url)
            url = parts.path.removeprefix("/sandbox") + "?" + parts.query
        else:
            url = None
    assert sizes == [25, 6]
    assert len(seen) == len(set(seen)) == 31
    assert LOJA_PAGE in seen  # Rui also manages Loja Demo: its account can be linked elsewhere


def test_paging_with_explicit_limit_and_cursors(client, meta):
    token = meta.user_token(user=RUI)
    first = client.get("/graph/me/accounts", query_string={"limit": 10, "fields": "id"}, headers=bearer(token)).json
    assert len(first["data"]) == 10 and "previous" not in first["paging"]
    after = first["paging"]["cursors"]["after"]
    second = client.get("/graph/me/accounts", query_string={"limit": 10, "after": after, "fields": "id"}, headers=bearer(token)).json
    assert not {p["id"] for p in first["data"]} & {p["id"] for p in second["data"]}
    assert "previous" in second["paging"]


def test_without_pages_show_list_the_list_is_empty(client, meta):
    token = meta.user_token(decline=("pages_show_list",))
    assert client.get("/graph/me/accounts", headers=bearer(token)).json == {"data": []}


def test_page_node_with_instagram_business_account(client, meta):
    token = meta.user_token()
    body = client.get(f"/graph/v21.0/{LOJA_PAGE}", query_string={"fields": "instagram_business_account"}, headers=bearer(token)).json
    assert body == {"instagram_business_account": {"id": LOJA_IG}, "id": LOJA_PAGE}
    assert client.get(f"/graph/{BLOG_PAGE}", query_string={"fields": "instagram_business_account"}, headers=bearer(token)).json == {"id": BLOG_PAGE}
    account = client.get(f"/graph/{LOJA_IG}", query_string={"fields": "id,username"}, headers=bearer(token)).json
    assert account == {"id": LOJA_IG, "username": "loja.demo"}


def test_a_page_the_user_does_not_manage_is_unsupported(client, meta):
    token = meta.user_token(user=RUI)
    error = assert_envelope(client.get(f"/graph/{BLOG_PAGE}", headers=bearer(token)), 100, 33)
    assert error["message"].startswith(f"Unsupported get request. Object with ID '{BLOG_PAGE}' does not exist")


def test_page_token_from_a_long_lived_user_token_never_expires(client, meta, frozen):
    page_token = meta.page_token()
    frozen.advance(400 * 86400)
    assert client.get("/graph/me", headers=bearer(page_token)).json == {"id": LOJA_PAGE, "name": "Loja Demo"}


def test_page_token_from_a_short_lived_user_token_expires_with_it(client, meta, frozen):
    user_token = meta.user_token(long_lived=False)
    page_token = client.get(f"/graph/{LOJA_PAGE}", query_string={"fields": "access_token"}, headers=bearer(user_token)).json["access_token"]
    frozen.advance(3 * 3600)
    assert_envelope(client.get("/graph/me", headers=bearer(page_token)), 190, 463)


def test_subscribed_apps_post_get_delete(client, meta, sandbox):
    page_token = meta.page_token(ids.page_id("cafe"))
    cafe = ids.page_id("cafe")
    assert client.get(f"/graph/v21.0/{cafe}/subscribed_apps", headers=bearer(page_token)).json == {"data": []}
    fields = "messages,messaging_postbacks,messaging_seen,message_reactions,messaging_referral"
    created = client.post(f"/graph/v21.0/{cafe}/subscribed_apps", query_string={"subscribed_fields": fields},
                          headers=bearer(page_token))
    assert created.json == {"success": True}
    listed = client.get(f"/graph/{cafe}/subscribed_apps", headers=bearer(page_token)).json["data"]
    assert listed[0]["id"] == sandbox.settings.app_id and listed[0]["subscribed_fields"] == fields.split(",")
    assert client.delete(f"/graph/{cafe}/subscribed_apps", headers=bearer(page_token)).json == {"success": True}
    assert client.get(f"/graph/{cafe}/subscribed_apps", headers=bearer(page_token)).json == {"data": []}


def test_subscribed_apps_needs_a_page_token_and_valid_fields(client, meta):
    user_token = meta.user_token()
    assert_envelope(client.post(f"/graph/{LOJA_PAGE}/subscribed_apps", headers=bearer(user_token),
                                data={"subscribed_fields": "messages"}), 210)
    page_token = meta.page_token()
    error = assert_envelope(client.post(f"/graph/{LOJA_PAGE}/subscribed_apps", headers=bearer(page_token),
                                        data={"subscribed_fields": "messages,nonsense"}), 100)
    assert 'got "nonsense"' in error["message"]
    # Both spellings of the reaction/referral fields are accepted (meta-platform.md §1.5).
    assert client.post(f"/graph/{LOJA_PAGE}/subscribed_apps", headers=bearer(page_token),
                       data={"subscribed_fields": "messaging_reactions,messaging_referrals"}).json == {"success": True}


def test_subscribing_needs_pages_manage_metadata(client, meta):
    page_token = meta.page_token(decline=("pages_manage_metadata",))
    assert_envelope(client.post(f"/graph/{LOJA_PAGE}/subscribed_apps", headers=bearer(page_token),
                                data={"subscribed_fields": "messages"}), 200)


def test_profile_is_refused_with_230_until_the_customer_writes(client, meta):
    page_token = meta.page_token()
    fields = "name,username,profile_pic,follower_count,is_verified_user,is_user_follow_business,is_business_follow_user"
    error = assert_envelope(client.get(f"/graph/v21.0/{ANA_AT_LOJA}", query_string={"fields": fields}, headers=bearer(page_token)), 230)
    assert error["message"] == "User consent is required to access user profile"

    meta.customer(text="oi")
    profile = client.get(f"/graph/v21.0/{ANA_AT_LOJA}", query_string={"fields": fields}, headers=bearer(page_token)).json
    assert profile["name"] == "Ana Souza" and profile["username"] == "ana.souza" and profile["id"] == ANA_AT_LOJA
    assert profile["follower_count"] == 1234 and profile["is_user_follow_business"] is True
    assert profile["profile_pic"].startswith(PUBLIC + "/sandbox/cdn/ig_messaging_cdn/?asset_id=")
    picture = client.get(profile["profile_pic"].removeprefix(PUBLIC + "/sandbox"))
    assert picture.status_code == 200 and picture.mimetype == "image/svg+xml"


def test_profile_of_another_accounts_customer_is_unsupported(client, meta):
    page_token = meta.page_token()
    ana_at_cafe = ids.igsid("ana", "cafe")
    assert_envelope(client.get(f"/graph/{ana_at_cafe}", headers=bearer(page_token)), 100, 33)


def test_the_three_id_spaces_have_metas_shapes_and_never_overlap():
    page, account, igsid = ids.page_id("loja"), ids.ig_account_id("loja"), ids.igsid("ana", "loja")
    assert len(page) == 15 and len(account) == 17 and account.startswith("1784") and len(igsid) == 16
    assert len({page, account, igsid, ids.user_id("dona")}) == 4


def test_unknown_route_speaks_the_envelope_too(client, meta):
    response = client.get("/graph/v21.0/me/nothing/here", headers=bearer(meta.user_token()))
    assert assert_envelope(response, 2500)["message"] == "Unknown path components: /me/nothing/here"
    assert_envelope(client.put("/graph/v21.0/me", headers=bearer(meta.user_token())), 100)


def test_revoking_the_app_invalidates_its_tokens(client, meta):
    token = meta.user_token()
    assert client.delete("/graph/me/permissions", headers=bearer(token)).json == {"success": True}
    assert_envelope(client.get("/graph/me", headers=bearer(token)), 190, 458)


def test_subscribing_with_every_field_spelling_direto_may_use(client, meta):
    page_token = meta.page_token()
    fields = "messages,messaging_postbacks,messaging_seen,message_reactions,messaging_referral,message_edit"
    assert client.post(f"/graph/v21.0/{LOJA_PAGE}/subscribed_apps", headers=bearer(page_token),
                       data={"subscribed_fields": fields}).json == {"success": True}
