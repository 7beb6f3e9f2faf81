"""Why an outbound message was not sent, in words an agent understands.

The sender stores a short code in `Message.error_code` (ours, or Meta's code) and Meta's own text in
`Message.error`; the words are chosen here, when the message is shown, in the reader's language.
"""
from __future__ import annotations

from flask import current_app, has_app_context
from flask_babel import gettext

from webapp.messages.outbound import TUNNEL_CLOSED
from webapp.meta import errors

# Codes of our own (Meta's codes are stored as Meta gives them: "613", "100/2018047"...).
NOT_LINKED = "not_linked"  # no linked Instagram account, or a page token the keys cannot read
TEXT_TOO_LONG = "text_too_long"
UNSENDABLE = "unsendable"  # not one text or one attachment with its file: Instagram takes nothing else
UNREACHABLE = "unreachable"  # no answer from Meta, attempt after attempt
# The three the product names (meta-platform.md §4.4), stored without their varying subcodes.
TOKEN_INVALID = "190"
OUTSIDE_WINDOW = "10/2534022"
RECIPIENT_UNAVAILABLE = "551"

DEFAULT_TEXT_LIMIT = 1000


def code_of(error: errors.MetaError) -> str:
    """The error_code a Meta error is stored under."""
    if isinstance(error, errors.TokenInvalid):
        return TOKEN_INVALID
    if isinstance(error, errors.OutsideWindow):
        return OUTSIDE_WINDOW
    if isinstance(error, errors.RecipientUnavailable):
        return RECIPIENT_UNAVAILABLE
    if error.code is None:
        return UNREACHABLE
    return f"{error.code}/{error.subcode}" if error.subcode else str(error.code)


def _meta_code(error_code: str) -> int | None:
    head = error_code.split("/", 1)[0]
    return int(head) if head.isdigit() else None


def plain_words(error_code: str | None, meta_message: str | None = None) -> str:
    """The reason shown under a failed message, with Meta's own text only when we have nothing better."""
    code = error_code or ""
    meta_code = _meta_code(code)
    if code == TUNNEL_CLOSED:
        return gettext("Messages can only be sent while the tunnel is open")
    if code == RECIPIENT_UNAVAILABLE:
        return gettext("This person is not available on Instagram: they may have blocked the account, "
                       "deactivated their profile or turned off messages.")
    if code == OUTSIDE_WINDOW or code == "10/2018278":
        return gettext("Instagram refused: more than 24 hours have passed since the customer's last message. "
                       "Wait for them to write again.")
    if code == TOKEN_INVALID:
        return gettext("The connection needs to be reauthorized with Facebook before messages can be sent.")
    if code == NOT_LINKED:
        return gettext("The connection is not linked to an Instagram account, so nothing can be sent through it.")
    if code == TEXT_TOO_LONG:
        limit = current_app.config["META_TEXT_LIMIT_BYTES"] if has_app_context() else DEFAULT_TEXT_LIMIT
        return gettext("The text is too long: Instagram accepts at most %(limit)d bytes "
                       "(accented letters and emoji count as more than one).", limit=limit)
    if code == UNSENDABLE:
        return gettext("This message cannot be sent to Instagram: it must be one text or one attachment.")
    if meta_code in errors.RATE_LIMIT_CODES:
        return gettext("Instagram is limiting how many messages can be sent right now, and this one could not be "
                       "sent after several attempts. Try again in a few minutes.")
    if code == UNREACHABLE or meta_code in errors.TRANSIENT_CODES:
        return gettext("Instagram could not be reached or had a temporary problem, and the message could not be "
                       "sent after several attempts. Try again.")
    if meta_code == 10 or (meta_code is not None and 200 <= meta_code <= 299):
        return gettext("The connection lacks Instagram's messaging permission: an admin must reauthorize it.")
    if meta_message:
        return gettext("Instagram refused the message: %(reason)s", reason=meta_message)
    return gettext("Instagram refused the message.")
