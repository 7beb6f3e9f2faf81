"""One URL, two answers: the full page for a browser, the fragment for htmx (Hypermedia Systems)."""
from __future__ import annotations

from flask import make_response, redirect, render_template, request, url_for


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def page_or_fragment(page: str, fragment: str, status: int = 200, **context):
    """Render `fragment` for an htmx request and `page` (which includes the fragment) otherwise."""
    response = make_response(render_template(fragment if is_htmx() else page, **context), status)
    response.vary.add("HX-Request")
    return response


def section_or_redirect(endpoint: str, section, notice: str):
    """After a change: htmx gets the refreshed section, a plain form post is redirected (no double submit)."""
    if is_htmx():
        return section(notice=notice)
    return redirect(url_for(endpoint))
