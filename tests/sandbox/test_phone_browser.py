"""The customer phone in a real Chromium at 360 px (issue 3, point 7): it works under the strict CSP
(no violation is reported), sends text with emoji and media, and shows the business's answer live."""
from __future__ import annotations

import pytest
import requests

from .conftest import ANA_AT_LOJA

pytestmark = pytest.mark.browser


def test_phone_on_a_small_touch_screen(live_sandbox, receiver, sandbox_browser):
    base, _ = live_sandbox
    context = sandbox_browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{base}/phone/")
    page.check("input[value=ana]")
    page.click("text=Open chat")
    page.wait_for_url(f"**/phone/{ANA_AT_LOJA}")

    page.fill("#composer input[name=text]", "Oi, tudo bem? ")
    page.click("button[data-emoji='😀']")
    page.click("button.send")
    page.wait_for_selector("text=Oi, tudo bem? 😀")
    assert page.input_value("#composer input[name=text]") == ""  # cleared after sending

    page.click("button[data-reply-mid] >> nth=0")
    assert page.is_visible("#replying")
    page.fill("#composer input[name=text]", "respondendo")
    page.click("button.send")
    page.wait_for_selector("text=↩ Oi, tudo bem? 😀")
    assert page.is_hidden("#replying")
    last = requests.get(f"{base}/api/threads/{ANA_AT_LOJA}").json()["messages"][-1]
    assert last["reply_to"]["mid"] == requests.get(f"{base}/api/threads/{ANA_AT_LOJA}").json()["messages"][0]["mid"]

    page.click("summary:has-text('Attach')")
    page.click("button.chip[value=image]")
    page.wait_for_selector(".bubble img.media")

    # The business answers through the Send API: the phone shows it within a poll or two.
    token = _page_token(base, live_sandbox)
    answer = requests.post(f"{base}/graph/v21.0/me/messages", headers={"Authorization": f"Bearer {token}"},
                           json={"recipient": {"id": ANA_AT_LOJA}, "message": {"text": "Tudo ótimo! Como ajudo?"}})
    assert answer.status_code == 200
    page.wait_for_selector("text=Tudo ótimo! Como ajudo?", timeout=5000)

    page.click("button[aria-label='React with a heart']")
    page.wait_for_selector("text=Remove reaction")
    page.wait_for_load_state("load")  # measure layout only once the stylesheet applies
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360  # nothing overflows sideways on a phone
    assert problems == []
    context.close()


def _page_token(base: str, live_sandbox) -> str:
    """A page token for Loja Demo, minted directly in the sandbox's storage (the login flow has its own tests)."""
    from webapp.sandbox import ids
    from webapp.sandbox.models import Grant
    from webapp.sandbox.tokens import issue_user_token, page_token

    sandbox = live_sandbox[1]
    with sandbox.store.tx() as session:
        dona = ids.user_id("dona")
        for permission in ("pages_show_list", "instagram_manage_messages", "pages_manage_metadata"):
            session.merge(Grant(user_id=dona, permission=permission, status="granted"))
        user_token = issue_user_token(sandbox, session, dona, long_lived=True)
        session.flush()
        return page_token(sandbox, session, user_token, ids.page_id("loja")).token
