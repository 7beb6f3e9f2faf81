"""Chat in a real Chromium against the live server, with the sandbox as Meta and its customer phone in a second
window: a whole conversation happens with no reload, the tunnel closes under the agent's eyes, and what an agent
may not see stays out of reach."""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PHONE
from tests.e2e.test_sign_in_browser import sign_in
from tests.inbound_support import eventually
from tests.test_connections import admin  # noqa: F401  (fixture)
from tests.test_inbound_live import ANA, setup, shop  # noqa: F401  (fixtures)
from webapp.extensions import db
from webapp.messages.models import MediaFile, Message

pytestmark = pytest.mark.browser

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def customer_phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="pt-BR", **PHONE)
    phone = context.new_page()
    phone.goto("/sandbox/phone/")
    phone.check("input[value=ana]")
    phone.click("text=Open chat")
    phone.wait_for_url(f"**/phone/{ANA}")
    return phone


def phone_says(phone, text):
    phone.fill("#composer input[name=text]", text)
    phone.click("button.send")


def business_messages(sandbox):
    return [m for m in sandbox.get(f"threads/{ANA}")["messages"] if m["from"] == "business"]


def test_a_whole_conversation_from_the_first_dm_to_closing_with_no_reload(page, screen, browser, live_server, sandbox,
                                                                          shop, make_user):  # noqa: F811
    silvia = make_user("agent", name="Sílvia", departments=("Suporte",))
    bruno = make_user("agent", name="Bruno", departments=("Vendas",))
    sign_in(page, bruno["email"])
    page.goto("/")
    expect(page.locator("#chat")).to_have_attribute("data-live", "open")
    page.evaluate("window.stillTheSamePage = true")
    # Sílvia, of Suporte, has Direto open too, on a desktop.
    support = browser.new_context(base_url=live_server.url, locale="pt-BR", viewport={"width": 1280, "height": 800})
    other = support.new_page()
    sign_in(other, silvia["email"])
    other.goto("/?tab=chats")
    expect(other.locator("#chat")).to_have_attribute("data-live", "open")
    other.evaluate("window.stillTheSamePage = true")

    phone = customer_phone(browser, live_server)
    phone_says(phone, "Oi! Vocês têm o tênis 42? <script>alert(1)</script>")
    phone.wait_for_selector("text=Seu protocolo é")  # the bot greets, with its menu
    phone.click("button.chip:has-text('Vendas')")

    # The ticket reaches Vendas: Bruno's open page lists it, live.
    row = page.locator(".ticket-row", has_text="Ana Souza")
    expect(row).to_be_visible()
    expect(page.locator("#count-queue")).to_have_text("1")
    row.click()
    conversation = page.locator(".conversation")
    expect(conversation.get_by_text("Oi! Vocês têm o tênis 42? <script>alert(1)</script>")).to_be_visible()
    expect(conversation.get_by_text("O robô encaminhou o chamado para Vendas")).to_be_visible()
    expect(conversation.locator(".tunnel")).to_contain_text("Túnel aberto — fecha em 23 h")

    # Answering takes the ticket; the customer's phone shows the answer, signed by Bruno.
    composer = page.locator("form.composer")
    composer.locator("textarea[name=text]").fill("Temos sim! Qual cor?")
    expect(composer.locator(".counter")).to_contain_text("20 de")
    composer.get_by_role("button", name="Enviar").click()
    expect(conversation.get_by_text("Bruno assumiu o chamado")).to_be_visible()
    expect(page.locator("#count-chats")).to_have_text("1")
    phone.wait_for_selector("text=Temos sim! Qual cor?")
    expect(conversation.locator(".msg.out", has_text="Temos sim!").locator(".msg-status")).to_contain_text(
        re.compile("enviada|vista"))

    # The customer answers with a photo: it arrives live, and is kept by Direto.
    phone.click("summary:has-text('Attach')")
    phone.click("button.chip[value=image]")
    expect(conversation.locator(".msg.in img.msg-media")).to_be_visible(timeout=15_000)

    # Bruno sends an image back, with upload progress; the phone receives it.
    composer.locator("input[type=file]").set_input_files({"name": "foto.png", "mimeType": "image/png", "buffer": PNG})
    expect(conversation.locator(".msg.out img.msg-media")).to_be_visible()
    eventually(lambda: any(m.get("attachments") for m in business_messages(sandbox)))

    # Transfer to Suporte, to Sílvia, with a comment: the ticket leaves Bruno's page.
    conversation.get_by_role("link", name="Transferir").click()
    panel = page.locator(".panel-form")
    panel.get_by_label("Departamento").select_option(label="Suporte")
    panel.get_by_label("Atendente (opcional)").select_option(label="Sílvia")
    panel.get_by_label("Comentário (opcional)").fill("Dúvida sobre a numeração")
    panel.get_by_role("button", name="Transferir").click()
    expect(page.get_by_text("transferido para Sílvia")).to_be_visible()
    expect(page.locator("#count-chats")).to_have_text("0")
    # Sílvia's open page lists it in her chats, live; she reads the thread and closes the ticket.
    expect(other.locator("#count-chats")).to_have_text("1")
    other.locator(".ticket-row", has_text="Ana Souza").click()
    her_view = other.locator(".conversation")
    expect(her_view.get_by_text("Dúvida sobre a numeração")).to_be_visible()
    expect(her_view.locator(".msg.out img.msg-media")).to_be_visible()
    her_view.get_by_role("link", name="Encerrar").click()
    other.locator(".panel-form").get_by_role("button", name="Encerrar chamado").click()
    expect(her_view.get_by_text("Sílvia encerrou o chamado")).to_be_visible()
    expect(other.locator("#count-chats")).to_have_text("0")
    assert other.evaluate("window.stillTheSamePage") is True
    support.close()
    assert page.evaluate("window.stillTheSamePage") is True
    if screen == "phone":
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_sílvia_closes_and_the_next_message_opens_a_new_ticket(page, screen, browser, live_server, sandbox, shop,  # noqa: F811
                                                               make_user, meta_app, setup):  # noqa: F811
    make_user("admin", name="Admin", departments=())
    silvia = make_user("agent", name="Sílvia", departments=("Suporte",))
    sandbox.post("messages", customer="ana", kind="text", text="Preciso de ajuda")
    sandbox.post("messages", customer="ana", kind="quick_reply", text="Suporte", payload="DIRETO_BOT_OPTION:2")
    sign_in(page, silvia["email"])
    page.goto("/")
    page.evaluate("window.stillTheSamePage = true")
    # The sandbox delivers, the live server processes and the bot routes in the background: on a busy machine the
    # row may take longer than the default 10 s to arrive (live, without a reload).
    page.locator(".ticket-row", has_text="Ana Souza").click(timeout=30_000)
    conversation = page.locator(".conversation")
    conversation.get_by_role("button", name="Atender").click()
    expect(conversation.get_by_text("Sílvia assumiu o chamado")).to_be_visible()

    # A comment stays inside the team.
    composer = page.locator("form.composer")
    composer.get_by_label("Comentário interno").check()
    composer.locator("textarea[name=text]").fill("Cliente fiel, tratar com carinho")
    composer.get_by_role("button", name="Enviar").click()
    expect(conversation.locator(".note", has_text="Cliente fiel")).to_be_visible()
    assert not any("Cliente fiel" in (m.get("text") or "") for m in sandbox.get(f"threads/{ANA}")["messages"])

    conversation.get_by_role("link", name="Encerrar").click()
    page.locator(".panel-form").get_by_label("Comentário (opcional)").fill("Resolvido pelo telefone")
    page.locator(".panel-form").get_by_role("button", name="Encerrar chamado").click()
    expect(conversation.get_by_text("Sílvia encerrou o chamado")).to_be_visible()
    expect(page.locator(".composer-notice")).to_contain_text("Este chamado está encerrado")

    phone = customer_phone(browser, live_server)
    phone_says(phone, "Esqueci uma coisa")
    expect(phone.get_by_text("Seu protocolo é")).to_have_count(2)  # a new ticket, a new greeting
    with meta_app.app_context():
        protocols = db.session.execute(db.text("SELECT protocol FROM tickets ORDER BY id")).scalars().all()
    assert len(protocols) == 2 and protocols[0] != protocols[1]
    assert page.evaluate("window.stillTheSamePage") is True


def test_the_tunnel_closes_under_the_agents_eyes_and_a_new_message_reopens_it(page, screen, sandbox, shop,  # noqa: F811
                                                                              make_user):  # noqa: F811
    bruno = make_user("agent", name="Bruno", departments=("Recepção",))
    # Ana's message is back-dated: Instagram's 24 hours end a few seconds into the test.
    sandbox.post("messages", customer="ana", kind="text", text="Ainda dá tempo?",
                 sent_seconds_ago=24 * 3600 - 6)
    sign_in(page, bruno["email"])
    page.goto("/")
    page.evaluate("window.stillTheSamePage = true")
    page.locator(".ticket-row", has_text="Ana Souza").click()
    composer = page.locator("form.composer")
    expect(composer).to_have_attribute("data-state", "open")
    expect(page.locator(".conversation .tunnel")).to_have_class(re.compile("warn"))  # under an hour: highlighted

    expect(composer.locator(".composer-notice")).to_have_text("Envio de mensagem só é permitido com túnel aberto",
                                                              timeout=15_000)
    expect(composer).to_have_attribute("data-state", "tunnel_closed")
    expect(composer.get_by_role("radio", name="Mensagem")).to_be_disabled()

    # Ana writes again: the tunnel reopens, live, and the composer sends again.
    sandbox.post("messages", customer="ana", kind="text", text="Oi de novo")
    expect(page.locator(".conversation").get_by_text("Oi de novo")).to_be_visible()
    expect(page.locator("form.composer")).to_have_attribute("data-state", "open")
    assert page.evaluate("window.stillTheSamePage") is True


def test_another_departments_agent_cannot_open_the_ticket_or_its_media_by_url(page, screen, sandbox, shop, make_user,  # noqa: F811
                                                                              meta_app):  # noqa: F811
    sandbox.post("messages", customer="ana", kind="image")
    media = eventually(lambda: [m for m in query_media(meta_app) if m[1] == "stored"])
    with meta_app.app_context():
        ticket_id = db.session.scalar(db.select(Message.ticket_id))
    outsider = make_user("agent", name="Otávio", departments=("Suporte",))
    sign_in(page, outsider["email"])
    for path in (f"/tickets/{ticket_id}", f"/media/{media[0][0]}"):
        response = page.goto(path)
        assert response.status == 404, path
    page.goto("/")
    expect(page.locator(".ticket-row")).to_have_count(0)


def query_media(app):
    with app.app_context():
        return [(m.id, m.status.value) for m in db.session.scalars(db.select(MediaFile))]


def test_quick_replies_with_a_slash_and_unread_dms_in_the_tab_title(page, screen, sandbox, shop, make_user,  # noqa: F811
                                                                     meta_app):  # noqa: F811
    from webapp.workspace import store

    with meta_app.app_context():
        store.save_quick_reply(None, shortcut="boasvindas", text="Olá! Seja bem-vinda à Loja Demo.", department_id=None)
    bruno = make_user("agent", name="Bruno", departments=("Recepção",))
    sandbox.post("messages", customer="ana", kind="text", text="Oi")
    sign_in(page, bruno["email"])
    page.goto("/")
    expect(page.locator("#chat")).to_have_attribute("data-live", "open")
    # A DM while the agent looks at the list: the tab title counts it.
    sandbox.post("messages", customer="ana", kind="text", text="Alguém aí?")
    expect(page).to_have_title(re.compile(r"^\(1\) Chat"))

    page.locator(".ticket-row", has_text="Ana Souza").click()
    expect(page).to_have_title(re.compile(r"^Chat"))  # read: the count goes
    text = page.locator("form.composer textarea[name=text]")
    text.fill("/boas")
    choices = page.locator(".quick-replies")
    expect(choices).to_be_visible()
    choices.get_by_role("option", name=re.compile("boasvindas")).click()
    expect(text).to_have_value("Olá! Seja bem-vinda à Loja Demo.")
    expect(choices).to_be_hidden()
