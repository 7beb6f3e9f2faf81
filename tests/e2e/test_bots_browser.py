"""Robôs and Horários in a real browser: rows added with htmx, inline errors, at desktop and phone size.

The admin reads English: the assertions hold before and after the pt-BR catalog gains these texts.
"""
import pytest
from playwright.sync_api import expect

from tests.e2e.test_sign_in_browser import sign_in
from webapp.bots import store

pytestmark = pytest.mark.browser


def test_admin_creates_a_bot_with_two_options_without_reloading(page, screen, make_user):
    admin = make_user("admin", departments=("Vendas", "Suporte"), language="en")
    sign_in(page, admin["email"])
    page.goto("/admin/bots")
    page.evaluate("window.stillTheSamePage = true")  # gone if the browser reloads

    page.get_by_role("link", name="New bot").click()
    form = page.locator("form.editor")
    expect(form.get_by_label("Name", exact=True)).to_be_focused()
    form.get_by_label("Name", exact=True).fill("Triagem")
    form.get_by_label("Greeting").fill("Olá {{cliente}}! Protocolo {{protocolo}}.")
    form.get_by_label("Text of option 1").fill("Falar com vendas")
    form.get_by_label("Department of option 1").select_option(label="Vendas")

    form.get_by_role("button", name="Add option").click()
    expect(form.get_by_label("Text of option 2")).to_be_focused()
    expect(form.get_by_label("Text of option 1")).to_have_value("Falar com vendas")
    form.get_by_label("Text of option 2").fill("Suporte técnico")
    form.get_by_label("Department of option 2").select_option(label="Suporte")
    form.get_by_label("Message for an invalid answer").fill("Responda com o número da opção.")
    form.get_by_label("Department after the last attempt").select_option(label="Vendas")
    form.get_by_label("Out-of-hours message").fill("Estamos fora do horário, {{nome}}.")
    form.get_by_role("button", name="Save").click()

    expect(form.get_by_text("Unknown placeholder {{cliente}}.")).to_be_visible()
    expect(form.get_by_label("Greeting")).to_be_focused()
    expect(form.get_by_label("Text of option 2")).to_have_value("Suporte técnico")
    form.get_by_label("Greeting").fill("Olá {{nome}}! Protocolo {{protocolo}}.")
    form.get_by_role("button", name="Save").click()

    expect(page.get_by_role("status")).to_have_text("Bot Triagem saved.")
    expect(page.locator("form.editor")).to_have_count(0)
    row = page.locator("#bots-section tr", has_text="Triagem")
    expect(row).to_contain_text("Falar com vendas")
    expect(row).to_contain_text("Suporte técnico")
    assert page.evaluate("window.stillTheSamePage") is True
    if screen == "phone":
        page.wait_for_load_state("load")  # measure layout only once the stylesheet applies
        assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_admin_adds_a_second_interval_to_a_day(page, screen, app, make_user):
    admin = make_user("admin", departments=(), language="en")
    with app.app_context():
        store.ensure_default_schedule()
    sign_in(page, admin["email"])
    page.goto("/admin/business-hours")
    page.evaluate("window.stillTheSamePage = true")

    page.locator("tr", has_text="Horário comercial").get_by_role("link", name="Edit").click()
    form = page.locator("form.editor")
    expect(form.get_by_label("Monday, interval 1: opens")).to_have_value("08:00")
    form.get_by_role("button", name="Add an interval on Monday").click()
    expect(form.get_by_label("Monday, interval 2: opens")).to_be_focused()
    form.get_by_label("Monday, interval 2: opens").fill("17:00")
    form.get_by_label("Monday, interval 2: closes").fill("21:00")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_text("This interval overlaps another one on the same day.").first).to_be_visible()
    expect(form.get_by_label("Monday, interval 2: opens")).to_have_value("17:00")

    form.get_by_label("Monday, interval 2: opens").fill("19:00")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Business hours Horário comercial saved.")
    expect(page.locator("tr", has_text="Horário comercial")).to_contain_text("08:00–18:00, 19:00–21:00")
    assert page.evaluate("window.stillTheSamePage") is True
    if screen == "phone":
        page.wait_for_load_state("load")  # measure layout only once the stylesheet applies
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
