"""Editable lists of form rows (menu options, intervals, holidays) that work with htmx and without JS.

Every row button is a submit button of the editor form named `row`, whose value is a command such as
"add:options", "remove:options:2", "up:options:1" or "down:options:1". The view applies the command to the
posted form and shows it again, saving nothing; a plain browser does the same with a full page.
"""
from __future__ import annotations

from wtforms import FieldList

ROW_FIELD = "row"


def apply_row_command(form, command: str, editable: dict[str, int]) -> str | None:
    """Apply `command` to one of the FieldLists named in `editable` (name -> most rows allowed).

    Returns the id of the element that should take the focus next, or None for an unknown command.
    """
    verb, _, rest = (command or "").partition(":")
    name, _, index_text = rest.partition(":")
    field = form._fields.get(name)
    if name not in editable or not isinstance(field, FieldList):
        return None
    rows = [entry.data for entry in field.entries]
    index = int(index_text) if index_text.isdigit() else -1
    if verb == "add":
        if len(rows) < editable[name]:
            rows.append(None)
        index = len(rows) - 1
    elif verb == "remove" and 0 <= index < len(rows):
        rows.pop(index)
        index = None
    elif verb in ("up", "down") and 0 <= index < len(rows):
        other = index - 1 if verb == "up" else index + 1
        if 0 <= other < len(rows):
            rows[index], rows[other] = rows[other], rows[index]
            index = other
    else:
        return None
    replace_rows(field, rows)
    if index is None:
        return f"add-{name}"
    return f"{field.entries[index].id}-{verb}" if verb in ("up", "down") else field.entries[index].id


def replace_rows(field: FieldList, rows: list) -> None:
    """Rebuild a FieldList from row data, numbering the rows 0..n-1 again (the order is the data)."""
    field.entries = []
    field.last_index = -1
    for row in rows:
        field.append_entry(row)
