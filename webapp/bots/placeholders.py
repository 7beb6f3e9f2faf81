"""The placeholders a bot message may use: {{protocolo}}, {{nome}}, {{departamento}}.

Plain text substitution, never a template engine: the text is the admin's, the values are the customer's.
"""
from __future__ import annotations

import re

PLACEHOLDERS = ("protocolo", "nome", "departamento")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def unknown_placeholders(text: str) -> list[str]:
    """Names inside {{ }} that are not ours, in order of appearance, each once."""
    unknown: list[str] = []
    for match in _PLACEHOLDER.finditer(text or ""):
        name = match.group(1)
        if name not in PLACEHOLDERS and name not in unknown:
            unknown.append(name)
    return unknown


def has_stray_braces(text: str) -> bool:
    """A "{{" or "}}" left over once the placeholders are taken out: probably a typo such as "{{nome}"."""
    rest = _PLACEHOLDER.sub("", text or "")
    return "{{" in rest or "}}" in rest


def fill(text: str, **values: str) -> str:
    """Replace each known placeholder by its value (missing values become empty)."""
    return _PLACEHOLDER.sub(
        lambda m: values.get(m.group(1), "") if m.group(1) in PLACEHOLDERS else m.group(0), text
    )
