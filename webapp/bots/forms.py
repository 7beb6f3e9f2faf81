"""The bot editor's form: messages checked for placeholders and Instagram's size, a numbered menu of rows."""
from __future__ import annotations

from flask_babel import gettext, lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from webapp.bots import placeholders, rows
from webapp.workspace.limits import FitsInstagramMessage, normalise_newlines

MAX_MENU_OPTIONS = 20
MAX_ATTEMPTS = 10
MAX_TIMEOUT_MINUTES = 24 * 60
PLACEHOLDER_HELP = _l("You can use %(names)s.", names=", ".join("{{%s}}" % n for n in placeholders.PLACEHOLDERS))


def optional_id(value):
    """"" and None mean "none chosen"; anything else must be a number."""
    if value in ("", None):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def strip(value):
    return value.strip() if isinstance(value, str) else value


class OnlyKnownPlaceholders:
    """The message uses only {{protocolo}}, {{nome}} and {{departamento}}, spelled correctly."""

    def __call__(self, form, field):
        unknown = placeholders.unknown_placeholders(field.data or "")
        if unknown:
            # gettext, not _l: a lazy string renders unescaped (it has __html__), and the name is typed text.
            raise ValidationError(
                gettext("Unknown placeholder {{%(name)s}}. You can use %(names)s.", name=unknown[0],
                   names=", ".join("{{%s}}" % n for n in placeholders.PLACEHOLDERS))
            )
        if placeholders.has_stray_braces(field.data or ""):
            raise ValidationError(_l("Write placeholders with two braces on each side, like {{nome}}."))


def _message(label, required_message):
    return TextAreaField(
        label,
        filters=[normalise_newlines, strip],
        validators=[DataRequired(required_message), FitsInstagramMessage(), OnlyKnownPlaceholders()],
        description=PLACEHOLDER_HELP,
        render_kw={"rows": 3},
    )


class MenuOptionForm(Form):
    """One numbered menu row; a row left completely blank is ignored."""

    label = StringField(_l("Option text"), filters=[strip], validators=[Length(max=100)])
    department = SelectField(_l("Department"), coerce=optional_id, validate_choice=False)

    @property
    def is_blank(self) -> bool:
        return not self.label.data and self.department.data is None


class BotForm(FlaskForm):
    name = StringField(_l("Name"), filters=[strip], validators=[DataRequired(_l("Enter the name.")), Length(max=80)])
    greeting = _message(_l("Greeting"), _l("Enter the greeting."))
    options = FieldList(FormField(MenuOptionForm), label=_l("Menu options"), min_entries=0, max_entries=MAX_MENU_OPTIONS)
    invalid_answer_message = _message(_l("Message for an invalid answer"), _l("Enter the message for an invalid answer."))
    max_attempts = IntegerField(
        _l("Maximum attempts"),
        validators=[InputRequired(_l("Enter a number from 1 to %(n)d.", n=MAX_ATTEMPTS)),
                    NumberRange(1, MAX_ATTEMPTS, _l("Enter a number from 1 to %(n)d.", n=MAX_ATTEMPTS))],
        render_kw={"min": 1, "max": MAX_ATTEMPTS, "inputmode": "numeric"},
    )
    fallback_department = SelectField(
        _l("Department after the last attempt"), coerce=optional_id, validate_choice=False
    )
    out_of_hours_message = _message(_l("Out-of-hours message"), _l("Enter the out-of-hours message."))
    no_answer_timeout_minutes = IntegerField(
        _l("No-answer timeout (minutes)"),
        validators=[InputRequired(_l("Enter a number of minutes from 1 to %(n)d.", n=MAX_TIMEOUT_MINUTES)),
                    NumberRange(1, MAX_TIMEOUT_MINUTES, _l("Enter a number of minutes from 1 to %(n)d.", n=MAX_TIMEOUT_MINUTES))],
        description=_l("Without an answer for this long, the ticket goes to the connection's default department."),
        render_kw={"min": 1, "max": MAX_TIMEOUT_MINUTES, "inputmode": "numeric"},
    )
    schedule = SelectField(_l("Business hours"), coerce=optional_id, validate_choice=False)

    def __init__(self, *args, department_choices=(), schedule_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._departments = [SelectChoice("", _l("Choose a department"))] + [
            SelectChoice(value, label) for value, label in department_choices
        ]
        self._department_ids = {value for value, _ in department_choices}
        self.fallback_department.choices = self._departments
        self.schedule.choices = [SelectChoice("", _l("Always open"))] + [
            SelectChoice(value, label) for value, label in schedule_choices
        ]
        self._schedule_ids = {value for value, _ in schedule_choices}
        self.schedule.description = _l("Outside these hours the bot sends the out-of-hours message.")
        if not self.options.entries:
            self.options.append_entry()
        self.menu_errors: list = []
        self._offer_departments()

    def _offer_departments(self):
        for entry in self.options.entries:
            entry.form.department.choices = self._departments

    def apply_row_command(self, command: str) -> str | None:
        focus = rows.apply_row_command(self, command, {"options": MAX_MENU_OPTIONS})
        self._offer_departments()
        return focus

    def menu(self) -> list[tuple[str, int]]:
        """(label, department id) of the filled rows, in order: option 1 first."""
        return [(e.form.label.data, e.form.department.data) for e in self.options.entries if not e.form.is_blank]

    def validate_fallback_department(self, field):
        if field.data not in self._department_ids:
            raise ValidationError(_l("Choose an active department."))

    def validate_schedule(self, field):
        if field.data is not None and field.data not in self._schedule_ids:
            raise ValidationError(_l("Choose business hours from the list."))

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        return self._check_menu() and valid

    def _check_menu(self) -> bool:
        """Rows are checked here, not by WTForms, so that a blank row is skipped rather than refused."""
        self.menu_errors = []
        filled, valid = 0, True
        for entry in self.options.entries:
            option = entry.form
            if option.is_blank:
                continue
            filled += 1
            if not option.label.data:
                option.label.errors.append(_l("Enter the option text."))
                valid = False
            if option.department.data not in self._department_ids:
                option.department.errors.append(_l("Choose an active department."))
                valid = False
        if not filled:
            self.menu_errors.append(_l("Add at least one option to the menu."))
            valid = False
        return valid
