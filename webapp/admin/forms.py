from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import EmailField, PasswordField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from webapp.core.i18n import LANGUAGES
from webapp.team.models import Role

ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.AGENT: _l("Agent"),
}
MIN_PASSWORD = 8
# A sanity check, not RFC 5322: team addresses on .local or .test domains are fine on a private install.
EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class UserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the name.")), Length(max=120)])
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(_l("Enter the e-mail.")), Regexp(EMAIL_SHAPE, message=_l("Enter a valid e-mail.")), Length(max=254)],
    )
    role = SelectField(_l("Role"), choices=[SelectChoice(r.value, label) for r, label in ROLE_LABELS.items()])
    departments = CheckboxList(_l("Departments"), coerce=int)
    language = SelectField(_l("Language"), choices=[SelectChoice(code, label) for code, label in LANGUAGES.items()])
    password = PasswordField(_l("Password"), validators=[Optional(), Length(min=MIN_PASSWORD, max=200)])

    def __init__(self, *args, department_choices=(), creating=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.departments.choices = [SelectChoice(value, label) for value, label in department_choices]
        self.creating = creating
        if not creating:
            self.password.description = _l("Leave blank to keep the current password.")

    def validate_password(self, field):
        if self.creating and not field.data:
            raise ValidationError(_l("Choose a password of at least %(n)d characters.", n=MIN_PASSWORD))

    def validate_departments(self, field):
        if self.role.data == Role.AGENT.value and not field.data:
            raise ValidationError(_l("An agent needs at least one department."))


class DepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the name.")), Length(max=80)])
