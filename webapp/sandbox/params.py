"""Reading Graph requests the way Meta does: query, form or JSON; `fields` with nested braces; Rails-style
bracket forms (`message[quick_replies][0][title]=…`) and form fields that hold JSON strings."""
from __future__ import annotations

import json
import re
from typing import Any

from flask import request

_BRACKETS = re.compile(r"\[([^\]]*)\]")


def parse_fields(raw: str | None) -> dict[str, Any]:
    """'id,name,instagram_business_account{id,username}' -> {'id': None, 'name': None,
    'instagram_business_account': {'id': None, 'username': None}}."""
    result: dict[str, Any] = {}
    if not raw:
        return result
    stack = [result]
    name = ""
    for char in raw + ",":
        if char in ",{}":
            name = name.strip()
            if char == "{":
                stack[-1][name] = {}
                stack.append(stack[-1][name])
            elif name:
                stack[-1][name] = None
            if char == "}" and len(stack) > 1:
                stack.pop()
            name = ""
        else:
            name += char
    return result


def field_names(raw: str | None) -> list[str]:
    return [name.split(".")[0] for name in parse_fields(raw)]


def _maybe_json(value: str) -> Any:
    text = value.strip()
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return value
    return value


def _listify(node: Any) -> Any:
    """Dicts whose keys are all digits ('0', '1', …) were arrays in the bracket form."""
    if isinstance(node, dict):
        node = {key: _listify(value) for key, value in node.items()}
        if node and all(key.isdigit() for key in node):
            return [node[key] for key in sorted(node, key=int)]
    return node


def nested_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Rails brackets and JSON-string fields, merged into one nested dict."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        path = [head] + _BRACKETS.findall(key[len(head):])
        node = result
        for index, part in enumerate(path[:-1]):
            following = path[index + 1]
            if part == "" and isinstance(node, list):  # key[]=a
                node.append({})
                node = node[-1]
                continue
            node = node.setdefault(part, [] if following == "" else {})
        last = path[-1]
        if last == "" and isinstance(node, list):
            node.append(_maybe_json(value))
        elif isinstance(node, dict):
            node[last] = _maybe_json(value)
    return _listify(result)


def request_params() -> dict[str, Any]:
    """Everything the client sent, whichever way it sent it; the body wins over the query string."""
    pairs = list(request.args.items(multi=True))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        pairs += list(request.form.items(multi=True))
    params = nested_form(pairs)
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            # Some clients JSON-encode nested objects even inside a JSON body.
            params.update({key: _maybe_json(value) if isinstance(value, str) else value for key, value in body.items()})
    return params
