"""Error pages in the product's language, for full pages and htmx requests alike."""
from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from webapp.core.pages import is_htmx


def init_app(app: Flask) -> None:
    def render(code: int):
        template = "errors/_error.html" if is_htmx() else "errors/error.html"
        return render_template(template, code=code), code

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        app.logger.warning("CSRF check failed: %s", error.description)
        return render(400)

    for code in (404, 405, 413, 429):
        app.register_error_handler(code, lambda error, code=code: render(code))

    @app.errorhandler(500)
    def server_error(error):
        return render(500)
