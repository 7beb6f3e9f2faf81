"""Facebook Login (issue 3, point 3): the dialog, single-use codes, redirect_uri, tokens, debug_token,
granted and declined permissions."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .conftest import APP_ID, APP_SECRET, DONA, REDIRECT_URI, SCOPES


def test_dialog_lists_users_then_a_consent_screen_with_a_checkbox_per_permission(client, meta):
    page = client.get("/www/v21.0/dialog/oauth", query_string=meta.dialog_params())
    assert page.status_code == 200
    assert b"Dona Demo" in page.data and b"Rui Redes" in page.data

    meta.authorize(action="cancel")  # logs in as Dona on the way
    consent = client.get("/www/v24.0/dialog/oauth", query_string=meta.dialog_params()).get_data(as_text=True)
    for scope in SCOPES.split(","):
        assert f'name="grant" value="{scope}" checked' in consent
    assert 'value="continue"' in consent and 'value="cancel"' in consent


def test_continue_redirects_with_code_and_state_and_the_facebook_fragment(meta):
    response = meta.authorize()
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?") and location.endswith("#_=_")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st4te"] and query["code"][0].startswith("AQ")


def test_cancel_redirects_with_metas_error_parameters(meta):
    location = meta.authorize(action="cancel").headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query == {"error": ["access_denied"], "error_code": ["200"], "error_description": ["Permissions error"],
                     "error_reason": ["user_denied"], "state": ["st4te"]}


def test_dialog_refuses_an_unknown_app_or_redirect_uri(client, meta):
    bad_app = client.get("/www/dialog/oauth", query_string={**meta.dialog_params(), "client_id": "42"})
    assert bad_app.status_code == 400 and b"Invalid App ID" in bad_app.data
    elsewhere = client.get("/www/dialog/oauth", query_string=meta.dialog_params(redirect_uri="https://evil.example/cb"))
    assert elsewhere.status_code == 400 and b"URL blocked" in elsewhere.data


def test_code_exchange_gives_a_short_lived_token_and_the_code_cannot_be_used_twice(meta):
    code = meta.code()
    first = meta.exchange(code)
    assert first.status_code == 200
    assert first.json["token_type"] == "bearer" and 3600 <= first.json["expires_in"] <= 2 * 3600

    again = meta.exchange(code)
    assert again.status_code == 400
    error = again.json["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 36009, "OAuthException")
    assert error["message"] == "This authorization code has been used."
    assert again.headers["WWW-Authenticate"].startswith('OAuth "Facebook Platform" "invalid_code"')


def test_redirect_uri_must_be_identical_to_the_dialogs(meta):
    response = meta.exchange(meta.code(), redirect_uri=REDIRECT_URI + "/")
    assert response.status_code == 400
    assert (response.json["error"]["code"], response.json["error"]["error_subcode"]) == (100, 36008)


def test_client_secret_is_checked(client, meta):
    response = client.get("/graph/oauth/access_token", query_string={
        "client_id": APP_ID, "client_secret": "wrong", "redirect_uri": REDIRECT_URI, "code": meta.code()})
    assert response.status_code == 400 and response.json["error"]["message"] == "Error validating client secret."


def test_fb_exchange_token_gives_a_sixty_day_token(client, meta):
    short = meta.exchange(meta.code()).json["access_token"]
    response = client.post("/graph/v21.0/oauth/access_token", data={
        "grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": APP_SECRET, "fb_exchange_token": short})
    assert response.status_code == 200
    assert response.json["expires_in"] > 59 * 86400 and response.json["access_token"] != short


def test_an_expired_token_cannot_be_exchanged(client, meta, frozen):
    short = meta.exchange(meta.code()).json["access_token"]
    frozen.advance(3 * 3600)
    response = client.get("/graph/oauth/access_token", query_string={
        "grant_type": "fb_exchange_token", "client_id": APP_ID, "client_secret": APP_SECRET, "fb_exchange_token": short})
    assert (response.json["error"]["code"], response.json["error"]["error_subcode"]) == (190, 463)
    assert "Session has expired on" in response.json["error"]["message"]


def test_declined_permission_shows_as_declined_in_permissions_and_debug_token(client, meta):
    token = meta.user_token(decline=("instagram_manage_messages",))
    permissions = client.get("/graph/v21.0/me/permissions", headers={"Authorization": f"Bearer {token}"}).json
    statuses = {row["permission"]: row["status"] for row in permissions["data"]}
    assert statuses["instagram_manage_messages"] == "declined"
    assert statuses["pages_show_list"] == "granted" and statuses["public_profile"] == "granted"
    assert set(permissions["data"][0]) == {"permission", "status"}

    debug = client.get("/graph/debug_token", query_string={
        "input_token": token, "access_token": f"{APP_ID}|{APP_SECRET}"}).json["data"]
    assert debug["is_valid"] is True and debug["type"] == "USER" and debug["user_id"] == DONA
    assert debug["app_id"] == APP_ID
    assert "instagram_manage_messages" not in debug["scopes"] and "pages_show_list" in debug["scopes"]


def test_asking_again_can_grant_what_was_declined(client, meta):
    meta.user_token(decline=("pages_manage_metadata",))
    token = meta.user_token()
    statuses = {row["permission"]: row["status"] for row in
                client.get("/graph/me/permissions", query_string={"access_token": token}).json["data"]}
    assert statuses["pages_manage_metadata"] == "granted"


def test_debug_token_of_a_page_token_never_expires(client, meta):
    page_token = meta.page_token()
    data = client.get("/graph/v21.0/debug_token", query_string={
        "input_token": page_token, "access_token": f"{APP_ID}|{APP_SECRET}"}).json["data"]
    assert data["type"] == "PAGE" and data["expires_at"] == 0 and data["is_valid"] is True
    assert any(scope["scope"] == "pages_show_list" for scope in data["granular_scopes"])


def test_debug_token_reports_an_unknown_token_as_invalid(client):
    data = client.get("/graph/debug_token", query_string={
        "input_token": "EAAGnope", "access_token": f"{APP_ID}|{APP_SECRET}"}).json["data"]
    assert data["is_valid"] is False and data["error"]["code"] == 190
