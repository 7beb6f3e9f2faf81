"""The business-hours editor's form: a name, a time zone, intervals per weekday and holidays."""
from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, StringField
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import DateInput, TimeInput

from webapp.bots import hours, rows
from webapp.bots.forms import strip

MAX_INTERVALS_PER_DAY = 8
MAX_HOLIDAYS = 100
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_LABELS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"), _l("Saturday"), _l("Sunday"))
# Offered in the time-zone field's suggestions; any IANA name is accepted.
SUGGESTED_TIME_ZONES = (
    "America/Sao_Paulo", "America/Bahia", "America/Fortaleza", "America/Recife", "America/Belem",
    "America/Manaus", "America/Cuiaba", "America/Campo_Grande", "America/Porto_Velho", "America/Boa_Vista",
    "America/Rio_Branco", "America/Noronha", "America/Argentina/Buenos_Aires", "America/Santiago",
    "America/Bogota", "America/Mexico_City", "America/New_York", "Europe/Lisbon", "Europe/London", "UTC",
)


class TimeZoneName:
    """WTForms validator: an IANA time-zone name such as America/Sao_Paulo."""

    def __call__(self, form, field):
        if not hours.is_time_zone(field.data):
            raise ValidationError(_l("Unknown time zone. Use a name such as America/Sao_Paulo."))


def time_zone_field():
    return StringField(
        _l("Time zone"),
        filters=[strip],
        default=hours.DEFAULT_TIME_ZONE,
        validators=[DataRequired(_l("Enter the time zone.")), TimeZoneName()],
        render_kw={"list": "time-zones", "autocapitalize": "off", "spellcheck": "false"},
    )


class IntervalForm(Form):
    """One opening interval of a weekday, as the browser's time inputs send it ("08:00")."""

    start = StringField(_l("Opens"), filters=[strip], widget=TimeInput())
    end = StringField(_l("Closes"), filters=[strip], widget=TimeInput())

    @property
    def is_blank(self) -> bool:
        return not self.start.data and not self.end.data

    def minutes(self) -> tuple[int | None, int | None]:
        return hours.parse_clock(self.start.data), hours.parse_clock(self.end.data, end=True)


class HolidayForm(Form):
    date = StringField(_l("Date"), filters=[strip], widget=DateInput())
    name = StringField(_l("Holiday"), filters=[strip], validators=[Length(max=80)])

    @property
    def is_blank(self) -> bool:
        return not self.date.data and not self.name.data

    def day(self) -> dt.date | None:
        try:
            return dt.date.fromisoformat(self.date.data or "")
        except ValueError:
            return None


def _weekday_field(label):
    return FieldList(FormField(IntervalForm), label=label, min_entries=0, max_entries=MAX_INTERVALS_PER_DAY)


class ScheduleForm(FlaskForm):
    name = StringField(_l("Name"), filters=[strip], validators=[DataRequired(_l("Enter the name.")), Length(max=80)])
    time_zone = time_zone_field()
    monday = _weekday_field(WEEKDAY_LABELS[0])
    tuesday = _weekday_field(WEEKDAY_LABELS[1])
    wednesday = _weekday_field(WEEKDAY_LABELS[2])
    thursday = _weekday_field(WEEKDAY_LABELS[3])
    friday = _weekday_field(WEEKDAY_LABELS[4])
    saturday = _weekday_field(WEEKDAY_LABELS[5])
    sunday = _weekday_field(WEEKDAY_LABELS[6])
    holidays = FieldList(FormField(HolidayForm), label=_l("Holidays"), min_entries=0, max_entries=MAX_HOLIDAYS)

    def days(self):
        """(weekday number, its FieldList) for Monday..Sunday."""
        return [(number, self[name]) for number, name in enumerate(WEEKDAYS)]

    def apply_row_command(self, command: str) -> str | None:
        limits = {name: MAX_INTERVALS_PER_DAY for name in WEEKDAYS} | {"holidays": MAX_HOLIDAYS}
        return rows.apply_row_command(self, command, limits)

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        days_valid = all([self._check_day(field) for _, field in self.days()])
        return self._check_holidays() and days_valid and valid

    def _check_day(self, field) -> bool:
        """Each interval reads as start < end, and no two intervals of the day overlap."""
        valid, checked = True, []
        for entry in field.entries:
            interval = entry.form
            if interval.is_blank:
                continue
            start, end = interval.minutes()
            if start is None:
                interval.start.errors.append(_l("Enter the opening time as HH:MM."))
            if end is None:
                interval.end.errors.append(_l("Enter the closing time as HH:MM."))
            if start is None or end is None:
                valid = False
            elif start >= end:
                interval.end.errors.append(_l("Closing must come after opening (00:00 means midnight)."))
                valid = False
            else:
                checked.append((interval, start, end))
        for index in hours.overlapping([(start, end) for _, start, end in checked]):
            interval = checked[index][0]
            interval.end.errors.append(_l("This interval overlaps another one on the same day."))
            valid = False
        return valid

    def _check_holidays(self) -> bool:
        valid, seen = True, set()
        for entry in self.holidays.entries:
            holiday = entry.form
            if holiday.is_blank:
                continue
            day = holiday.day()
            if day is None:
                holiday.date.errors.append(_l("Enter the date."))
                valid = False
            elif day in seen:
                holiday.date.errors.append(_l("This date is already a holiday."))
                valid = False
            seen.add(day)
            if not holiday.name.data:
                holiday.name.errors.append(_l("Enter the holiday's name."))
                valid = False
        return valid

    def weekly_intervals(self) -> list[tuple[int, int, int]]:
        """(weekday, start minute, end minute) of the filled rows; call after validate()."""
        return [
            (weekday, *entry.form.minutes())
            for weekday, field in self.days()
            for entry in field.entries
            if not entry.form.is_blank
        ]

    def holiday_list(self) -> list[tuple[dt.date, str]]:
        return [(e.form.day(), e.form.name.data) for e in self.holidays.entries if not e.form.is_blank]
