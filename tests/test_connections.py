"""Conexões: the wizard's rules through Direto's own routes, with Meta played by the sandbox over real HTTP.

Each failure of Facebook Login has words and a way back, and none leaves a connection half linked.
"""
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import AuthActions, csrf_token, htmx
from tests.facebook_dialog import log_in
from webapp.bots import store as bot_store
from webapp.connections import linking
from webapp.connections.models import Connection, ConnectionStatus, LinkAttempt
from webapp.extensions import db
from webapp.meta.client import WEBHOOK_FIELDS, GraphClient
from webapp.team import directory

DONA, RUI, NINA, PAULO = "10290072940154774", "10224443298851448", "10282589691691454", "10231159570948693"
LOJA_PAGE, LOJA_IG = "166683886271735", "17841463172128465"


@pytest.fixture
def setup(meta_app):
    with meta_app.app_context():
        reception = directory.ensure_department("Recepção")
        bot = bot_store.ensure_default_bot(reception.id, menu=[("Recepção", reception.id)])
        return {"department": reception.id, "bot": bot.id}


@pytest.fixture
def admin(meta_app, make_user, sandbox, setup):
    client = meta_app.test_client()
    user = make_user("admin", departments=())
    assert AuthActions(client).login(user["email"]).status_code == 302
    client.token = csrf_token(client, "/")
    return client


def new_connection(admin, setup, name="Loja Demo") -> int:
    response = admin.post("/connections/new/instagram", data={
        "csrf_token": admin.token, "name": name, "default_department": setup["department"], "bot": setup["bot"]})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].split("/")[2])


def start_login(admin, connection_id, rerequest=False) -> str:
    """Accept the terms and press "Continue with Facebook": the redirect to the login dialog."""
    path = f"/connections/{connection_id}/link" + ("?rerequest=1" if rerequest else "")
    response = admin.post(path, data={"csrf_token": admin.token, "accept": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def come_back(admin, callback_url: str):
    parts = urlsplit(callback_url)
    assert parts.path == "/connections/oauth/callback"
    return admin.get(f"{parts.path}?{parts.query}")


def log_in_as(admin, connection_id, facebook_user, **dialog):
    return come_back(admin, log_in(start_login(admin, connection_id), facebook_user, **dialog))


def choose(admin, connection_id, page_id):
    return admin.post(f"/connections/{connection_id}/pages", data={"csrf_token": admin.token, "page_id": page_id})


def linked_connection(admin, setup) -> int:
    """A connection linked to the demo page (Dona Demo's Loja Demo, @loja.demo)."""
    connection_id = new_connection(admin, setup)
    log_in_as(admin, connection_id, DONA)
    assert choose(admin, connection_id, LOJA_PAGE).status_code == 302
    return connection_id


def age_pending_login(meta_app) -> None:
    """Make the Facebook Login waiting for its page choice as old as the time it may wait."""
    with meta_app.app_context():
        attempt = db.session.scalar(db.select(LinkAttempt))
        attempt.created_at = attempt.created_at - linking.ATTEMPT_TTL
        db.session.commit()


def connection(meta_app, connection_id) -> Connection:
    with meta_app.app_context():
        found = db.session.get(Connection, connection_id)
        db.session.expunge(found)
        return found


def page_token(meta_app, connection_id):
    with meta_app.app_context():
        return linking.page_token(db.session.get(Connection, connection_id), meta_app.config)


def test_the_details_are_all_required_and_kept_on_error(admin, setup):
    response = admin.post("/connections/new/instagram", data={"csrf_token": admin.token, "name": "Minha loja"},
                          headers=htmx())
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'value="Minha loja"' in body
    assert "Escolha o departamento que recebe os novos chamados." in body
    assert "Escolha o robô que recebe e encaminha os clientes." in body


def test_the_terms_must_be_accepted_before_facebook(admin, setup):
    connection_id = new_connection(admin, setup)
    page = admin.get(f"/connections/{connection_id}/link").get_data(as_text=True)
    assert "Política de privacidade" in page and "Esta instalação do Direto recebe" in page
    refused = admin.post(f"/connections/{connection_id}/link", data={"csrf_token": admin.token})
    assert refused.status_code == 422
    assert "Aceite a política de privacidade" in refused.get_data(as_text=True)


def test_the_login_dialog_asks_for_what_instagram_messaging_needs(admin, setup):
    authorize = urlsplit(start_login(admin, new_connection(admin, setup)))
    query = parse_qs(authorize.query)
    assert authorize.path == "/sandbox/www/v24.0/dialog/oauth"
    assert query["redirect_uri"] == ["http://localhost/connections/oauth/callback"]
    assert query["state"][0] and query["response_type"] == ["code"]
    assert set(query["scope"][0].split(",")) == {
        "instagram_basic", "instagram_manage_messages", "pages_manage_metadata", "pages_show_list",
        "pages_messaging", "pages_read_engagement", "business_management"}


def test_linking_the_demo_page_subscribes_the_app_and_activates_the_connection(meta_app, admin, setup, sandbox):
    connection_id = new_connection(admin, setup)
    listed = log_in_as(admin, connection_id, DONA)
    assert listed.status_code == 302 and listed.headers["Location"] == f"/connections/{connection_id}/pages"

    pages = admin.get(f"/connections/{connection_id}/pages").get_data(as_text=True)
    assert "@loja.demo" in pages and "@cafe.dadona" in pages
    assert "Dona Demo Blog" in pages and "Nenhuma conta profissional do Instagram está vinculada a esta página" in pages
    assert pages.count('type="radio"') == 3 and pages.count("is-disabled") == 1

    done = choose(admin, connection_id, LOJA_PAGE)
    assert done.status_code == 302 and done.headers["Location"] == f"/connections/{connection_id}"
    linked = connection(meta_app, connection_id)
    assert linked.status == ConnectionStatus.ACTIVE
    assert (linked.page_id, linked.instagram_account_id, linked.instagram_username) == (LOJA_PAGE, LOJA_IG, "loja.demo")
    token = page_token(meta_app, connection_id)
    assert token and token not in linked.page_token_ciphertext  # encrypted at rest

    # What Meta now says: the app is subscribed to every field Direto needs.
    fields = GraphClient.from_config(meta_app.config).subscribed_fields(LOJA_PAGE, token)
    assert set(WEBHOOK_FIELDS) <= fields
    loja = next(p for u in sandbox.get("world")["users"] for p in u["pages"] if p["id"] == LOJA_PAGE)
    assert "message_edit" in loja["subscribed_fields"]
    assert "Conexão Loja Demo salva." not in admin.get(f"/connections/{connection_id}").get_data(as_text=True)


def test_every_page_of_a_large_profile_is_listed_and_one_linked_elsewhere_is_marked(meta_app, admin, setup):
    first = new_connection(admin, setup, "Primeira")
    log_in_as(admin, first, DONA)
    assert choose(admin, first, LOJA_PAGE).status_code == 302

    second = new_connection(admin, setup, "Rede")
    log_in_as(admin, second, RUI)
    pages = admin.get(f"/connections/{second}/pages").get_data(as_text=True)
    assert pages.count('type="radio"') == 31  # Graph paging followed to the end
    assert "Já vinculada a Primeira" in pages
    refused = choose(admin, second, LOJA_PAGE)
    assert "já está vinculada a outra conexão" in refused.get_data(as_text=True)
    assert connection(meta_app, second).status == ConnectionStatus.NOT_LINKED


def test_a_cancelled_login_changes_nothing(meta_app, admin, setup):
    connection_id = new_connection(admin, setup)
    response = log_in_as(admin, connection_id, DONA, cancel=True)
    body = response.get_data(as_text=True)
    assert "O login no Facebook foi cancelado" in body and f"/connections/{connection_id}/link" in body
    assert connection(meta_app, connection_id).status == ConnectionStatus.NOT_LINKED


def test_declined_permissions_are_named_and_asked_for_again(meta_app, admin, setup):
    connection_id = new_connection(admin, setup)
    response = log_in_as(admin, connection_id, DONA, decline=("pages_messaging", "instagram_manage_messages"))
    body = response.get_data(as_text=True)
    assert "<code>instagram_manage_messages</code>" in body and "<code>pages_messaging</code>" in body
    assert "<code>pages_show_list</code>" not in body
    assert f"/connections/{connection_id}/link?rerequest=1" in body
    assert connection(meta_app, connection_id).status == ConnectionStatus.NOT_LINKED

    again = start_login(admin, connection_id, rerequest=True)
    assert parse_qs(urlsplit(again).query)["auth_type"] == ["rerequest"]
    assert come_back(admin, log_in(again, DONA)).headers["Location"] == f"/connections/{connection_id}/pages"


@pytest.mark.parametrize("who, words", [
    (NINA, "Este perfil do Facebook não gerencia nenhuma página."),
    (PAULO, "Nenhuma página deste perfil tem uma conta profissional do Instagram vinculada."),
])
def test_a_profile_without_usable_pages_is_told_what_to_do(meta_app, admin, setup, who, words):
    connection_id = new_connection(admin, setup)
    assert log_in_as(admin, connection_id, who).status_code == 302
    body = admin.get(f"/connections/{connection_id}/pages").get_data(as_text=True)
    assert words in body
    assert connection(meta_app, connection_id).status == ConnectionStatus.NOT_LINKED


def test_a_graph_error_is_shown_and_a_retry_works(meta_app, admin, setup, sandbox):
    connection_id = new_connection(admin, setup)
    log_in_as(admin, connection_id, DONA)
    sandbox.fault("subscribed_apps", code=2, count=1)
    failed = choose(admin, connection_id, LOJA_PAGE)
    assert "O Facebook respondeu com um erro:" in failed.get_data(as_text=True)
    assert connection(meta_app, connection_id).status == ConnectionStatus.NOT_LINKED
    assert connection(meta_app, connection_id).page_token_ciphertext is None  # nothing half linked
    assert choose(admin, connection_id, LOJA_PAGE).status_code == 302
    assert connection(meta_app, connection_id).status == ConnectionStatus.ACTIVE


def test_an_answer_with_a_foreign_state_is_refused(meta_app, admin, setup):
    connection_id = new_connection(admin, setup)
    callback = log_in(start_login(admin, connection_id), DONA)
    forged = callback.replace("state=", "state=x")
    response = come_back(admin, forged)
    assert response.status_code == 400
    assert "não corresponde a um login iniciado aqui" in response.get_data(as_text=True)
    assert connection(meta_app, connection_id).status == ConnectionStatus.NOT_LINKED


def test_a_code_cannot_be_used_twice(meta_app, admin, setup):
    connection_id = new_connection(admin, setup)
    first = log_in(start_login(admin, connection_id), DONA)
    assert come_back(admin, first).status_code == 302
    # A new login, answered with the old code (a reload, a replay): Meta says 100/36009.
    new_state = parse_qs(urlsplit(start_login(admin, connection_id)).query)["state"][0]
    old_code = parse_qs(urlsplit(first).query)["code"][0]
    replay = come_back(admin, f"/connections/oauth/callback?code={old_code}&state={new_state}")
    assert replay.status_code == 400
    assert "Esta resposta do Facebook já foi usada" in replay.get_data(as_text=True)


def test_a_190_marks_the_connection_and_reauthorizing_brings_it_back(meta_app, admin, setup, sandbox):
    connection_id = linked_connection(admin, setup)
    sandbox.fault("subscribed_apps", error="190/460", count=1)

    admin.post(f"/connections/{connection_id}/check", data={"csrf_token": admin.token})
    flagged = connection(meta_app, connection_id)
    assert flagged.status == ConnectionStatus.NEEDS_REAUTH and "190" in flagged.status_detail
    banner = admin.get("/").get_data(as_text=True)
    assert "A conexão Loja Demo precisa ser reautorizada" in banner and f"/connections/{connection_id}/link" in banner

    log_in_as(admin, connection_id, DONA)
    pages = admin.get(f"/connections/{connection_id}/pages").get_data(as_text=True)
    assert "esta conexão continua com @loja.demo" in pages  # reauthorizing cannot switch accounts
    assert choose(admin, connection_id, LOJA_PAGE).status_code == 302
    assert connection(meta_app, connection_id).status == ConnectionStatus.ACTIVE
    assert "precisa ser reautorizada" not in admin.get("/").get_data(as_text=True)


def test_a_removed_subscription_is_found_by_the_health_check(meta_app, admin, setup):
    connection_id = linked_connection(admin, setup)
    GraphClient.from_config(meta_app.config).unsubscribe(LOJA_PAGE, page_token(meta_app, connection_id))
    admin.post(f"/connections/{connection_id}/check", data={"csrf_token": admin.token})
    assert connection(meta_app, connection_id).status == ConnectionStatus.NEEDS_REAUTH


def test_disconnecting_unsubscribes_forgets_the_token_and_keeps_the_connection(meta_app, admin, setup):
    connection_id = linked_connection(admin, setup)
    token = page_token(meta_app, connection_id)
    admin.post(f"/connections/{connection_id}/disconnect", data={"csrf_token": admin.token})
    gone = connection(meta_app, connection_id)
    assert gone.status == ConnectionStatus.DISCONNECTED
    assert gone.page_token_ciphertext is None and gone.instagram_account_id is None
    assert gone.instagram_username == "loja.demo"  # history still says which account it was
    assert GraphClient.from_config(meta_app.config).subscribed_fields(LOJA_PAGE, token) == set()
    # The account is free again for a new link.
    again = new_connection(admin, setup, "Loja de novo")
    log_in_as(admin, again, DONA)
    assert choose(admin, again, LOJA_PAGE).status_code == 302


def test_editing_name_department_and_bot(meta_app, admin, setup):
    connection_id = new_connection(admin, setup)
    with meta_app.app_context():
        sales = directory.ensure_department("Vendas").id
    response = admin.post(f"/connections/{connection_id}", headers=htmx(), data={
        "csrf_token": admin.token, "name": "Loja Centro", "default_department": sales, "bot": setup["bot"]})
    assert response.status_code == 200 and "Conexão Loja Centro salva." in response.get_data(as_text=True)
    edited = connection(meta_app, connection_id)
    assert (edited.name, edited.default_department_id) == ("Loja Centro", sales)


def test_an_old_login_expires(meta_app, admin, setup):
    connection_id = new_connection(admin, setup)
    log_in_as(admin, connection_id, DONA)
    age_pending_login(meta_app)
    assert "O login demorou demais e expirou." in admin.get(f"/connections/{connection_id}/pages").get_data(as_text=True)


def test_agents_and_supervisors_see_no_connection(meta_app, make_user, admin, setup):
    connection_id = new_connection(admin, setup)
    for role in ("agent", "supervisor"):
        client = meta_app.test_client()
        AuthActions(client).login(make_user(role)["email"])
        for path in ("/connections/", "/connections/new", f"/connections/{connection_id}",
                     f"/connections/{connection_id}/link", f"/connections/{connection_id}/pages", "/connections/terms"):
            assert client.get(path).status_code == 404, (role, path)


def test_the_daily_check_flags_a_connection_whose_subscription_disappeared(meta_app, admin, setup):
    from webapp.scheduler import jobs

    connection_id = linked_connection(admin, setup)
    with meta_app.app_context():
        jobs.check_connections(meta_app)
    assert connection(meta_app, connection_id).status == ConnectionStatus.ACTIVE
    GraphClient.from_config(meta_app.config).unsubscribe(LOJA_PAGE, page_token(meta_app, connection_id))
    with meta_app.app_context():
        jobs.check_connections(meta_app)
    assert connection(meta_app, connection_id).status == ConnectionStatus.NEEDS_REAUTH


def test_two_logins_open_at_once_each_come_back_to_their_own_connection(meta_app, admin, setup):
    first, second = new_connection(admin, setup, "Primeira"), new_connection(admin, setup, "Segunda")
    first_dialog = start_login(admin, first)
    second_dialog = start_login(admin, second)  # another tab, before the first one came back
    assert come_back(admin, log_in(first_dialog, DONA)).headers["Location"] == f"/connections/{first}/pages"
    assert come_back(admin, log_in(second_dialog, DONA)).headers["Location"] == f"/connections/{second}/pages"


def test_a_token_the_keys_cannot_read_asks_for_reauthorization_and_still_disconnects(meta_app, admin, setup):
    connection_id = linked_connection(admin, setup)
    with meta_app.app_context():
        row = db.session.get(Connection, connection_id)
        row.page_token_ciphertext = "gAAAAA-written-with-a-key-that-is-gone"
        db.session.commit()
        from webapp.scheduler import jobs

        jobs.check_connections(meta_app)  # must not raise
    assert connection(meta_app, connection_id).status == ConnectionStatus.NEEDS_REAUTH
    response = admin.post(f"/connections/{connection_id}/disconnect", data={"csrf_token": admin.token})
    assert response.status_code == 302
    assert connection(meta_app, connection_id).status == ConnectionStatus.DISCONNECTED


def test_abandoned_logins_do_not_keep_the_user_token(meta_app, admin, setup):
    from webapp.scheduler import jobs

    connection_id = new_connection(admin, setup)
    log_in_as(admin, connection_id, DONA)
    age_pending_login(meta_app)
    with meta_app.app_context():
        jobs.check_connections(meta_app)
        assert db.session.scalar(db.select(LinkAttempt)) is None
