"""Assuntos, Respostas rápidas and Configurações: a full page, or for htmx the section fragment it includes."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from webapp.bots.hours import is_time_zone, time_zone
from webapp.bots.schedule_forms import SUGGESTED_TIME_ZONES
from webapp.core.pages import is_htmx, page_or_fragment, section_or_redirect
from webapp.extensions import db
from webapp.team import directory
from webapp.team.access import admin_required
from webapp.workspace import protocol, store
from webapp.workspace.forms import CompanySettingsForm, QuickReplyForm, SubjectForm, protocol_format_problem
from webapp.workspace.models import QuickReply, Subject

bp = Blueprint("workspace", __name__, url_prefix="/admin")



# ---- subjects --------------------------------------------------------------------------------------------


def _subjects_section(form=None, editing=None, notice=None, status=200):
    return page_or_fragment(
        "workspace/subjects.html", "workspace/_subjects.html", status=status,
        subjects=store.all_subjects(), form=form, editing=editing, notice=notice,
    )


def _save_subject(subject: Subject | None):
    form = SubjectForm()
    if form.validate_on_submit():
        try:
            subject = store.save_subject(subject, form.name.data)
        except store.WorkspaceError as error:
            form.name.errors.append(str(error))
        else:
            return section_or_redirect("workspace.subjects", _subjects_section, _("Subject %(name)s saved.", name=subject.name))
    return _subjects_section(form=form, editing=subject, status=422)


@bp.get("/subjects")
@admin_required
def subjects():
    return _subjects_section()


@bp.get("/subjects/new")
@admin_required
def new_subject():
    return _subjects_section(form=SubjectForm())


@bp.post("/subjects")
@admin_required
def create_subject():
    return _save_subject(None)


@bp.get("/subjects/<int:subject_id>/edit")
@admin_required
def edit_subject(subject_id: int):
    subject = db.get_or_404(Subject, subject_id)
    return _subjects_section(form=SubjectForm(data={"name": subject.name}), editing=subject)


@bp.post("/subjects/<int:subject_id>")
@admin_required
def update_subject(subject_id: int):
    return _save_subject(db.get_or_404(Subject, subject_id))


@bp.post("/subjects/<int:subject_id>/active")
@admin_required
def toggle_subject(subject_id: int):
    subject = db.get_or_404(Subject, subject_id)
    store.set_subject_active(subject, not subject.active)
    notice = (_("Subject %(name)s reactivated.", name=subject.name) if subject.active
              else _("Subject %(name)s deactivated.", name=subject.name))
    return section_or_redirect("workspace.subjects", _subjects_section, notice)


# ---- quick replies ---------------------------------------------------------------------------------------


def _quick_reply_form(**kwargs) -> QuickReplyForm:
    return QuickReplyForm(department_choices=[(d.id, d.name) for d in directory.departments_for_choice()], **kwargs)


def _quick_replies_section(form=None, editing=None, notice=None, status=200):
    return page_or_fragment(
        "workspace/quick_replies.html", "workspace/_quick_replies.html", status=status,
        quick_replies=store.all_quick_replies(), form=form, editing=editing, notice=notice,
    )


def _save_quick_reply(reply: QuickReply | None):
    form = _quick_reply_form()
    if form.validate_on_submit():
        try:
            reply = store.save_quick_reply(
                reply, shortcut=form.shortcut.data, text=form.text.data, department_id=form.department.data
            )
        except store.WorkspaceError as error:
            (form.shortcut if error.field == "shortcut" else form.text).errors.append(str(error))
        else:
            return section_or_redirect("workspace.quick_replies", _quick_replies_section,
                         _("Quick reply /%(shortcut)s saved.", shortcut=reply.shortcut))
    return _quick_replies_section(form=form, editing=reply, status=422)


@bp.get("/quick-replies")
@admin_required
def quick_replies():
    return _quick_replies_section()


@bp.get("/quick-replies/new")
@admin_required
def new_quick_reply():
    return _quick_replies_section(form=_quick_reply_form())


@bp.post("/quick-replies")
@admin_required
def create_quick_reply():
    return _save_quick_reply(None)


@bp.get("/quick-replies/<int:reply_id>/edit")
@admin_required
def edit_quick_reply(reply_id: int):
    reply = db.get_or_404(QuickReply, reply_id)
    form = _quick_reply_form(data={"shortcut": "/" + reply.shortcut, "text": reply.text, "department": reply.department_id})
    return _quick_replies_section(form=form, editing=reply)


@bp.post("/quick-replies/<int:reply_id>")
@admin_required
def update_quick_reply(reply_id: int):
    return _save_quick_reply(db.get_or_404(QuickReply, reply_id))


@bp.post("/quick-replies/<int:reply_id>/delete")
@admin_required
def delete_quick_reply(reply_id: int):
    reply = db.get_or_404(QuickReply, reply_id)
    shortcut = reply.shortcut
    store.delete_quick_reply(reply)
    return section_or_redirect("workspace.quick_replies", _quick_replies_section, _("Quick reply /%(shortcut)s deleted.", shortcut=shortcut))


# ---- company settings ------------------------------------------------------------------------------------


def _protocol_sample(protocol_format: str, zone_name: str) -> str | None:
    """Today's first protocol in the company's zone, or None when the format is refused."""
    if protocol_format_problem(protocol_format):
        return None
    today = dt.datetime.now(time_zone(zone_name) if is_time_zone(zone_name) else dt.timezone.utc).date()
    return protocol.format_protocol(protocol_format, today, 1)


def _settings_section(form, notice=None, status=200):
    return page_or_fragment(
        "workspace/settings.html", "workspace/_settings.html", status=status, form=form, notice=notice,
        sample=_protocol_sample(form.protocol_format.data or "", form.time_zone.data or ""),
        time_zones=SUGGESTED_TIME_ZONES,
    )


@bp.get("/settings")
@admin_required
def settings():
    return _settings_section(CompanySettingsForm(obj=store.company_settings()))


@bp.post("/settings")
@admin_required
def save_settings():
    form = CompanySettingsForm()
    if form.validate_on_submit():
        try:
            store.save_company_settings(
                protocol_format=form.protocol_format.data, time_zone=form.time_zone.data,
                subject_required_on_close=form.subject_required_on_close.data,
                agent_name_in_messages=form.agent_name_in_messages.data,
            )
        except store.WorkspaceError as error:
            form.time_zone.errors.append(str(error))
        else:
            if is_htmx():
                return _settings_section(form, notice=_("Settings saved."))
            return redirect(url_for("workspace.settings"))
    return _settings_section(form, status=422)


@bp.get("/settings/protocol-sample")
@admin_required
def protocol_sample():
    """The live sample under the format field, as the admin types (htmx)."""
    protocol_format = request.args.get("protocol_format", "")
    return render_template(
        "workspace/_protocol_sample.html",
        sample=_protocol_sample(protocol_format, store.company_settings().time_zone),
        problem=protocol_format_problem(protocol_format),
    )
