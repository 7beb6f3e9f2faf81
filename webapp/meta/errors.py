"""Meta's errors as types the rest of Direto understands (meta-platform.md §4.4).

Callers branch on the type (or `retryable`), never on HTTP statuses or raw codes: Meta's statuses vary, its codes don't.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MetaError(Exception):
    """Any failure talking to Meta. `code`/`subcode` are Meta's; `http_status` is 0 when no answer came back."""

    message: str
    code: int | None = None
    subcode: int | None = None
    http_status: int = 0
    error_type: str | None = None
    fbtrace_id: str | None = None
    details: dict = field(default_factory=dict, repr=False)

    retryable = False

    def __str__(self) -> str:
        where = f"code {self.code}" + (f"/{self.subcode}" if self.subcode else "") if self.code else f"HTTP {self.http_status}"
        return f"{self.message} ({where})"


class TokenInvalid(MetaError):
    """190: expired, invalidated (password change), app removed... The connection needs reauthorization."""


class OutsideWindow(MetaError):
    """10/2534022: the customer's 24-hour window (or the 7-day human-agent window) is closed."""


class RecipientUnavailable(MetaError):
    """551: the customer blocked the business, deactivated the account or turned messages off."""


class PermissionMissing(MetaError):
    """10 without a subcode, 200–299: a permission was declined or removed."""


class ProfileUnavailable(MetaError):
    """230 (no consent yet) or 9010 (no matching user): the profile cannot be read; the contact stays."""


class CodeAlreadyUsed(MetaError):
    """100/36009: a Facebook Login code is single-use."""


class InvalidRequest(MetaError):
    """100 and other errors in what we sent: retrying the same request cannot help."""


class RateLimited(MetaError):
    """4, 17, 32, 613, 80002: Meta asks us to slow down."""

    retryable = True


class Transient(MetaError):
    """2, 1200, HTTP 5xx, or Meta could not be reached at all: try again later, the request did no harm."""

    retryable = True


class Unconfirmed(Transient):
    """The request left, but no answer came back (read timeout, connection dropped after sending): Meta may have
    acted on it. Reads can simply be repeated; a send must first be confirmed or ruled out by its echo."""


RATE_LIMIT_CODES = {4, 17, 32, 613, 80002}
TRANSIENT_CODES = {1, 2, 1200}


def classify(code: int | None, subcode: int | None, http_status: int) -> type[MetaError]:
    """The error type for Meta's (code, subcode); the HTTP status only matters when there is no code."""
    if code == 190:
        return TokenInvalid
    if code == 10 and subcode in (2534022, 2018278):
        return OutsideWindow
    if code == 551:
        return RecipientUnavailable
    if code in (230, 9010):
        return ProfileUnavailable
    if code == 100 and subcode == 36009:
        return CodeAlreadyUsed
    if code in RATE_LIMIT_CODES:
        return RateLimited
    if code in TRANSIENT_CODES:
        return Transient
    if code == 10 or (code is not None and 200 <= code <= 299):
        return PermissionMissing
    if code is not None:
        return InvalidRequest
    return Transient if http_status >= 500 or http_status == 0 else InvalidRequest


def from_response(http_status: int, body) -> MetaError:
    """Build the typed error from Meta's envelope `{"error": {...}}`, tolerating anything else."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        text = str(body)[:200] if body else ""
        return classify(None, None, http_status)(f"Unexpected answer from Meta (HTTP {http_status}) {text}".strip(),
                                                 http_status=http_status)

    def as_int(value):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    code, subcode = as_int(error.get("code")), as_int(error.get("error_subcode"))
    return classify(code, subcode, http_status)(
        str(error.get("message") or "Meta returned an error"),
        code=code,
        subcode=subcode,
        http_status=http_status,
        error_type=error.get("type"),
        fbtrace_id=error.get("fbtrace_id"),
        details=error,
    )
