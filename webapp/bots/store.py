"""Creating and changing bots and business hours: rules the admin screens and the demo seed share.

No request objects here. `BotError.field` names the form field a refusal belongs to.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from webapp.bots import hours
from webapp.bots.models import Bot, BotMenuOption, BusinessHours, BusinessHoursInterval, Holiday
from webapp.team.models import department_key as name_key
from webapp.extensions import db

DEFAULT_SCHEDULE_NAME = "Horário comercial"
# Monday to Friday 08:00–18:00, Saturday 08:00–12:00.
DEFAULT_WEEK = [(day, 8 * 60, 18 * 60) for day in range(hours.MONDAY, hours.SATURDAY)] + [(hours.SATURDAY, 8 * 60, 12 * 60)]


class BotError(ValueError):
    """A change the rules refuse."""

    def __init__(self, message, field: str = "name"):
        super().__init__(message)
        self.field = field


def _clean(name: str) -> str:
    return " ".join(name.split())


# ---- business hours ----------------------------------------------------------------------------------


def all_schedules() -> list[BusinessHours]:
    return list(db.session.scalars(select(BusinessHours).order_by(func.lower(BusinessHours.name))))


def find_schedule_by_name(name: str) -> BusinessHours | None:
    return db.session.scalar(select(BusinessHours).where(BusinessHours.name_key == name_key(name)))


def bots_per_schedule() -> dict[int, int]:
    rows = db.session.execute(
        select(Bot.schedule_id, func.count()).where(Bot.schedule_id.is_not(None)).group_by(Bot.schedule_id)
    )
    return dict(rows.all())


def save_schedule(
    schedule: BusinessHours | None, *, name: str, time_zone: str,
    intervals: Iterable[tuple[int, int, int]], holidays: Iterable[tuple[dt.date, str]] = (),
) -> BusinessHours:
    """Create (schedule=None) or replace a schedule's week and holidays; the rules are checked again here."""
    name = _clean(name)
    other = find_schedule_by_name(name)
    if other is not None and (schedule is None or other.id != schedule.id):
        raise BotError(_l("Business hours with this name already exist."))
    if not hours.is_time_zone(time_zone):
        raise BotError(_l("Unknown time zone. Use a name such as America/Sao_Paulo."), field="time_zone")
    week = hours.schedule_from(time_zone, intervals)  # refuses intervals outside one day
    for weekday in range(7):
        if hours.overlapping([(i.start, i.end) for i in week.intervals_on(weekday)]):
            raise BotError(_l("This interval overlaps another one on the same day."), field="intervals")
    if schedule is None:
        schedule = BusinessHours()
        db.session.add(schedule)
    schedule.name, schedule.name_key, schedule.time_zone = name, name_key(name), time_zone
    schedule.intervals = [
        BusinessHoursInterval(weekday=i.weekday, start_minute=i.start, end_minute=i.end) for i in week.intervals
    ]
    _replace_holidays(schedule, dict(holidays))
    db.session.commit()
    return schedule


def _replace_holidays(schedule: BusinessHours, wanted: dict[dt.date, str]) -> None:
    """Keep the rows of dates that stay: a date is unique per schedule, and inserts flush before deletes."""
    kept = []
    for holiday in schedule.holidays:
        if holiday.date in wanted:
            holiday.name = _clean(wanted.pop(holiday.date))
            kept.append(holiday)
    schedule.holidays = kept + [Holiday(date=day, name=_clean(label)) for day, label in sorted(wanted.items())]


def delete_schedule(schedule: BusinessHours) -> None:
    if bots_per_schedule().get(schedule.id):
        raise BotError(_l("A bot uses these business hours: choose other hours for it first."))
    db.session.delete(schedule)
    db.session.commit()


def ensure_default_schedule() -> BusinessHours:
    """The demo's "Horário comercial" (Mon–Fri 08:00–18:00, Sat 08:00–12:00, São Paulo), made once."""
    return find_schedule_by_name(DEFAULT_SCHEDULE_NAME) or save_schedule(
        None, name=DEFAULT_SCHEDULE_NAME, time_zone=hours.DEFAULT_TIME_ZONE, intervals=DEFAULT_WEEK
    )


# ---- bots ----------------------------------------------------------------------------------------------


def all_bots() -> list[Bot]:
    return list(db.session.scalars(select(Bot).order_by(Bot.active.desc(), func.lower(Bot.name))))


def active_bots() -> list[Bot]:
    """Bots a connection may choose."""
    return list(db.session.scalars(select(Bot).where(Bot.active).order_by(func.lower(Bot.name))))


def find_bot_by_name(name: str) -> Bot | None:
    return db.session.scalar(select(Bot).where(Bot.name_key == name_key(name)))


def save_bot(
    bot: Bot | None, *, name: str, greeting: str, menu: Sequence[tuple[str, int]], invalid_answer_message: str,
    max_attempts: int, fallback_department_id: int, out_of_hours_message: str, no_answer_timeout_minutes: int,
    schedule_id: int | None,
) -> Bot:
    """Create (bot=None) or change a bot; `menu` is (label, department id) in the order the customer sees."""
    name = _clean(name)
    other = find_bot_by_name(name)
    if other is not None and (bot is None or other.id != bot.id):
        raise BotError(_l("A bot with this name already exists."))
    if not menu:
        raise BotError(_l("Add at least one option to the menu."), field="options")
    if bot is None:
        bot = Bot(active=True)
        db.session.add(bot)
    bot.name, bot.name_key = name, name_key(name)
    bot.greeting, bot.invalid_answer_message, bot.out_of_hours_message = greeting, invalid_answer_message, out_of_hours_message
    bot.max_attempts, bot.no_answer_timeout_minutes = max_attempts, no_answer_timeout_minutes
    bot.fallback_department_id, bot.schedule_id = fallback_department_id, schedule_id
    _replace_menu(bot, menu)
    db.session.commit()
    return bot


def _replace_menu(bot: Bot, menu: Sequence[tuple[str, int]]) -> None:
    """Rewrite the rows in place: positions stay unique at every flush (1..n are reused, extras deleted)."""
    for position, (label, department_id) in enumerate(menu, start=1):
        if position <= len(bot.options):
            option = bot.options[position - 1]
        else:
            option = BotMenuOption(position=position)
            bot.options.append(option)
        option.label, option.department_id = label.strip(), department_id
    del bot.options[len(menu):]


def ensure_default_bot(fallback_department_id: int, menu: Sequence[tuple[str, int]], name: str = "Triagem") -> Bot:
    """The demo's triage bot (Portuguese texts, business hours of ensure_default_schedule), made once."""
    return find_bot_by_name(name) or save_bot(
        None, name=name, menu=menu, fallback_department_id=fallback_department_id,
        greeting="Olá, {{nome}}! Seu protocolo é {{protocolo}}. Com quem você quer falar? Responda com o número:",
        invalid_answer_message="Não entendi. Responda só com o número de uma das opções.",
        out_of_hours_message="Olá, {{nome}}! Estamos fora do horário de atendimento; respondemos assim que "
                             "abrirmos. Seu protocolo é {{protocolo}}.",
        max_attempts=3, no_answer_timeout_minutes=30, schedule_id=ensure_default_schedule().id,
    )


def set_bot_active(bot: Bot, active: bool) -> None:
    bot.active = active
    db.session.commit()
