"""Answers for the site's own problems (not the user's): a 503 page, not a 500."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from ..exceptions import ConfigurationError, MetadataNotStored, SignInRejected
from ..reasons import Reason
from ..rejections import rejection_response

if TYPE_CHECKING:
    from ..runtime import ConnectionConfig


def missing_tables(exc: DatabaseError) -> ConfigurationError | None:
    """A ConfigurationError naming the fix when thoropass_sso's tables do not exist yet."""
    from django.db import connection as db

    from ..models import Connection

    try:
        present = Connection._meta.db_table in db.introspection.table_names()
    except DatabaseError:
        return None
    if present:
        return None
    return ConfigurationError("thoropass_sso's tables do not exist: run 'python manage.py migrate'.")


def not_configured(request: HttpRequest, exc: MetadataNotStored | ConfigurationError, *,
                   connection: ConnectionConfig | None = None) -> HttpResponse:
    """The site, not the user, has to act: a 503 page; the log line says how."""
    reason = Reason.METADATA_NOT_STORED if isinstance(exc, MetadataNotStored) else Reason.MISCONFIGURED
    return rejection_response(request, SignInRejected(reason, str(exc)), connection=connection)


# What "the database is down" looks like through Django: OperationalError (connection
# refused or lost, the server shutting down, and the other transient conditions
# PostgreSQL reports as such: timeouts, deadlocks) and InterfaceError (a kept connection
# that is already closed). Not IntegrityError or ProgrammingError: those are bugs or
# races the code handles, and must stay loud.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def database_unavailable(request: HttpRequest, exc: Exception, *,
                         connection: ConnectionConfig | None = None) -> HttpResponse:
    """The database is unreachable: a 503 page with a reference, never a 500.

    Whatever the view had begun is gone with the transaction it ran in. The session is
    not saved either (the session middleware would only hit the same error and turn
    this page into a 500), so a sign-out that could not delete the session says so
    rather than pretending.
    """
    session = getattr(request, "session", None)
    if session is not None:
        session.modified = False
    detail = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return rejection_response(request, SignInRejected(Reason.DATABASE_UNAVAILABLE, detail),
                              connection=connection)
