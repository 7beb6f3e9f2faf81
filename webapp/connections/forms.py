from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length


def _choices(items):
    return [SelectChoice("", _l("Choose…"))] + [SelectChoice(str(i.id), i.name) for i in items]


class ConnectionForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name for this connection.")), Length(max=80)],
                       description=_l("Identifies the connection, e.g. the store or brand."))
    default_department = SelectField(_l("Default department for tickets"),
                                     validators=[InputRequired(_l("Choose the department that receives new tickets."))],
                                     description=_l("Every new ticket of this connection starts here."))
    bot = SelectField(_l("Bot"), validators=[InputRequired(_l("Choose the bot that greets and routes customers."))])

    def __init__(self, *args, departments=(), bots=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.default_department.choices = _choices(departments)
        self.bot.choices = _choices(bots)

    def validate_default_department(self, field):
        if not field.data:
            raise ValueError(_l("Choose the department that receives new tickets."))

    def validate_bot(self, field):
        if not field.data:
            raise ValueError(_l("Choose the bot that greets and routes customers."))


class AcceptTermsForm(FlaskForm):
    accept = BooleanField(_l("I have read and accept the privacy policy and the terms of use"),
                          validators=[DataRequired(_l("Accept the privacy policy and the terms of use to continue."))])


class LegalTextForm(FlaskForm):
    privacy_pt_br = TextAreaField(_l("Privacy policy (Portuguese)"), validators=[DataRequired()])
    terms_pt_br = TextAreaField(_l("Terms of use (Portuguese)"), validators=[DataRequired()])
    privacy_en = TextAreaField(_l("Privacy policy (English)"), validators=[DataRequired()])
    terms_en = TextAreaField(_l("Terms of use (English)"), validators=[DataRequired()])
