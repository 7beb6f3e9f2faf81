"""Managing the team: the rules an admin screen and the CLI share (no request objects here)."""
from __future__ import annotations

import secrets
from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.team.models import (
    Department,
    Role,
    User,
    department_key,
    find_department_by_name,
    find_user_by_email,
    normalise_email,
    user_departments,
)


class TeamError(ValueError):
    """A change the rules refuse; `field` names the form field the message belongs to."""

    def __init__(self, message, field: str = "email"):
        super().__init__(message)
        self.field = field


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.active.desc(), func.lower(User.name))).unique())


def all_departments() -> list[Department]:
    return list(db.session.scalars(select(Department).order_by(Department.active.desc(), func.lower(Department.name))))


def departments_for_choice() -> list[Department]:
    """Active departments, for pickers."""
    return list(db.session.scalars(select(Department).where(Department.active).order_by(func.lower(Department.name))))


def department_member_counts() -> dict[int, int]:
    rows = db.session.execute(
        select(user_departments.c.department_id, func.count())
        .join(User, User.id == user_departments.c.user_id)
        .where(User.active)
        .group_by(user_departments.c.department_id)
    )
    return dict(rows.all())


def _departments_by_id(ids: Iterable[int]) -> list[Department]:
    ids = list(ids)
    if not ids:
        return []
    return list(db.session.scalars(select(Department).where(Department.id.in_(ids))))


def _active_admins_other_than(user: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.active, User.id != user.id)
    )


def create_user(
    *, name: str, email: str, password: str, role: Role, department_ids: Iterable[int] = (),
    language: str = "pt_BR", hash_method: str = "scrypt", departments: Iterable[Department] = (),
) -> User:
    email = normalise_email(email)
    if find_user_by_email(email) is not None:
        raise TeamError(_l("A user with this e-mail already exists."))
    user = User(name=name.strip(), email=email, role=role, language=language, active=True)
    user.set_password(password, method=hash_method)
    user.departments = _departments_by_id(department_ids) + list(departments)
    db.session.add(user)
    db.session.commit()
    return user


def update_user(
    user: User, *, actor: User, name: str, email: str, role: Role, department_ids: Iterable[int],
    language: str, password: str | None = None, hash_method: str = "scrypt",
) -> None:
    email = normalise_email(email)
    other = find_user_by_email(email)
    if other is not None and other.id != user.id:
        raise TeamError(_l("A user with this e-mail already exists."))
    if user.role == Role.ADMIN and role != Role.ADMIN and _active_admins_other_than(user) == 0:
        raise TeamError(_l("The last active administrator must stay an administrator."), field="role")
    if user.id == actor.id and role != Role.ADMIN:
        raise TeamError(_l("You cannot remove your own administrator role."), field="role")
    user.name, user.email, user.role, user.language = name.strip(), email, role, language
    user.departments = _departments_by_id(department_ids)
    if password:
        user.set_password(password, method=hash_method)
    db.session.commit()


def set_user_active(user: User, active: bool, *, actor: User) -> None:
    if not active:
        if user.id == actor.id:
            raise TeamError(_l("You cannot deactivate yourself."))
        if user.role == Role.ADMIN and _active_admins_other_than(user) == 0:
            raise TeamError(_l("The last active administrator cannot be deactivated."))
        # A deactivated user's open sessions end at their next request.
        user.session_token = secrets.token_hex(16)
    user.active = active
    db.session.commit()


def create_department(name: str) -> Department:
    name = " ".join(name.split())
    if find_department_by_name(name) is not None:
        raise TeamError(_l("A department with this name already exists."), field="name")
    department = Department(name=name, name_key=department_key(name), active=True)
    db.session.add(department)
    db.session.commit()
    return department


def rename_department(department: Department, name: str) -> None:
    name = " ".join(name.split())
    other = find_department_by_name(name)
    if other is not None and other.id != department.id:
        raise TeamError(_l("A department with this name already exists."), field="name")
    department.rename(name)
    db.session.commit()


def set_department_active(department: Department, active: bool) -> None:
    department.active = active
    db.session.commit()


def ensure_department(name: str) -> Department:
    return find_department_by_name(name) or create_department(name)
