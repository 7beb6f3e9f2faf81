"""Administração in a real browser: htmx forms with inline errors, at desktop and phone size."""
import pytest
from playwright.sync_api import expect

from tests.e2e.test_sign_in_browser import sign_in

pytestmark = pytest.mark.browser


def test_admin_creates_a_user_without_reloading_the_page(page, make_user):
    admin = make_user("admin", departments=("Suporte",))
    sign_in(page, admin["email"])
    page.goto("/admin/users")
    page.evaluate("window.stillTheSamePage = true")  # gone if the browser reloads

    page.get_by_role("link", name="Novo usuário").click()
    form = page.locator("form.editor")
    form.get_by_label("Nome").fill("Célia <script>alert(1)</script>")
    form.get_by_label("E-mail").fill("celia@")
    form.get_by_role("button", name="Salvar").click()
    expect(form.get_by_text("Informe um e-mail válido.")).to_be_visible()
    expect(form.get_by_label("Nome")).to_have_value("Célia <script>alert(1)</script>")
    expect(form.get_by_label("E-mail")).to_be_focused()

    form.get_by_label("E-mail").fill("celia@example.test")
    form.get_by_label("Suporte").check()
    form.get_by_label("Senha").fill("a good password")
    form.get_by_role("button", name="Salvar").click()
    expect(page.get_by_role("status")).to_have_text("Usuário Célia <script>alert(1)</script> criado.")
    expect(page.locator("form.editor")).to_have_count(0)
    row = page.locator("tr", has_text="celia@example.test")
    expect(row).to_contain_text("Célia <script>alert(1)</script>")  # shown as text, not run
    expect(row).to_contain_text("Suporte")
    assert page.evaluate("window.stillTheSamePage") is True


def test_admin_deactivates_a_user_after_confirming(page, make_user):
    admin = make_user("admin", departments=())
    agent = make_user("agent", name="Fábio")
    sign_in(page, admin["email"])
    page.goto("/admin/users")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr", has_text=agent["email"]).get_by_role("button", name="Desativar").click()
    expect(page.get_by_role("status")).to_have_text("Fábio desativado.")
    expect(page.locator("tr", has_text=agent["email"]).get_by_role("button", name="Reativar")).to_be_visible()
