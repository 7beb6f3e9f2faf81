"""Meta's request signatures: X-Hub-Signature-256 on webhooks, appsecret_proof on Graph calls."""
from __future__ import annotations

import hashlib
import hmac


def sign(body: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, app_secret: str | None) -> bool:
    """True when `header` is the HMAC-SHA256 of the exact raw bytes with the app secret."""
    if not header or not app_secret:
        return False
    return equal(sign(body, app_secret), header.strip())


def equal(expected: str, given: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (compare_digest raises on non-ASCII str)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


def appsecret_proof(access_token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
