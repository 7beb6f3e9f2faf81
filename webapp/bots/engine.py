"""The triage bot's decisions as plain rules (product.md §3): no database, no Flask.

Given the bot's settings, where the ticket stands and what the customer did, `on_customer_message` and
`on_timeout` say what to send and where the ticket goes. The runner (webapp.bots.runner) applies that.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from webapp.bots import hours

OPTION_PAYLOAD = "DIRETO_BOT_OPTION:"  # quick-reply payloads carry the option number


@dataclass(frozen=True)
class Option:
    position: int
    label: str
    department_id: int


@dataclass(frozen=True)
class Rules:
    greeting: str
    options: tuple[Option, ...]
    invalid_answer_message: str
    max_attempts: int
    fallback_department_id: int
    out_of_hours_message: str
    no_answer_timeout: dt.timedelta
    schedule: hours.WeeklySchedule | None = None  # None: the bot attends at any hour


@dataclass(frozen=True)
class State:
    greeted: bool = False
    attempts: int = 0
    out_of_hours_sent: bool = False


@dataclass(frozen=True)
class Step:
    """What to do: texts to send (templates with {{placeholders}}), whether to offer the menu as quick replies,
    and either a department to route to (the bot is done) or when to give up waiting."""

    say: tuple[str, ...] = ()
    offer_menu: bool = False
    route_to: int | None = None
    reason: str = ""  # greeted, option, invalid, attempts, out_of_hours, no_answer
    attempts: int = 0
    wait_until: dt.datetime | None = None
    out_of_hours_sent: bool = False


def menu_text(rules: Rules) -> str:
    return "\n".join(f"{option.position} - {option.label}" for option in rules.options)


def quick_replies(rules: Rules) -> list[dict]:
    """The menu as buttons. The sender fits them to Instagram's limits; a longer menu is still answerable by number."""
    return [{"content_type": "text", "title": option.label, "payload": f"{OPTION_PAYLOAD}{option.position}"}
            for option in rules.options]


def _plain(text: str) -> str:
    """Lower case without accents or punctuation, so "Vendas!" and "vendas" are the same answer."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^\w ]+", "", "".join(c for c in decomposed if not unicodedata.combining(c))).strip()


def choice(rules: Rules, text: str | None, payload: str | None = None) -> Option | None:
    """The option the customer chose: a tapped quick reply, the number ("2", "2.", " 2) "), or the label."""
    by_position = {option.position: option for option in rules.options}
    if payload and payload.startswith(OPTION_PAYLOAD):
        number = payload[len(OPTION_PAYLOAD):]
        if number.isdigit() and int(number) in by_position:
            return by_position[int(number)]
    answer = (text or "").strip()
    match = re.fullmatch(r"(\d{1,3})\s*[.)\-:]?", answer)
    if match:
        return by_position.get(int(match.group(1)))
    wanted = _plain(answer)
    if wanted:
        for option in rules.options:
            if _plain(option.label) == wanted:
                return option
    return None


def _menu(rules: Rules, opening: str, now: dt.datetime, attempts: int, reason: str) -> Step:
    return Step(say=(f"{opening}\n\n{menu_text(rules)}",), offer_menu=True, reason=reason, attempts=attempts,
                wait_until=now + rules.no_answer_timeout)


def on_customer_message(rules: Rules, state: State, now: dt.datetime, default_department_id: int,
                        text: str | None = None, payload: str | None = None) -> Step:
    if not state.greeted:
        if rules.schedule is not None and not hours.is_open(rules.schedule, now):
            # Outside business hours: say so once and let the ticket wait for the team in the reception queue.
            say = () if state.out_of_hours_sent else (rules.out_of_hours_message,)
            return Step(say=say, route_to=default_department_id, reason="out_of_hours", out_of_hours_sent=True)
        return _menu(rules, rules.greeting, now, 0, "greeted")
    chosen = choice(rules, text, payload)
    if chosen is not None:
        return Step(route_to=chosen.department_id, reason="option", attempts=state.attempts)
    attempts = state.attempts + 1
    if attempts >= rules.max_attempts:
        return Step(route_to=rules.fallback_department_id, reason="attempts", attempts=attempts)
    return _menu(rules, rules.invalid_answer_message, now, attempts, "invalid")


def on_timeout(state: State, default_department_id: int) -> Step:
    """The customer did not answer the menu in time: the ticket goes to the connection's default department."""
    return Step(route_to=default_department_id, reason="no_answer", attempts=state.attempts)
