"""Answers for the site's own problems (not the user's): a 503 page, not a 500."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import DatabaseError
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
