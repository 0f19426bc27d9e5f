"""One-line answers for the commands' most common problems (never a traceback)."""

from __future__ import annotations

from django.db import DatabaseError, connection


def database_problem(exc: DatabaseError) -> str:
    """What to do about a database error a command ran into."""
    try:
        tables = set(connection.introspection.table_names())
    except DatabaseError:
        tables = None
    if tables is not None and "thoropass_sso_connection" not in tables:
        return "thoropass_sso's tables do not exist yet: run 'python manage.py migrate'"
    first_line = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"database error ({type(exc).__name__}: {first_line}); is the database reachable?"
