"""Administração: every screen answers a full page, or for htmx the section fragment it includes."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.admin.forms import ROLE_LABELS, DepartmentForm, UserForm
from webapp.core.pages import page_or_fragment, section_or_redirect
from webapp.extensions import db
from webapp.team import directory
from webapp.team.access import admin_required
from webapp.team.models import Department, Role, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@admin_required
def index():
    return redirect(url_for("admin.users"))


# ---- users -------------------------------------------------------------------------------------


def _department_choices():
    return [(d.id, d.name) for d in directory.departments_for_choice()]


def _users_section(form=None, editing=None, notice=None, status=200):
    return page_or_fragment(
        "admin/users.html",
        "admin/_users.html",
        status=status,
        users=directory.all_users(),
        form=form,
        editing=editing,
        notice=notice,
        role_labels=ROLE_LABELS,
    )



@bp.get("/users")
@admin_required
def users():
    return _users_section()


@bp.get("/users/new")
@admin_required
def new_user():
    form = UserForm(department_choices=_department_choices(), language="pt_BR", role=Role.AGENT.value)
    return _users_section(form=form)


@bp.post("/users")
@admin_required
def create_user():
    form = UserForm(department_choices=_department_choices())
    if form.validate_on_submit():
        try:
            user = directory.create_user(
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
                role=Role(form.role.data),
                department_ids=form.departments.data,
                language=form.language.data,
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
        except directory.TeamError as error:
            form.email.errors.append(str(error))
        else:
            return section_or_redirect("admin.users", _users_section, _("User %(name)s created.", name=user.name))
    return _users_section(form=form, status=422)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users/<int:user_id>/edit")
@admin_required
def edit_user(user_id: int):
    user = _user_or_404(user_id)
    form = UserForm(
        obj=user,
        department_choices=_department_choices(),
        creating=False,
        role=user.role.value,
        departments=[d.id for d in user.departments],
    )
    return _users_section(form=form, editing=user)


@bp.post("/users/<int:user_id>")
@admin_required
def update_user(user_id: int):
    user = _user_or_404(user_id)
    form = UserForm(department_choices=_department_choices(), creating=False)
    if form.validate_on_submit():
        try:
            directory.update_user(
                user,
                actor=current_user,
                name=form.name.data,
                email=form.email.data,
                role=Role(form.role.data),
                department_ids=form.departments.data,
                language=form.language.data,
                password=form.password.data or None,
                hash_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
        except directory.TeamError as error:
            target = form.role if error.field == "role" else form.email
            target.errors.append(str(error))
        else:
            return section_or_redirect("admin.users", _users_section, _("User %(name)s saved.", name=user.name))
    return _users_section(form=form, editing=user, status=422)


@bp.post("/users/<int:user_id>/active")
@admin_required
def toggle_user(user_id: int):
    user = _user_or_404(user_id)
    try:
        directory.set_user_active(user, not user.active, actor=current_user)
    except directory.TeamError as error:
        return _users_section(notice=str(error), status=422)
    notice = _("%(name)s reactivated.", name=user.name) if user.active else _("%(name)s deactivated.", name=user.name)
    return section_or_redirect("admin.users", _users_section, notice)


# ---- departments -------------------------------------------------------------------------------


def _departments_section(form=None, editing=None, notice=None, status=200):
    return page_or_fragment(
        "admin/departments.html",
        "admin/_departments.html",
        status=status,
        departments=directory.all_departments(),
        member_counts=directory.department_member_counts(),
        form=form,
        editing=editing,
        notice=notice,
    )


def _department_or_404(department_id: int) -> Department:
    department = db.session.get(Department, department_id)
    if department is None:
        abort(404)
    return department


@bp.get("/departments")
@admin_required
def departments():
    return _departments_section()


@bp.get("/departments/new")
@admin_required
def new_department():
    return _departments_section(form=DepartmentForm())


@bp.post("/departments")
@admin_required
def create_department():
    form = DepartmentForm()
    if form.validate_on_submit():
        try:
            department = directory.create_department(form.name.data)
        except directory.TeamError as error:
            form.name.errors.append(str(error))
        else:
            return section_or_redirect("admin.departments", _departments_section, _("Department %(name)s created.", name=department.name))
    return _departments_section(form=form, status=422)


@bp.get("/departments/<int:department_id>/edit")
@admin_required
def edit_department(department_id: int):
    department = _department_or_404(department_id)
    return _departments_section(form=DepartmentForm(obj=department), editing=department)


@bp.post("/departments/<int:department_id>")
@admin_required
def update_department(department_id: int):
    department = _department_or_404(department_id)
    form = DepartmentForm()
    if form.validate_on_submit():
        try:
            directory.rename_department(department, form.name.data)
        except directory.TeamError as error:
            form.name.errors.append(str(error))
        else:
            return section_or_redirect("admin.departments", _departments_section, _("Department %(name)s saved.", name=department.name))
    return _departments_section(form=form, editing=department, status=422)


@bp.post("/departments/<int:department_id>/active")
@admin_required
def toggle_department(department_id: int):
    department = _department_or_404(department_id)
    directory.set_department_active(department, not department.active)
    notice = (
        _("Department %(name)s reactivated.", name=department.name)
        if department.active
        else _("Department %(name)s deactivated.", name=department.name)
    )
    return section_or_redirect("admin.departments", _departments_section, notice)
