"""Subjects, quick replies and the company settings: rules the admin screens share (no request objects here)."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from webapp.bots.hours import is_time_zone
from webapp.extensions import db
from webapp.team.models import department_key as name_key
from webapp.workspace.models import CompanySettings, QuickReply, Subject
from webapp.workspace.protocol import check_format

SETTINGS_ID = 1
SHORTCUT_SHAPE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class WorkspaceError(ValueError):
    """A change the rules refuse; `field` names the form field the message belongs to."""

    def __init__(self, message, field: str = "name"):
        super().__init__(message)
        self.field = field


# ---- subjects --------------------------------------------------------------------------------------------


def all_subjects() -> list[Subject]:
    return list(db.session.scalars(select(Subject).order_by(Subject.active.desc(), func.lower(Subject.name))))


def active_subjects() -> list[Subject]:
    """Subjects an agent may choose when closing a ticket."""
    return list(db.session.scalars(select(Subject).where(Subject.active).order_by(func.lower(Subject.name))))


def _subject_named(name: str) -> Subject | None:
    return db.session.scalar(select(Subject).where(Subject.name_key == name_key(name)))


def save_subject(subject: Subject | None, name: str) -> Subject:
    """Create (subject=None) or rename a subject."""
    name = " ".join(name.split())
    other = _subject_named(name)
    if other is not None and (subject is None or other.id != subject.id):
        raise WorkspaceError(_l("A subject with this name already exists."))
    if subject is None:
        subject = Subject(active=True)
        db.session.add(subject)
    subject.name, subject.name_key = name, name_key(name)
    db.session.commit()
    return subject


def set_subject_active(subject: Subject, active: bool) -> None:
    subject.active = active
    db.session.commit()


# ---- quick replies ---------------------------------------------------------------------------------------


def normalise_shortcut(shortcut: str) -> str:
    """"/BoasVindas " -> "boasvindas"."""
    return shortcut.strip().lstrip("/").lower()


def all_quick_replies() -> list[QuickReply]:
    return list(db.session.scalars(select(QuickReply).order_by(QuickReply.shortcut)))


def quick_replies_for(department_ids) -> list[QuickReply]:
    """The replies an agent of these departments may use: everyone's plus their departments'."""
    return list(db.session.scalars(
        select(QuickReply)
        .where(or_(QuickReply.department_id.is_(None), QuickReply.department_id.in_(list(department_ids))))
        .order_by(QuickReply.shortcut)
    ))


def save_quick_reply(reply: QuickReply | None, *, shortcut: str, text: str, department_id: int | None) -> QuickReply:
    """Create (reply=None) or change a quick reply; the form has checked the text's size."""
    shortcut = normalise_shortcut(shortcut)
    if not SHORTCUT_SHAPE.match(shortcut):
        raise WorkspaceError(_l("Use lower-case letters without accents, digits, - and _ (up to 40)."), field="shortcut")
    other = db.session.scalar(select(QuickReply).where(QuickReply.shortcut == shortcut))
    if other is not None and (reply is None or other.id != reply.id):
        raise WorkspaceError(_l("This shortcut is already taken."), field="shortcut")
    if reply is None:
        reply = QuickReply()
        db.session.add(reply)
    reply.shortcut, reply.text, reply.department_id = shortcut, text, department_id
    db.session.commit()
    return reply


def delete_quick_reply(reply: QuickReply) -> None:
    db.session.delete(reply)
    db.session.commit()


# ---- company settings ------------------------------------------------------------------------------------


def company_settings() -> CompanySettings:
    """The settings row, created with the defaults on first read (two first reads at once both end up reading it)."""
    settings = db.session.get(CompanySettings, SETTINGS_ID)
    if settings is not None:
        return settings
    db.session.add(CompanySettings(id=SETTINGS_ID))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    return db.session.get(CompanySettings, SETTINGS_ID)


def save_company_settings(*, protocol_format: str, subject_required_on_close: bool, agent_name_in_messages: bool,
                          time_zone: str) -> CompanySettings:
    check_format(protocol_format)  # the form said why; this guards every other caller
    if not is_time_zone(time_zone):
        raise WorkspaceError(_l("Unknown time zone. Use a name such as America/Sao_Paulo."), field="time_zone")
    settings = company_settings()
    settings.protocol_format = protocol_format
    settings.subject_required_on_close = subject_required_on_close
    settings.agent_name_in_messages = agent_name_in_messages
    settings.time_zone = time_zone
    db.session.commit()
    return settings
