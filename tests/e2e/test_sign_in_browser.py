"""Signing in, in a real Chromium against the real server (gunicorn + gevent), at desktop and phone size."""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, email, password=TEST_PASSWORD):
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Senha").fill(password)
    page.get_by_role("button", name="Entrar").click()


def test_admin_signs_in_in_portuguese_and_finds_every_page(page, screen, make_user):
    admin = make_user("admin", name="Ana Admin", departments=())
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    expect(page.locator("html")).to_have_attribute("lang", "pt-BR")
    sign_in(page, admin["email"])
    expect(page.get_by_role("heading", name="Chat", level=1)).to_be_visible()
    nav = page.get_by_role("navigation", name="Principal")
    for label in ("Chat", "Conexões", "Histórico", "Administração"):
        expect(nav.get_by_role("link", name=label)).to_be_visible()

    if screen == "phone":
        # The navigation is a bottom bar that fits 360 px, and nothing scrolls sideways. Wait for the page's
        # stylesheet first: under load, layout can be read before it applies.
        page.wait_for_load_state("load")
        expect(nav).to_have_css("position", "fixed")
        box = nav.bounding_box()
        assert box["y"] + box["height"] == pytest.approx(740, abs=1) and box["width"] == pytest.approx(360, abs=1)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.get_by_label("Conta").click()
    nav_or_menu = page.locator(".sidenav-footer" if screen == "desktop" else ".user-menu-panel")
    expect(nav_or_menu.get_by_text(admin["email"])).to_be_visible()

    nav.get_by_role("link", name="Administração").click()
    expect(page.locator("#users-section tr", has_text=admin["email"])).to_be_visible()

    if screen == "phone":
        page.get_by_label("Conta").click()
    nav_or_menu.get_by_role("button", name="Sair").click()
    expect(page.get_by_role("button", name="Entrar")).to_be_visible()


def test_wrong_password_says_so_and_keeps_the_email(page, make_user):
    user = make_user("agent")
    sign_in(page, user["email"], "not my password")
    expect(page.get_by_role("alert")).to_have_text("E-mail ou senha incorretos.")
    expect(page.get_by_label("E-mail")).to_have_value(user["email"])
    expect(page.get_by_label("Senha")).to_be_focused()


def test_a_form_without_its_csrf_token_is_refused(page, make_user):
    user = make_user("agent")
    page.goto("/login")
    page.locator("input[name=csrf_token]").first.evaluate("el => el.remove()")
    page.get_by_label("E-mail").fill(user["email"])
    page.get_by_label("Senha").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("alert")).to_contain_text("Este formulário expirou")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_an_agent_opening_an_admin_page_gets_not_found(page, make_user):
    agent = make_user("agent")
    sign_in(page, agent["email"])
    expect(page.get_by_role("heading", name="Chat", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Administração")).to_have_count(0)
    response = page.goto("/admin/users")
    assert response.status == 404
    expect(page.get_by_text("Página não encontrada.")).to_be_visible()


def test_switching_to_english(page, screen, make_user):
    user = make_user("supervisor", departments=())
    sign_in(page, user["email"])
    if screen == "phone":
        page.get_by_label("Conta").click()
        page.locator(".user-menu-panel").get_by_role("button", name="EN").click()
    else:
        page.locator(".sidenav-footer").get_by_role("button", name="EN").click()
    expect(page.get_by_role("heading", name="Chat", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="History")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
