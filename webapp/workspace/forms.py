"""Forms of the workspace screens: subjects, quick replies, company settings."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from webapp.bots.forms import optional_id, strip
from webapp.bots.schedule_forms import time_zone_field
from webapp.workspace import protocol
from webapp.workspace.limits import INSTAGRAM_TEXT_MAX_BYTES, FitsInstagramMessage, normalise_newlines
from webapp.workspace.store import SHORTCUT_SHAPE, normalise_shortcut

PROTOCOL_FORMAT_ERRORS = {
    "length": _l("Enter a format of up to %(n)d characters.", n=protocol.MAX_FORMAT_LENGTH),
    "no_seq": _l("Include the day's sequence, e.g. {seq:04d}."),
    "no_date": _l("Include the year, month and day, e.g. {date:%Y%m%d}: the sequence starts again every day."),
    "unknown_field": _l("Only {date:...} and {seq:...} can be used."),
    "invalid": _l("This format cannot be used. Example: {date:%Y%m%d}{seq:04d}."),
    "shape": _l("A protocol may have letters, digits, spaces and . _ / # - (up to %(n)d characters).", n=protocol.MAX_PROTOCOL_LENGTH),
}


def protocol_format_problem(value: str) -> str | None:
    """The message explaining why a format is refused, or None when it is fine."""
    try:
        protocol.check_format(value)
    except protocol.ProtocolFormatError as error:
        return str(PROTOCOL_FORMAT_ERRORS[error.code])
    return None


class SubjectForm(FlaskForm):
    name = StringField(_l("Name"), filters=[strip], validators=[DataRequired(_l("Enter the name.")), Length(max=80)])


class QuickReplyForm(FlaskForm):
    shortcut = StringField(
        _l("Shortcut"),
        filters=[strip],
        validators=[DataRequired(_l("Enter the shortcut."))],
        description=_l("Agents type it in the composer, e.g. /boasvindas."),
        render_kw={"autocapitalize": "off", "spellcheck": "false", "placeholder": "/boasvindas"},
    )
    text = TextAreaField(
        _l("Text"),
        filters=[normalise_newlines],
        validators=[DataRequired(_l("Enter the text.")), FitsInstagramMessage()],
        description=_l("Up to %(n)d bytes, Instagram's limit (accents and emoji take more than one byte).", n=INSTAGRAM_TEXT_MAX_BYTES),
        render_kw={"rows": 4},
    )
    department = SelectField(_l("Who can use it"), coerce=optional_id, validate_choice=False)

    def __init__(self, *args, department_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.department.choices = [SelectChoice("", _l("Everyone"))] + [
            SelectChoice(value, label) for value, label in department_choices
        ]
        self._department_ids = {value for value, _ in department_choices}

    def validate_shortcut(self, field):
        if not SHORTCUT_SHAPE.match(normalise_shortcut(field.data or "")):
            raise ValidationError(_l("Use lower-case letters without accents, digits, - and _ (up to 40)."))

    def validate_department(self, field):
        if field.data is not None and field.data not in self._department_ids:
            raise ValidationError(_l("Choose an active department."))


class CompanySettingsForm(FlaskForm):
    protocol_format = StringField(
        _l("Protocol number format"),
        filters=[strip],
        validators=[DataRequired(_l("Enter the format."))],
        description=_l("{date:%Y%m%d} is the date (strftime codes), {seq:04d} the day's sequence number."),
        render_kw={"autocapitalize": "off", "spellcheck": "false"},
    )
    subject_required_on_close = BooleanField(_l("A subject is required to close a ticket"))
    agent_name_in_messages = BooleanField(_l("Start every message with the agent's name"))
    time_zone = time_zone_field()

    def validate_protocol_format(self, field):
        problem = protocol_format_problem(field.data or "")
        if problem:
            raise ValidationError(problem)
