"""Secrets at rest (page access tokens): Fernet, with key rotation.

TOKEN_ENCRYPTION_KEY holds one key, or several separated by commas: the first encrypts, all decrypt, so an operator
rotates by putting a new key first and re-saving tokens at leisure.
"""
from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class TokenDecryptError(RuntimeError):
    """Stored ciphertext cannot be read with the configured keys (wrong or rotated-out key)."""


def _cipher(config) -> MultiFernet:
    keys = [k.strip() for k in (config.get("TOKEN_ENCRYPTION_KEY") or "").split(",") if k.strip()]
    if not keys:
        # Development without `make run`: derive a stable key from SECRET_KEY. Production refuses to start without one.
        digest = hashlib.sha256(("direto-token-key:" + config["SECRET_KEY"]).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plaintext: str, config=None) -> str:
    return _cipher(config or current_app.config).encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str, config=None) -> str:
    try:
        return _cipher(config or current_app.config).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptError("stored token cannot be decrypted with TOKEN_ENCRYPTION_KEY") from exc
