"""Protocol numbers: the company's format, checked by formatting samples before it is accepted.

A format is Python format syntax with two fields only: {date:...} (strftime codes, the ticket's local date)
and {seq:...} (the day's sequence number, an integer). Default: 20261125 then a 4-digit sequence,
"202611250001". Attribute and index look-ups ({date.year}, {seq[0]}) are refused: the text is the admin's,
and str.format would otherwise reach into Python objects.
"""
from __future__ import annotations

import datetime as dt
import re
import string

DEFAULT_PROTOCOL_FORMAT = "{date:%Y%m%d}{seq:04d}"
MAX_FORMAT_LENGTH = 80
MAX_PROTOCOL_LENGTH = 32
# Protocols are typed into searches and read over the phone: letters, digits and a little punctuation.
_PROTOCOL_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]*$")
# Widths are bounded (a spec such as {seq:999999999d} would build a gigabyte string).
_SPEC_SHAPE = {"seq": re.compile(r"^0?\d?\d?d?$"), "date": re.compile(r"^(?:%[A-Za-z%]|[^%])*$")}
_SAMPLE_DAY = dt.date(2026, 11, 25)
# Dates a daily sequence must tell apart: the next day, the same day of another month, of another year.
_OTHER_DAYS = (dt.date(2026, 11, 26), dt.date(2026, 10, 25), dt.date(2027, 11, 25), dt.date(2026, 12, 31))


class ProtocolFormatError(ValueError):
    """Why a format is refused; `code` selects the message shown to the admin."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(code if not detail else f"{code}: {detail}")
        self.code, self.detail = code, detail


def format_protocol(protocol_format: str, day: dt.date, seq: int) -> str:
    """The protocol of the `seq`-th ticket (1, 2, ...) opened on `day`; the format must have passed check_format."""
    return protocol_format.format(date=day, seq=seq)


def check_format(protocol_format: str) -> str:
    """Return a sample protocol for `protocol_format`, or raise ProtocolFormatError saying what is wrong."""
    if not protocol_format or len(protocol_format) > MAX_FORMAT_LENGTH:
        raise ProtocolFormatError("length")
    fields = _fields(protocol_format)
    if "seq" not in fields:
        raise ProtocolFormatError("no_seq")
    try:
        sample = format_protocol(protocol_format, _SAMPLE_DAY, 1)
        samples = {format_protocol(protocol_format, day, 1) for day in (_SAMPLE_DAY, *_OTHER_DAYS)}
        if format_protocol(protocol_format, _SAMPLE_DAY, 2) == sample:
            raise ProtocolFormatError("no_seq")
        longest = format_protocol(protocol_format, _SAMPLE_DAY, 99999)
    except (ValueError, TypeError) as error:
        if isinstance(error, ProtocolFormatError):
            raise
        raise ProtocolFormatError("invalid", str(error)) from None
    if len(samples) != 1 + len(_OTHER_DAYS):
        raise ProtocolFormatError("no_date")
    for value in (sample, longest):
        if len(value) > MAX_PROTOCOL_LENGTH or not _PROTOCOL_SHAPE.match(value):
            raise ProtocolFormatError("shape", value)
    return sample


def _fields(protocol_format: str) -> set[str]:
    found = set()
    try:
        parsed = list(string.Formatter().parse(protocol_format))
    except ValueError as error:
        raise ProtocolFormatError("invalid", str(error)) from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in ("date", "seq"):
            raise ProtocolFormatError("unknown_field", name)
        if conversion or "{" in (spec or "") or not _SPEC_SHAPE[name].match(spec or ""):
            raise ProtocolFormatError("invalid", name)
        found.add(name)
    return found
