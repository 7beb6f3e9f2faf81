"""Robôs and Horários: each screen answers a full page, or for htmx the section fragment it includes.

An editor form's row buttons (add, remove, move) post the form back with `row=<command>`: the form is shown
again with the change and nothing is saved (webapp.bots.rows).
"""
from __future__ import annotations

from flask import Blueprint, request
from flask_babel import gettext as _

from webapp.bots import store
from webapp.bots.forms import BotForm
from webapp.bots.hours import DEFAULT_TIME_ZONE, format_clock
from webapp.bots.models import Bot, BusinessHours
from webapp.bots.rows import ROW_FIELD
from webapp.bots.schedule_forms import SUGGESTED_TIME_ZONES, WEEKDAY_LABELS, WEEKDAYS, ScheduleForm
from webapp.core.pages import page_or_fragment, section_or_redirect
from webapp.extensions import db
from webapp.team import directory
from webapp.team.access import admin_required

bp = Blueprint("bots", __name__, url_prefix="/admin")



# ---- bots ----------------------------------------------------------------------------------------------


def _bot_form(**kwargs) -> BotForm:
    return BotForm(
        department_choices=[(d.id, d.name) for d in directory.departments_for_choice()],
        schedule_choices=[(s.id, s.name) for s in store.all_schedules()],
        **kwargs,
    )


def _bots_section(form=None, editing=None, notice=None, focus=None, status=200):
    return page_or_fragment(
        "bots/bots.html", "bots/_bots.html", status=status,
        bots=store.all_bots(), form=form, editing=editing, notice=notice, focus=focus,
    )


def _save_bot(bot: Bot | None):
    """The POST of the editor: a row command redraws the form, otherwise validate and save."""
    form = _bot_form()
    if request.form.get(ROW_FIELD):
        focus = form.apply_row_command(request.form[ROW_FIELD])
        return _bots_section(form=form, editing=bot, focus=focus)
    if form.validate_on_submit():
        try:
            bot = store.save_bot(
                bot, name=form.name.data, greeting=form.greeting.data, menu=form.menu(),
                invalid_answer_message=form.invalid_answer_message.data, max_attempts=form.max_attempts.data,
                fallback_department_id=form.fallback_department.data,
                out_of_hours_message=form.out_of_hours_message.data,
                no_answer_timeout_minutes=form.no_answer_timeout_minutes.data, schedule_id=form.schedule.data,
            )
        except store.BotError as error:
            form.name.errors.append(str(error))
        else:
            return section_or_redirect("bots.index", _bots_section, _("Bot %(name)s saved.", name=bot.name))
    return _bots_section(form=form, editing=bot, status=422)


@bp.get("/bots")
@admin_required
def index():
    return _bots_section()


@bp.get("/bots/new")
@admin_required
def new_bot():
    return _bots_section(form=_bot_form(max_attempts=3, no_answer_timeout_minutes=30), focus="name")


@bp.post("/bots")
@admin_required
def create_bot():
    return _save_bot(None)


@bp.get("/bots/<int:bot_id>/edit")
@admin_required
def edit_bot(bot_id: int):
    bot = db.get_or_404(Bot, bot_id)
    form = _bot_form(data={
        "name": bot.name, "greeting": bot.greeting, "invalid_answer_message": bot.invalid_answer_message,
        "max_attempts": bot.max_attempts, "fallback_department": bot.fallback_department_id,
        "out_of_hours_message": bot.out_of_hours_message, "no_answer_timeout_minutes": bot.no_answer_timeout_minutes,
        "schedule": bot.schedule_id, "options": [{"label": o.label, "department": o.department_id} for o in bot.options],
    })
    return _bots_section(form=form, editing=bot, focus="name")


@bp.post("/bots/<int:bot_id>")
@admin_required
def update_bot(bot_id: int):
    return _save_bot(db.get_or_404(Bot, bot_id))


@bp.post("/bots/<int:bot_id>/active")
@admin_required
def toggle_bot(bot_id: int):
    bot = db.get_or_404(Bot, bot_id)
    store.set_bot_active(bot, not bot.active)
    notice = _("Bot %(name)s reactivated.", name=bot.name) if bot.active else _("Bot %(name)s deactivated.", name=bot.name)
    return section_or_redirect("bots.index", _bots_section, notice)


# ---- business hours ------------------------------------------------------------------------------------


def _schedules_section(form=None, editing=None, notice=None, focus=None, status=200):
    return page_or_fragment(
        "bots/schedules.html", "bots/_schedules.html", status=status,
        schedules=store.all_schedules(), bots_per_schedule=store.bots_per_schedule(), form=form,
        editing=editing, notice=notice, focus=focus, weekday_labels=WEEKDAY_LABELS,
        time_zones=SUGGESTED_TIME_ZONES, format_clock=format_clock,
    )


def _schedule_form_data(schedule: BusinessHours) -> dict:
    """The editor's rows for a stored schedule; midnight at the end of a day shows as 00:00 (a time input has no 24:00)."""
    data = {"name": schedule.name, "time_zone": schedule.time_zone}
    for number, day in enumerate(WEEKDAYS):
        data[day] = [
            {"start": format_clock(i.start_minute), "end": format_clock(i.end_minute % (24 * 60))}
            for i in schedule.intervals if i.weekday == number
        ]
    data["holidays"] = [{"date": h.date.isoformat(), "name": h.name} for h in schedule.holidays]
    return data


def _save_schedule(schedule: BusinessHours | None):
    form = ScheduleForm()
    if request.form.get(ROW_FIELD):
        focus = form.apply_row_command(request.form[ROW_FIELD])
        return _schedules_section(form=form, editing=schedule, focus=focus)
    if form.validate_on_submit():
        try:
            schedule = store.save_schedule(
                schedule, name=form.name.data, time_zone=form.time_zone.data,
                intervals=form.weekly_intervals(), holidays=form.holiday_list(),
            )
        except store.BotError as error:
            (form.time_zone if error.field == "time_zone" else form.name).errors.append(str(error))
        else:
            return section_or_redirect("bots.schedules", _schedules_section, _("Business hours %(name)s saved.", name=schedule.name))
    return _schedules_section(form=form, editing=schedule, status=422)


@bp.get("/business-hours")
@admin_required
def schedules():
    return _schedules_section()


@bp.get("/business-hours/new")
@admin_required
def new_schedule():
    # A new schedule starts from the usual week; the admin adjusts it.
    week = {day: [] for day in WEEKDAYS}
    for weekday, start, end in store.DEFAULT_WEEK:
        week[WEEKDAYS[weekday]].append({"start": format_clock(start), "end": format_clock(end)})
    form = ScheduleForm(data={"time_zone": DEFAULT_TIME_ZONE, **week})
    return _schedules_section(form=form, focus="name")


@bp.post("/business-hours")
@admin_required
def create_schedule():
    return _save_schedule(None)


@bp.get("/business-hours/<int:schedule_id>/edit")
@admin_required
def edit_schedule(schedule_id: int):
    schedule = db.get_or_404(BusinessHours, schedule_id)
    return _schedules_section(form=ScheduleForm(data=_schedule_form_data(schedule)), editing=schedule, focus="name")


@bp.post("/business-hours/<int:schedule_id>")
@admin_required
def update_schedule(schedule_id: int):
    return _save_schedule(db.get_or_404(BusinessHours, schedule_id))


@bp.post("/business-hours/<int:schedule_id>/delete")
@admin_required
def delete_schedule(schedule_id: int):
    schedule = db.get_or_404(BusinessHours, schedule_id)
    name = schedule.name
    try:
        store.delete_schedule(schedule)
    except store.BotError as error:
        return _schedules_section(notice=str(error), status=422)
    return section_or_redirect("bots.schedules", _schedules_section, _("Business hours %(name)s deleted.", name=name))
