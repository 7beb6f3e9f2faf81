"""Instagram's limit on a text message, shared by every form that stores text to be sent to a customer."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

# Meta's Send API refuses text longer than 1000 bytes of UTF-8 (not characters: an emoji takes four).
INSTAGRAM_TEXT_MAX_BYTES = 1000


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8"))


def normalise_newlines(text: str | None) -> str | None:
    """Browsers send a textarea's line breaks as CRLF; Instagram shows LF, and CR would count as a byte."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if text is not None else None


class FitsInstagramMessage:
    """WTForms validator: the text fits one Instagram message."""

    def __call__(self, form, field):
        size = utf8_size(field.data or "")
        if size > INSTAGRAM_TEXT_MAX_BYTES:
            raise ValidationError(
                _l("Instagram accepts at most %(limit)d bytes per message; this text has %(size)d "
                   "(accents and emoji take more than one byte).", limit=INSTAGRAM_TEXT_MAX_BYTES, size=size)
            )
