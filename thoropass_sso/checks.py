"""System checks (``manage.py check``): what a site most often gets wrong.

Every check reads local state only (settings, the database), never the
network: checks run on every ``runserver``, ``migrate`` and deploy, and must
not hang or depend on Entra being reachable. Ids are stable; a retired id is
never reused. docs/metadata.md has the table.

E001 THOROPASS_SSO missing or invalid (tenant/app id or metadata URL missing, bad key)
E002 backend not in AUTHENTICATION_BACKENDS
E003 session or auth middleware missing
E004 REPLAY_CACHE unusable
E005 stored metadata unreadable or for another tenant
E006 SIGNATURE_BACKEND is "xmlsec1" but the xmlsec1 program is not on PATH
E007 the default SIGNATURE_BACKEND, but python-xmlsec does not import
E009 BASE_URL has a path, query or fragment
E010 a placeholder (<...>, your-tenant) left in a URL or id
E011 a domain in THOROPASS_SSO['DOMAINS'] belongs to another connection
E012 ENCRYPTION_KEYS or SIGNING_KEY names an unusable file, or a connection signs
     requests and SIGNING_KEY is not set
W001 no metadata stored yet (the settings-defined connection), or no connection can sign in
W002 the newest signing certificate expires within 30 days, or has expired (per connection)
W003 http:// BASE_URL with DEBUG off
W004 ALLOW_SHA1 on
W005 IdP-initiated sign-in on, replay cache not shared
W006 stored metadata not confirmed by a refresh for 7 days (is the cron job running?; per connection)
W007 the replay cache culls entries before they expire (MAX_ENTRIES too small)
W008 the database could not be read (metadata checks skipped)
W010 a connection requires encrypted assertions and ENCRYPTION_KEYS is empty
W011 one of this site's own certificates (encryption, signing) expires within 30 days
W009 thoropass_sso's tables do not exist (migrate not run). A warning, not an error: Django's
     migrate and makemigrations run the system checks too, and an error would stop them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError

from .exceptions import ConfigurationError, MetadataInvalid

BACKEND = "thoropass_sso.backends.EntraBackend"
REQUIRED_MIDDLEWARE = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
)
EXPIRY_WARNING_DAYS = 30  # Entra emails admins 60, 30 and 7 days ahead; we join at 30
STALE_AFTER_DAYS = 7
REFRESH_HINT = "Run 'python manage.py refresh_entra_metadata' (and schedule it hourly)."


def _configuration_hint(message: str) -> str:
    if "unknown key" in message:
        return "Remove or correct the key; docs/settings.md lists every THOROPASS_SSO key."
    if "['BASE_URL']" in message:
        return "Set THOROPASS_SSO['BASE_URL'] to the site's public URL, e.g. 'https://app.example.com'."
    if any(f"['{key}']" in message for key in ("TENANT_ID", "APP_ID", "METADATA_URL")) \
            or "is missing" in message:
        return ("Set THOROPASS_SSO['TENANT_ID'] and ['APP_ID'] (Entra admin center > Enterprise "
                "applications > your app > Overview), or ['METADATA_URL'] to the App Federation "
                "Metadata Url (Single sign-on > SAML Certificates).")
    return "See docs/settings.md for every THOROPASS_SSO key."


@register(Tags.security, "thoropass_sso")
def check_configuration(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from .conf import get_settings

    try:
        conf = get_settings()
    except ConfigurationError as exc:
        return [Error(str(exc), hint=exc.hint or _configuration_hint(str(exc)),
                      id=f"thoropass_sso.{exc.check_id or 'E001'}")]
    problems: list[CheckMessage] = []
    if BACKEND not in settings.AUTHENTICATION_BACKENDS:
        problems.append(Error(
            f"{BACKEND} is not in AUTHENTICATION_BACKENDS: nobody can sign in with Entra.",
            hint=f"Add '{BACKEND}' to AUTHENTICATION_BACKENDS.",
            id="thoropass_sso.E002",
        ))
    for middleware in REQUIRED_MIDDLEWARE:
        if middleware not in settings.MIDDLEWARE:
            problems.append(Error(f"{middleware} is not in MIDDLEWARE.",
                                  hint=f"Add '{middleware}' to MIDDLEWARE.",
                                  id="thoropass_sso.E003"))
    from .replay import SAFE_MAX_ENTRIES, replay_cache_capacity, replay_cache_is_shared

    try:
        shared = replay_cache_is_shared()
        capacity = replay_cache_capacity()
    except ConfigurationError as exc:
        problems.append(Error(
            str(exc), hint="Leave REPLAY_CACHE empty (the database) or name a Redis cache.",
            id="thoropass_sso.E004"))
        shared, capacity = True, None
    if shared and capacity is not None and capacity < SAFE_MAX_ENTRIES:
        problems.append(Warning(
            f"The replay cache {conf.REPLAY_CACHE!r} deletes entries, expired or not, beyond "
            f"MAX_ENTRIES={capacity}: after that many sign-ins within ~15 minutes a used "
            "response could be replayed.",
            hint="Leave THOROPASS_SSO['REPLAY_CACHE'] empty (used ids go to the database, "
                 "never culled), or give it its own Redis alias with maxmemory-policy "
                 "noeviction.",
            id="thoropass_sso.W007",
        ))
    if conf.ALLOW_IDP_INITIATED and not shared:
        problems.append(Warning(
            "IdP-initiated sign-in (My Apps, 'Test this application') is refused: the replay "
            f"cache {conf.REPLAY_CACHE!r} is a LocMemCache, private to one process.",
            hint="Leave THOROPASS_SSO['REPLAY_CACHE'] empty (the database) or name a shared "
                 "cache (Redis), "
                 "or set ALLOW_IDP_INITIATED to False.",
            id="thoropass_sso.W005",
        ))
    if not settings.DEBUG and not conf.secure_cookies:
        problems.append(Warning(
            "THOROPASS_SSO['BASE_URL'] is http:// while DEBUG is off: SAML responses and "
            "session cookies would cross the network in clear text.",
            hint="Serve the site over https and set BASE_URL to its https:// URL.",
            id="thoropass_sso.W003",
        ))
    if conf.SIGNATURE_BACKEND == "xmlsec1":
        from .saml.xmlsec1 import find_xmlsec1

        if find_xmlsec1() is None:
            problems.append(Error(
                "THOROPASS_SSO['SIGNATURE_BACKEND'] is 'xmlsec1' but the xmlsec1 program is "
                "not on PATH: every sign-in would fail.",
                hint="Install the xmlsec1 OS package (Debian/Ubuntu: apt install xmlsec1; macOS: "
                     "brew install libxmlsec1), or remove SIGNATURE_BACKEND to verify in-process "
                     "with python-xmlsec (docs/compatibility.md).",
                id="thoropass_sso.E006",
            ))
    else:
        from .saml.signature import import_xmlsec

        try:
            import_xmlsec()
        except ConfigurationError as exc:
            problems.append(Error(
                str(exc),
                hint="Reinstall python-xmlsec from source against lxml's libxml2 (pip install "
                     "--no-binary lxml,xmlsec lxml xmlsec), or set SIGNATURE_BACKEND to "
                     "'xmlsec1' and install the xmlsec1 program (docs/compatibility.md).",
                id="thoropass_sso.E007",
            ))
    problems.extend(_own_key_checks(conf))
    if conf.ALLOW_SHA1:
        problems.append(Warning(
            "THOROPASS_SSO['ALLOW_SHA1'] is on: SHA-1 signatures are accepted.",
            hint="Set the Entra app's signing algorithm to SHA-256 (Single sign-on > SAML "
                 "Certificates > Edit) and remove ALLOW_SHA1.",
            id="thoropass_sso.W004",
        ))
    try:
        if conf.defines_connection:
            problems.extend(_settings_connection_checks(conf))
        problems.extend(_connection_checks(conf))
    except DatabaseError as exc:
        # Django's migrate runs the checks with ``databases`` set, before it creates the
        # tables: "run migrate" would be noise there.
        if kwargs.get("databases") is None:
            problems.append(_database_error(exc))
    return problems


def _own_key_checks(conf) -> list[CheckMessage]:
    """This site's key files (token encryption, signed requests), read from disk, not the database."""
    problems: list[CheckMessage] = []
    pairs = []
    for name in ("encryption_keys", "signing_key"):
        try:
            value = getattr(conf, name)
        except ConfigurationError as exc:
            problems.append(Error(str(exc), hint=exc.hint or "See docs/security.md, token encryption.",
                                  id="thoropass_sso.E012"))
            continue
        pairs += list(value) if name == "encryption_keys" else ([value] if value else [])
    soon = datetime.now(UTC) + timedelta(days=EXPIRY_WARNING_DAYS)
    for pair in pairs:
        if pair.not_after < soon:
            problems.append(Warning(
                f"This site's certificate in {pair.path} expires on {pair.not_after:%Y-%m-%d}.",
                hint="Create the next key (manage.py entra_sp_key create), list it first in the "
                     "setting with the old one second, have customers upload its .cer, then drop "
                     "the old one (docs/security.md, token encryption).",
                id="thoropass_sso.W011"))
    if conf.connection_policy.sign_requests and not conf.SIGNING_KEY:
        problems.append(Error("THOROPASS_SSO['SIGN_REQUESTS'] is on but SIGNING_KEY is not set: "
                              "every sign-in would fail.",
                              hint="Create one with 'python manage.py entra_sp_key create PATH'.",
                              id="thoropass_sso.E012"))
    if conf.connection_policy.require_encryption and not conf.ENCRYPTION_KEYS:
        problems.append(Warning("THOROPASS_SSO['REQUIRE_ENCRYPTION'] is on but ENCRYPTION_KEYS is "
                                "empty: every sign-in would be refused.",
                                hint="Create a key (manage.py entra_sp_key create PATH) and list it "
                                     "in ENCRYPTION_KEYS.", id="thoropass_sso.W010"))
    return problems


def _database_error(exc: DatabaseError) -> CheckMessage:
    from .models import Connection

    try:
        from django.db import connection

        missing = Connection._meta.db_table not in connection.introspection.table_names()
    except DatabaseError:
        missing = False
    if missing:
        return Warning("thoropass_sso's tables do not exist: sign-in answers 503 until they do.",
                       hint="Run 'python manage.py migrate'.", id="thoropass_sso.W009")
    return Warning(f"Could not read thoropass_sso's connections ({type(exc).__name__}); the "
                   "metadata checks were skipped.", hint="Is the database reachable?",
                   id="thoropass_sso.W008")


# Past this many connections with the same problem, one more message counts the rest.
_LISTED = 10


def _connection_checks(conf) -> list[CheckMessage]:
    """The database-defined connections, read from their columns (no document is parsed)."""
    from django.db.models import Q

    from .models import Connection, ConnectionDomain

    now = datetime.now(UTC)
    active = Connection.objects.filter(status=Connection.Status.ACTIVE)
    if conf.defines_connection:
        active = active.exclude(name=conf.CONNECTION)
    problems: list[CheckMessage] = []
    if not conf.defines_connection and not active.exclude(metadata_sha256="").exists():
        problems.append(Warning(
            "No connection can sign anyone in: THOROPASS_SSO names no tenant and no active "
            "connection has metadata.",
            hint="Set THOROPASS_SSO['METADATA_URL'], or add a customer with 'python manage.py "
                 "entra_connection add NAME --metadata-url URL' (docs/many-customers.md).",
            id="thoropass_sso.W001"))
    expiring = active.filter(certificates_expire_at__lt=now + timedelta(days=EXPIRY_WARNING_DAYS))
    problems.extend(_listed(expiring.order_by("certificates_expire_at"), "thoropass_sso.W002",
                            lambda c: (f"Connection {c.name!r}: the newest Entra signing certificate "
                                       f"{'has expired' if c.certificates_expire_at <= now else 'expires'} "
                                       f"on {c.certificates_expire_at:%Y-%m-%d}."),
                            "Ask the customer to create and activate a new certificate in Entra, "
                            "then run 'python manage.py refresh_entra_metadata --connection NAME'."))
    if not conf.SIGNING_KEY:
        problems.extend(_listed(active.filter(sign_requests=True).order_by("name"),
                                "thoropass_sso.E012",
                                lambda c: f"Connection {c.name!r} signs its requests, but "
                                          "THOROPASS_SSO['SIGNING_KEY'] is not set.",
                                "Create one with 'python manage.py entra_sp_key create PATH'.",
                                level=Error))
    if not conf.ENCRYPTION_KEYS:
        problems.extend(_listed(active.filter(require_encryption=True).order_by("name"),
                                "thoropass_sso.W010",
                                lambda c: f"Connection {c.name!r} requires encrypted assertions, "
                                          "but ENCRYPTION_KEYS is empty.",
                                "Create a key (manage.py entra_sp_key create PATH) and list it in "
                                "ENCRYPTION_KEYS."))
    stale = active.filter(Q(metadata_checked_at__lt=now - timedelta(days=STALE_AFTER_DAYS)))
    problems.extend(_listed(stale.order_by("metadata_checked_at"), "thoropass_sso.W006",
                            lambda c: (f"Connection {c.name!r}: metadata last confirmed on "
                                       f"{c.metadata_checked_at:%Y-%m-%d}"
                                       + (f" (last refresh failed: {c.last_error[:120]})"
                                          if c.last_error else "") + "."),
                            REFRESH_HINT))
    if conf.defines_connection:
        for domain in conf.settings_domains:
            owner = (ConnectionDomain.objects.filter(domain=domain)
                     .exclude(connection__name=conf.CONNECTION)
                     .values_list("connection__name", flat=True).first())
            if owner:
                problems.append(Error(
                    f"THOROPASS_SSO['DOMAINS'] lists {domain}, which connection {owner!r} claims.",
                    hint=f"A domain leads to one connection: remove it from one of them "
                         f"('entra_connection domains {owner} --remove {domain}').",
                    id="thoropass_sso.E011"))
    return problems


def _listed(queryset, check_id: str, message, hint: str, level=Warning) -> list[CheckMessage]:
    rows = list(queryset[: _LISTED + 1])
    messages: list[CheckMessage] = [level(message(c), hint=hint, id=check_id, obj=c.name)
                                    for c in rows[:_LISTED]]
    if len(rows) > _LISTED:
        messages.append(level(f"... and {queryset.count() - _LISTED} more connections like these.",
                                hint="'python manage.py entra_connection list' shows them all.",
                                id=check_id))
    return messages


def _settings_connection_checks(conf) -> list[CheckMessage]:
    connection_name, configured_tenant = conf.CONNECTION, conf.tenant_id
    from .metadata.parse import parse_stored_metadata
    from .models import Connection

    connection = Connection.objects.filter(name=connection_name).first()
    if connection is None or not connection.has_metadata:
        return [Warning(
            f"No Entra metadata is stored for connection {connection_name!r}: sign-in will fail.",
            hint=REFRESH_HINT,
            id="thoropass_sso.W001",
        )]
    try:
        metadata = parse_stored_metadata(connection.metadata_xml)
    except MetadataInvalid as exc:
        return [Error(f"The stored Entra metadata cannot be read: {exc}.", hint=REFRESH_HINT,
                      id="thoropass_sso.E005")]
    problems: list[CheckMessage] = []
    if configured_tenant and metadata.tenant_id != configured_tenant:
        problems.append(Error(
            f"The stored Entra metadata is for tenant {metadata.tenant_id}, but THOROPASS_SSO "
            f"names tenant {configured_tenant}: sign-in will fail.",
            hint="Check TENANT_ID / METADATA_URL, then run "
                 "'python manage.py refresh_entra_metadata'.",
            id="thoropass_sso.E005",
        ))
    now = datetime.now(UTC)
    newest = metadata.signing_certificates[0]  # sorted by expiry, latest first
    if newest.not_after - now < timedelta(days=EXPIRY_WARNING_DAYS):
        if newest.not_after <= now:
            state = f"has expired (on {newest.not_after:%Y-%m-%d})"
        else:
            state = f"expires on {newest.not_after:%Y-%m-%d}"
        problems.append(Warning(
            f"The newest Entra signing certificate ({newest.short_fingerprint}) {state}; "
            "no newer certificate is listed in the stored metadata.",
            hint="In Entra (Single sign-on > SAML Certificates) create a new certificate and "
                 "make it active, then run 'python manage.py refresh_entra_metadata'. "
                 "See docs/metadata.md, 'Rollover runbook'.",
            id="thoropass_sso.W002",
        ))
    checked = connection.metadata_checked_at
    if checked is not None and now - checked > timedelta(days=STALE_AFTER_DAYS):
        problems.append(Warning(
            f"The stored Entra metadata was last confirmed on {checked:%Y-%m-%d}: a certificate "
            "rollover in Entra would not reach this site.",
            hint=REFRESH_HINT,
            id="thoropass_sso.W006",
        ))
    return problems
