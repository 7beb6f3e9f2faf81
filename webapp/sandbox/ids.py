"""Identifiers in Meta's shapes. Three separate id spaces must never be confused:

* Page ids: ~15 digits.            * IG professional account ids: 17 digits starting 1784…
* IGSIDs (a customer as one account sees them): ~16 digits.

Seeded ids derive from a stable key (so the docs can name them); run-time ids are random.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import string

_ALNUM = string.ascii_letters + string.digits


def _digits(seed: str, count: int) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    return str(number).zfill(count)[-count:]


def user_id(key: str) -> str:
    """An app-scoped Facebook user id, 17 digits like 10210299214172187."""
    return "102" + _digits("user:" + key, 14)


def page_id(key: str) -> str:
    return "1" + _digits("page:" + key, 14)


def ig_account_id(key: str) -> str:
    return "178414" + _digits("ig:" + key, 11)


def igsid(customer_key: str, account_key: str) -> str:
    return str(int(_digits(f"igsid:{customer_key}:{account_key}", 15)) % 9 + 1) + _digits(
        f"igsid:{account_key}:{customer_key}", 15
    )


def mid(ig_account: str) -> str:
    """An opaque, base64-like message id, in the style of `aWdfZAG1faXRlbTox…`."""
    raw = f"ig_item:1:IGMessageID:{ig_account}:{secrets.randbelow(10**38):038d}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token(prefix: str = "EAAG", length: int = 180) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def auth_code() -> str:
    return "AQ" + "".join(secrets.choice(_ALNUM + "-_") for _ in range(220))


def fbtrace_id() -> str:
    return "A" + "".join(secrets.choice(_ALNUM) for _ in range(22))


def asset_id() -> str:
    return str(10**16 + secrets.randbelow(9 * 10**16))
