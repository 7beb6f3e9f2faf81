"""Response headers every page carries: a strict Content-Security-Policy and friends."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script, no eval: htmx is configured (base.html) not to inject styles or evaluate code.
CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob: https:",
    "media-src 'self' blob: https:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
)
CONTENT_SECURITY_POLICY = "; ".join(CSP_DIRECTIVES)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(config) -> str:
    """The policy, plus Facebook Login's origin for form-action: Chrome applies it to the redirect after a form post."""
    origin = _origin(config["META_OAUTH_DIALOG_URL"])
    if origin == _origin(config["PUBLIC_BASE_URL"]):
        return CONTENT_SECURITY_POLICY
    return "; ".join(d + (f" {origin}" if d.startswith("form-action") else "") for d in CSP_DIRECTIVES)


def init_app(app: Flask) -> None:
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    policy = content_security_policy(app.config)

    @app.after_request
    def secure_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
