"""Which database and which Redis the test suite runs on, and fresh databases for real servers.

The suite runs on SQLite unless ``THOROPASS_TEST_DATABASE_URL`` names a PostgreSQL
database (``python -m tests.servers --postgres -- pytest`` sets it; the nox sessions
in noxfile.py use that). ``THOROPASS_TEST_REDIS_URL`` adds a Django RedisCache, on
which the replay-store tests also run.

Tests that start real server processes (gunicorn, the example project, a
management command in its own process) give them a database of their own from
:func:`site_database`: a SQLite file, or a fresh database on the session's
PostgreSQL, so that every process sees the same committed rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

DATABASE_URL = os.environ.get("THOROPASS_TEST_DATABASE_URL", "").strip()
REDIS_URL = os.environ.get("THOROPASS_TEST_REDIS_URL", "").strip()
ON_POSTGRES = DATABASE_URL.startswith(("postgres://", "postgresql://"))
if DATABASE_URL and not ON_POSTGRES:
    raise RuntimeError(f"THOROPASS_TEST_DATABASE_URL must be a postgres:// URL, not {DATABASE_URL!r}")
DATABASE_VENDOR = "postgresql" if ON_POSTGRES else "sqlite"


def database_settings(url: str) -> dict:
    """A DATABASES entry for ``sqlite:///PATH`` or ``postgres://USER:PASSWORD@HOST:PORT/NAME``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(parts.path),
                # Several processes write the same file: wait for the lock instead of failing.
                "OPTIONS": {"timeout": 20}}
    if parts.scheme in ("postgres", "postgresql"):
        return {"ENGINE": "django.db.backends.postgresql", "NAME": unquote(parts.path[1:]),
                "USER": unquote(parts.username or ""), "PASSWORD": unquote(parts.password or ""),
                "HOST": parts.hostname or "", "PORT": str(parts.port or "")}
    raise ValueError(f"not a sqlite:// or postgres:// URL: {url!r}")


def _admin_url() -> str:
    parts = urlsplit(DATABASE_URL)
    return parts._replace(path="/postgres").geturl()


def new_postgres_database(label: str = "site") -> str:
    """Create an empty database on the run's PostgreSQL; its URL. It lives until dropped
    or until the throwaway cluster goes at the end of the run."""
    import psycopg

    name = f"thoropass_{label}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlsplit(DATABASE_URL)._replace(path=f"/{name}").geturl()


@contextmanager
def site_database(directory: Path, label: str = "site") -> Iterator[str]:
    """The URL of an empty database for server processes: SQLite file or fresh PostgreSQL DB."""
    if not ON_POSTGRES:
        yield f"sqlite:///{directory / (label + '.sqlite3')}"
        return
    import psycopg

    url = new_postgres_database(label)
    try:
        yield url
    finally:
        with psycopg.connect(_admin_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')


def count_rows(url: str, sql: str, *params: object) -> int:
    """``SELECT count(*) ...`` (``%s`` placeholders) on the database at ``url``, from outside
    Django: what a server process committed there."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        import sqlite3

        with sqlite3.connect(unquote(parts.path)) as connection:
            return connection.execute(sql.replace("%s", "?"), params).fetchone()[0]
    import psycopg

    with psycopg.connect(url) as connection:
        return connection.execute(sql, params).fetchone()[0]
