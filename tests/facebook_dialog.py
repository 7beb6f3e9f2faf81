"""Going through the sandbox's Facebook Login dialog over real HTTP, as a browser would (for test-client tests).

The dialog is HTML forms; this submits them the way a person clicks them: choose a user, untick some permissions,
press Continue or Cancel. It returns where Facebook sends the browser back to.
"""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "fields": [], "buttons": []})
        elif self.forms and tag == "input":
            self.forms[-1]["fields"].append(attrs)
        elif self.forms and tag == "button" and attrs.get("name"):
            self.forms[-1]["buttons"].append(attrs)


def _forms(response: requests.Response) -> list[dict]:
    parser = _Forms()
    parser.feed(response.text)
    return parser.forms


def log_in(authorize_url: str, facebook_user_id: str, decline: tuple[str, ...] = (), cancel: bool = False,
           http: requests.Session | None = None) -> str:
    """Play the dialog for `authorize_url`; return the redirect back to the app (with code, or an error)."""
    http = http or requests.Session()
    page = http.get(authorize_url, allow_redirects=False)
    assert page.status_code == 200, page.text[:500]
    form = next(f for f in _forms(page) if any(i.get("value") == facebook_user_id for i in f["fields"]))
    data = {i["name"]: i.get("value", "") for i in form["fields"] if i.get("type") == "hidden"}
    consent = http.post(urljoin(page.url, form["action"]), data=data)  # back to the dialog, now as that user
    assert consent.status_code == 200, consent.text[:500]
    form = _forms(consent)[0]
    data = [(i["name"], i.get("value", "")) for i in form["fields"] if i.get("type") == "hidden"]
    data += [("grant", i["value"]) for i in form["fields"]
             if i.get("type") == "checkbox" and i.get("name") == "grant" and i["value"] not in decline]
    data.append(("action", "cancel" if cancel else "continue"))
    back = http.post(urljoin(consent.url, form["action"]), data=data, allow_redirects=False)
    assert back.status_code in (302, 303), back.text[:500]
    return back.headers["Location"]
