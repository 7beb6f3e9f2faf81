"""Database plumbing shared by every model: the declarative base, UTC timestamps, SQLite pragmas, and the check that
PostgreSQL's driver cooperates with gevent."""
from __future__ import annotations

import datetime as dt
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Errors that say the database is away (restarting, unreachable, its pool exhausted), not that what was asked is
# wrong: work that meets them waits and tries again.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)

# Named constraints keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def string_enum(enum_class) -> SAEnum:
    """A Python enum stored as its values in a plain string column: portable, and adding a member needs no migration."""
    return SAEnum(enum_class, native_enum=False, length=20, values_callable=lambda members: [m.value for m in members])


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which forgets the zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL lets readers work while a webhook writes; the busy timeout waits instead of failing."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL still survives any crash of the application (a commit is in the log before the 200); only
    # a power loss or an OS crash can roll back the last commits. Larger installs run PostgreSQL.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # SQLite's own lower() knows only ASCII: searching "érica" would not find "Érica". Python's does (as PostgreSQL's).
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def check_driver_cooperates(database_url: str) -> None:
    """Under gevent, psycopg must wait for PostgreSQL through gevent's patched select, or one slow query freezes
    every request of the process. psycopg picks its wait function when first imported: after gevent's monkey patch
    (wsgi.py applies it first) it cooperates; imported before, it blocks. Refuse to start rather than serve that."""
    if not database_url.startswith("postgresql"):
        return
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("select"):
        return  # not under gevent: blocking waits are right
    from psycopg import waiting

    if waiting.wait is getattr(waiting, "wait_c", None):
        raise RuntimeError("psycopg was imported before gevent's monkey patch, so its waits would block every "
                           "greenlet: import gevent and call monkey.patch_all() first (wsgi.py does)")


@contextmanager
def throwaway_schema(url: str, prefix: str, keep: bool = False) -> Iterator[tuple[str, str]]:
    """For tests and benchmarks on a shared PostgreSQL database: a new schema, and a URL whose every connection (this
    process's and any server's given it) works inside it; dropped at the end unless `keep`. Yields (url, schema)."""
    from sqlalchemy import create_engine, text

    from webapp.config import normalise_database_url

    url = normalise_database_url(url)
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}", schema
        finally:
            if not keep:
                with admin.connect() as conn:
                    conn.execute(text("SET lock_timeout = '30s'"))
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
