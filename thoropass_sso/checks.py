"""System checks (``manage.py check``): what a site most often gets wrong.

Every check reads local state only (settings, the database), never the
network. Ids are stable; a retired id is never reused.

E001 THOROPASS_SSO missing or invalid          W001 no metadata stored yet
E002 backend not in AUTHENTICATION_BACKENDS   W002 a signing certificate expires soon / expired
E003 session or auth middleware missing       W003 http:// BASE_URL with DEBUG off
E004 REPLAY_CACHE unusable                    W004 ALLOW_SHA1 on
                                              W005 IdP-initiated on, replay cache not shared
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from .exceptions import ConfigurationError

BACKEND = "thoropass_sso.backends.EntraBackend"
EXPIRY_WARNING_DAYS = 30


@register(Tags.security, "thoropass_sso")
def check_configuration(app_configs=None, **kwargs):
    from .conf import get_settings

    try:
        conf = get_settings()
    except ConfigurationError as exc:
        return [Error(str(exc), hint="See docs/settings.md for every THOROPASS_SSO key.",
                      id="thoropass_sso.E001")]
    problems = []
    if BACKEND not in settings.AUTHENTICATION_BACKENDS:
        problems.append(Error(
            f"{BACKEND} is not in AUTHENTICATION_BACKENDS.",
            hint=f"Add '{BACKEND}' to AUTHENTICATION_BACKENDS.",
            id="thoropass_sso.E002",
        ))
    for middleware in ("django.contrib.sessions.middleware.SessionMiddleware",
                       "django.contrib.auth.middleware.AuthenticationMiddleware"):
        if middleware not in settings.MIDDLEWARE:
            problems.append(Error(f"{middleware} is not in MIDDLEWARE.",
                                  hint=f"Add '{middleware}' to MIDDLEWARE.",
                                  id="thoropass_sso.E003"))
    from .replay import replay_cache_is_shared

    try:
        shared = replay_cache_is_shared()
    except ConfigurationError as exc:
        problems.append(Error(str(exc), hint="Point REPLAY_CACHE at a database or Redis cache.",
                              id="thoropass_sso.E004"))
        shared = True
    if conf.ALLOW_IDP_INITIATED and not shared:
        problems.append(Warning(
            "IdP-initiated sign-in (My Apps, 'Test this application') is refused: the replay "
            f"cache {conf.REPLAY_CACHE!r} is a LocMemCache, private to one process.",
            hint="Set THOROPASS_SSO['REPLAY_CACHE'] to a shared cache (DatabaseCache or Redis), "
                 "or set ALLOW_IDP_INITIATED to False.",
            id="thoropass_sso.W005",
        ))
    if not settings.DEBUG and not conf.secure_cookies:
        problems.append(Warning(
            "THOROPASS_SSO['BASE_URL'] is http:// while DEBUG is off.",
            hint="Serve the site over https and set BASE_URL to its https:// URL.",
            id="thoropass_sso.W003",
        ))
    if conf.ALLOW_SHA1:
        problems.append(Warning(
            "THOROPASS_SSO['ALLOW_SHA1'] is on: SHA-1 signatures are accepted.",
            hint="Set the Entra app's signing algorithm to SHA-256 and remove ALLOW_SHA1.",
            id="thoropass_sso.W004",
        ))
    problems.extend(_metadata_checks(conf.CONNECTION))
    return problems


def _metadata_checks(connection_name: str):
    from .metadata.parse import parse_metadata
    from .models import Connection

    try:
        connection = Connection.objects.filter(name=connection_name).first()
    except DatabaseError:
        return []  # not migrated yet: migrate will tell the operator
    if connection is None or not connection.has_metadata:
        return [Warning(
            f"No Entra metadata is stored for connection {connection_name!r}: sign-in will fail.",
            hint="Run 'python manage.py refresh_entra_metadata'.",
            id="thoropass_sso.W001",
        )]
    metadata = parse_metadata(connection.metadata_xml.encode())
    now = datetime.now(UTC)
    newest = max(c.not_after for c in metadata.signing_certificates)
    if newest - now < timedelta(days=EXPIRY_WARNING_DAYS):
        state = "has expired" if newest <= now else f"expires on {newest:%Y-%m-%d}"
        return [Warning(
            f"The newest Entra signing certificate {state}.",
            hint="In Entra, create and activate a new SAML signing certificate, then run "
                 "'python manage.py refresh_entra_metadata'.",
            id="thoropass_sso.W002",
        )]
    return []
