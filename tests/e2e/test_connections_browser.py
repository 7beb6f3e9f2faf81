"""Linking a page in a real Chromium, against the sandbox on the live server, at desktop and phone size:
the happy path, each failure of Facebook Login (with words and a way back), and reauthorization after a 190."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.test_sign_in_browser import sign_in
from webapp.bots import store as bot_store
from webapp.team import directory

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_page(app, page, make_user, sandbox):
    with app.app_context():
        reception = directory.ensure_department("Recepção")
        bot_store.ensure_default_bot(reception.id, menu=[("Recepção", reception.id)])
    sign_in(page, make_user("admin", departments=())["email"])
    expect(page.get_by_role("heading", name="Chat", level=1)).to_be_visible()
    return page


def go_to_facebook(page, name="Loja Demo"):
    """Conexões → Nova conexão → Instagram → details → accept the terms → Continue with Facebook."""
    page.goto("/connections/")
    page.get_by_role("link", name="Nova conexão").click()
    page.get_by_role("link", name=re.compile("Instagram Direct")).click()
    page.get_by_label("Nome").fill(name)
    page.get_by_label("Departamento padrão para chamados").select_option(label="Recepção")
    page.get_by_label("Robô").select_option(label="Triagem")
    page.get_by_role("button", name="Continuar").click()
    accept_terms_and_continue(page)


def accept_terms_and_continue(page):
    expect(page.get_by_role("heading", name="Política de privacidade")).to_be_visible()
    page.get_by_label("Li e aceito a política de privacidade e os termos de uso").check()
    page.get_by_role("button", name="Continuar com o Facebook").click()
    expect(page).to_have_url(re.compile(r"/sandbox/www/v\d+\.\d+/dialog/oauth"))


def facebook_dialog(page, who="Dona Demo", decline=(), cancel=False):
    """Log in as `who` (Facebook remembers the last user: switch with "Not you?"), then consent or cancel."""
    chooser = page.get_by_role("button", name=who)
    consent = page.get_by_role("button", name=re.compile("^Continue as"))
    expect(chooser.or_(consent)).to_be_visible()
    if consent.is_visible() and not page.get_by_text(f"Logged in as {who}").is_visible():
        page.get_by_role("link", name="Not you?").click()
    if chooser.is_visible():
        chooser.click()
    for permission in decline:
        page.locator(f"input[name=grant][value={permission}]").uncheck()
    page.get_by_role("button", name="Cancel" if cancel else re.compile("^Continue as")).click()


def choose_page(page, name):
    page.locator("label.page-choice", has=page.get_by_text(name, exact=True)).click()
    page.get_by_role("button", name="Vincular esta página").click()


def test_an_admin_links_the_demo_page_by_clicking(admin_page, sandbox):
    page = admin_page
    go_to_facebook(page)
    facebook_dialog(page)
    expect(page.get_by_role("heading", name="Escolha a página de Loja Demo")).to_be_visible()
    expect(page.get_by_text("Páginas de Dona Demo no Facebook")).to_be_visible()
    blog = page.locator("label.page-choice", has_text="Dona Demo Blog")
    expect(blog.get_by_role("radio")).to_be_disabled()
    expect(blog).to_contain_text("Nenhuma conta profissional do Instagram")
    choose_page(page, "Loja Demo")

    expect(page.get_by_role("status")).to_contain_text("A conexão Loja Demo está ativa")
    expect(page.locator(".page-header .badge")).to_have_text("Ativa")
    expect(page.get_by_text("@loja.demo")).to_be_visible()
    page.goto("/connections/")
    row = page.locator("tr", has_text="Loja Demo")
    expect(row).to_contain_text("@loja.demo")
    expect(row).to_contain_text("Recepção")
    expect(row).to_contain_text("Triagem")

    # The sandbox, playing Meta's App Dashboard, shows the app subscribed to the page.
    page.goto("/sandbox/")
    subscriptions = page.locator("#subscriptions")
    expect(subscriptions.locator("tr", has_text="Loja Demo")).to_contain_text("message_edit")


@pytest.mark.parametrize("case", ["cancelled", "declined", "no_pages", "no_instagram"])
def test_each_login_failure_has_words_and_a_way_back(admin_page, case):
    page = admin_page
    go_to_facebook(page)
    if case == "cancelled":
        facebook_dialog(page, cancel=True)
        expect(page.get_by_role("alert")).to_contain_text("O login no Facebook foi cancelado")
    elif case == "declined":
        facebook_dialog(page, decline=("pages_messaging",))
        expect(page.get_by_role("alert")).to_contain_text("pages_messaging")
        page.get_by_role("link", name="Pedir as permissões de novo").click()
        expect(page.get_by_role("alert")).to_contain_text("O Facebook vai pedir de novo")
        accept_terms_and_continue(page)
        assert parse_qs(urlsplit(page.url).query)["auth_type"] == ["rerequest"]
        facebook_dialog(page)
        expect(page.get_by_role("heading", name="Escolha a página de Loja Demo")).to_be_visible()
        return
    elif case == "no_pages":
        facebook_dialog(page, who="Nina Sem Páginas")
        expect(page.get_by_role("alert")).to_contain_text("não gerencia nenhuma página")
    else:
        facebook_dialog(page, who="Paulo Sem Instagram")
        expect(page.get_by_role("alert")).to_contain_text("Nenhuma página deste perfil tem uma conta profissional")
    page.get_by_role("link", name="Tentar de novo").click()
    expect(page.get_by_role("button", name="Continuar com o Facebook")).to_be_visible()
    page.goto("/connections/")
    expect(page.locator("tr", has_text="Loja Demo")).to_contain_text("Não vinculada")


def test_a_graph_error_is_explained_and_nothing_is_half_linked(admin_page, sandbox):
    page = admin_page
    go_to_facebook(page)
    facebook_dialog(page)
    sandbox.fault("subscribed_apps", http_status=500, count=1)
    choose_page(page, "Loja Demo")
    expect(page.get_by_role("alert")).to_contain_text("O Facebook respondeu com um erro")
    page.goto("/connections/")
    expect(page.locator("tr", has_text="Loja Demo")).to_contain_text("Não vinculada")


def test_a_foreign_state_and_a_reused_code_are_refused(admin_page):
    page = admin_page
    go_to_facebook(page)
    with page.expect_request(re.compile(r"/connections/oauth/callback\?code=")) as first:
        facebook_dialog(page)
    old_code = parse_qs(urlsplit(first.value.url).query)["code"][0]
    expect(page.get_by_role("heading", name="Escolha a página de Loja Demo")).to_be_visible()

    connection_path = re.search(r"/connections/\d+", page.url).group(0)
    page.goto(f"{connection_path}/link")
    accept_terms_and_continue(page)
    state = parse_qs(urlsplit(page.url).query)["state"][0]
    page.goto(f"/connections/oauth/callback?code={old_code}&state={state}")
    expect(page.get_by_role("alert")).to_contain_text("Esta resposta do Facebook já foi usada")

    page.goto(f"/connections/oauth/callback?code={old_code}&state=forged")
    expect(page.get_by_role("alert")).to_contain_text("não corresponde a um login iniciado aqui")


def test_a_190_asks_for_reauthorization_and_reauthorizing_brings_it_back(admin_page, sandbox):
    page = admin_page
    go_to_facebook(page)
    facebook_dialog(page)
    choose_page(page, "Loja Demo")
    expect(page.locator(".page-header .badge")).to_have_text("Ativa")

    sandbox.fault("graph", error="190/460", count=1)
    page.get_by_role("button", name="Verificar agora").click()
    expect(page.locator(".page-header .badge")).to_have_text("Precisa reautorizar")
    banner = page.locator(".banner")
    expect(banner).to_contain_text("A conexão Loja Demo precisa ser reautorizada")

    banner.get_by_role("link", name="Reautorizar").click()
    accept_terms_and_continue(page)
    facebook_dialog(page)
    choose_page(page, "Loja Demo")
    expect(page.locator(".page-header .badge")).to_have_text("Ativa")
    expect(page.locator(".banner")).to_have_count(0)
