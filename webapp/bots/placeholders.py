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
    """Replace each known placeholder by its value. A missing value (a customer whose profile Meta refused has
    no name) leaves no stray comma behind: "Olá, {{nome}}!" becomes "Olá!", not "Olá, !"."""
    def value(match: re.Match) -> str:
        name = match.group(1)
        given = (values.get(name) or "").replace("\0", "")
        return (given or "\0") if name in PLACEHOLDERS else match.group(0)

    filled = _PLACEHOLDER.sub(value, text)
    if "\0" not in filled:
        return filled
    filled = re.sub(r"(^|\n)\0[ \t]*,?[ \t]*", r"\1", filled)  # "\0, tudo bem?" -> "tudo bem?"
    filled = re.sub(r"[ \t]*,?[ \t]*\0[ \t]*(?=[!?.,;:])", "", filled)  # "Olá, \0!" -> "Olá!"
    return re.sub(r"[ \t]*\0", "", filled)
