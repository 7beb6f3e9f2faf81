"""Users and departments."""
from __future__ import annotations

import datetime as dt
import enum
import secrets

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, String, Table, func
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.database import UTCDateTime, string_enum, utcnow
from webapp.extensions import db


class Role(str, enum.Enum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"

    @property
    def sees_every_department(self) -> bool:
        return self in (Role.ADMIN, Role.SUPERVISOR)


user_departments = Table(
    "user_departments",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


class Department(db.Model):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # Lower-cased name: "Vendas" and "vendas" are the same department, on SQLite as on PostgreSQL.
    name_key: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list["User"]] = relationship(secondary=user_departments, back_populates="departments")

    def rename(self, name: str) -> None:
        self.name = name.strip()
        self.name_key = department_key(name)

    def __repr__(self) -> str:
        return f"<Department {self.name!r}>"


def department_key(name: str) -> str:
    return " ".join(name.split()).casefold()


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(string_enum(Role))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="pt_BR")
    # Part of the session id: rotating it signs the user out everywhere (password change, deactivation).
    session_token: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    departments: Mapped[list[Department]] = relationship(
        secondary=user_departments, back_populates="users", order_by=Department.name
    )

    # Flask-Login
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def set_password(self, password: str, method: str = "scrypt") -> None:
        self.password_hash = generate_password_hash(password, method=method)
        self.session_token = secrets.token_hex(16)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def sees_every_department(self) -> bool:
        return self.role.sees_every_department

    def __repr__(self) -> str:
        return f"<User {self.email!r} {self.role.value}>"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.email == normalise_email(email)))


def find_department_by_name(name: str) -> Department | None:
    return db.session.scalar(db.select(Department).where(Department.name_key == department_key(name)))


def active_departments() -> list[Department]:
    return list(db.session.scalars(db.select(Department).where(Department.active).order_by(func.lower(Department.name))))


class LoginAttempt(db.Model):
    """A failed sign-in, kept for a while to slow down password guessing (across every worker)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
