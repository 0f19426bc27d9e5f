"""Settings of the example site: a Django project that offers "Sign in with Microsoft".

Environment (the project's black-box contract):
- THOROPASS_SSO_METADATA_URL: the Entra App Federation Metadata URL (http:// allowed
  for local testing). Unset: the embedded Entra stand-in is used.
- THOROPASS_SSO_BASE_URL: the site's public base URL (default http://localhost:8000).
- THOROPASS_SSO_DOMAINS: optional, comma-separated email domains of the env-configured
  connection "default" (the Sign-on URL sends those addresses to it). Stand-in mode:
  contoso.example.
- THOROPASS_SSO_ENCRYPTION: "1" turns on token encryption: an encryption key pair is
  generated once into the state directory (EXAMPLE_STATE_DIR/sp-encryption.pem),
  published in /saml2/metadata/, and the connection "default" requires encrypted
  assertions (the embedded stand-in then encrypts, as Entra does once the admin
  uploaded the certificate).
- THOROPASS_SSO_GROUP_MAP: optional JSON object of group/role policy keys merged into
  THOROPASS_SSO (GROUP_MAP, ROLE_MAP, STAFF_GROUPS, STAFF_ROLES, SUPERUSER_GROUPS,
  SUPERUSER_ROLES, MIRROR_GROUPS, ALLOWED_GROUPS, ALLOWED_ROLES), for example
  '{"GROUP_MAP": {"<group object id>": "Editors"}, "STAFF_ROLES": ["Admin"]}'.
  Unset: the stand-in's demo mapping (DEMO_GROUP_POLICY) in stand-in mode, none otherwise.
  "{}" turns mapping off. /whoami/ shows the resulting groups, is_staff, is_superuser.
- DATABASE_URL: optional, postgres://USER:PASSWORD@HOST:PORT/NAME (``postgresql://`` too;
  query parameters such as ?sslmode=require become connection options). Unset: the SQLite
  file EXAMPLE_DB_PATH (default example_project/db.sqlite3). Needs psycopg
  (pip install -e .[example] or .[test]).
- REDIS_URL: optional, redis://[:PASSWORD@]HOST:PORT/DB. Set: used assertion, request and
  logout ids go to that Redis (THOROPASS_SSO['REPLAY_CACHE'] = "replay"). Unset: to
  thoropass_sso's table in the database. Needs redis (same extras).
- THOROPASS_SSO_METADATA_RELOAD_INTERVAL: optional, seconds (default 30) after which each
  worker checks whether the stored metadata changed (a refresh run on any host).
- EXAMPLE_DB_PATH, EXAMPLE_STATE_DIR: optional, where the SQLite file and the stand-in's
  key live (for running several copies side by side).

Several hosts with the same THOROPASS_SSO_BASE_URL, DJANGO_SECRET_KEY, DATABASE_URL and
REDIS_URL are one site behind a load balancer: a sign-in begun on one completes on any
other, a response used on one is refused on all, a metadata refresh run anywhere reaches
every worker within the reload interval.
"""

import json
import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
# Optional, for running several copies side by side (the test suite does):
# where the SQLite file and the stand-in's key live.
STATE_DIR = Path(os.environ.get("EXAMPLE_STATE_DIR") or BASE_DIR / "var")
DATABASE_PATH = Path(os.environ.get("EXAMPLE_DB_PATH") or BASE_DIR / "db.sqlite3")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret-change-me")  # noqa: S105
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"

SITE_BASE_URL = os.environ.get("THOROPASS_SSO_BASE_URL", "").strip() or "http://localhost:8000"
METADATA_URL = os.environ.get("THOROPASS_SSO_METADATA_URL", "").strip()

# The embedded Entra stand-in (thoropass_sso.standin): two demo customer tenants, Contoso
# (the connection "default") and Fabrikam, whose keys and users live in the database.
STANDIN_ENABLED = not METADATA_URL
STANDIN_TENANT_ID = "c0ffee00-1d5a-4e3b-9c2d-7a1b2c3d4e5f"
FABRIKAM_TENANT_ID = "fab0fab0-2e6b-4f4c-8d3e-8b2c3d4e5f60"
# Optional: serve the stand-in's pages under another origin (e.g. http://127.0.0.1:8000/entra-standin
# while the site is http://localhost:8000) so the POST back to the ACS is cross-site, as with Entra.
STANDIN_BASE_URL = os.environ.get("EXAMPLE_STANDIN_BASE_URL", "").rstrip("/")

# The stand-in signs in anyone who clicks, as a superuser if they pick Adele: it is
# for a developer's machine only. Refuse to serve it anywhere else.
if STANDIN_ENABLED and not DEBUG and urlsplit(SITE_BASE_URL).hostname not in (
        "localhost", "127.0.0.1", "::1"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "The embedded Entra stand-in only runs on localhost or with DJANGO_DEBUG=1: "
        "set THOROPASS_SSO_METADATA_URL to your tenant's App Federation Metadata URL.")

ALLOWED_HOSTS = sorted({"localhost", "127.0.0.1", "[::1]", urlsplit(SITE_BASE_URL).hostname or ""} - {""})

INSTALLED_APPS = [
    "demo",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "djangosaml2",
    "thoropass_sso",
    # Inactive (its pages 404) whenever THOROPASS_SSO_METADATA_URL names a real tenant.
    "thoropass_sso.standin",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "thoropass_sso.backends.EntraBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

def database_from_url(url: str) -> dict:
    """A DATABASES entry for postgres://USER:PASSWORD@HOST:PORT/NAME?OPTION=VALUE."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.path.strip("/"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "DATABASE_URL must look like postgres://USER:PASSWORD@HOST:PORT/NAME")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
        # gunicorn workers keep their connection between requests, and check it before
        # reusing it, so that a database restart costs no request.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
DATABASES = {
    "default": database_from_url(DATABASE_URL) if DATABASE_URL else {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATABASE_PATH,
        # Several workers share one SQLite file: wait for locks instead of failing.
        "OPTIONS": {"timeout": 20},
    }
}

# Replay protection needs nothing here: used assertion ids go to thoropass_sso's
# own table in this database, which every worker shares (REPLAY_CACHE left empty;
# docs/settings.md), unless REDIS_URL puts them in Redis. The demo's migrations
# 0001/0002 once created cache tables for an earlier layout and are kept so existing
# databases migrate.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # Its own alias, so that clearing another cache never forgets used ids. Give
        # that Redis maxmemory-policy noeviction and appendonly yes (docs/settings.md).
        "replay": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "thoropass-example",
            # Redis down: the 503 page at once, not after a long wait.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        },
    }

THOROPASS_SSO = {
    "BASE_URL": SITE_BASE_URL,
    # Unset in stand-in mode: the stand-in is then the connection "default".
    "METADATA_URL": METADATA_URL,
    "DISPLAY_NAME": "Contoso" if STANDIN_ENABLED else "",
    "DOMAINS": [d.strip() for d in os.environ.get("THOROPASS_SSO_DOMAINS", "").split(",") if d.strip()],
    # More customers are added as data (manage.py entra_connection add NAME --metadata-url URL);
    # their metadata URLs may be local test servers here: loopback, over http.
    "METADATA_ALLOWED_HOSTS": ["127.0.0.1", "localhost", "::1"],
    "METADATA_ALLOW_HTTP": True,
    "REPLAY_CACHE": "replay" if REDIS_URL else "",
    "METADATA_RELOAD_INTERVAL": int(os.environ.get("THOROPASS_SSO_METADATA_RELOAD_INTERVAL") or 30),
}
if os.environ.get("THOROPASS_SSO_ENCRYPTION", "").strip() == "1":
    from thoropass_sso.keys import create_key_file

    ENCRYPTION_KEY_FILE = STATE_DIR / "sp-encryption.pem"
    # Made once; several workers starting together race safely (the first file wins).
    create_key_file(ENCRYPTION_KEY_FILE, "thoropass_sso example encryption")
    THOROPASS_SSO["ENCRYPTION_KEYS"] = [str(ENCRYPTION_KEY_FILE)]
    THOROPASS_SSO["REQUIRE_ENCRYPTION"] = True

ENGINEERING = "0c8b2a55-0f1e-4a8a-9c55-2b1f6f2a7e10"
MARKETING = "5d7e9a21-4b3c-4e2f-8a1d-9f0e7c6b5a20"
THOROPASS_SSO_STANDIN = {
    "IDP_BASE_URL": STANDIN_BASE_URL,
    "TENANTS": [
        {"name": "default", "display_name": "Contoso", "domain": "contoso.example",
         "tenant_id": STANDIN_TENANT_ID, "app_id": "d3a0a99e-0000-4000-8000-000000000001",
         "users": [
             {"upn": "adele.vance@contoso.example", "given_name": "Adele", "surname": "Vance",
              "email": "adele.vance@contoso.example",
              "object_id": "5f0c1a3e-6a47-4b53-9d0e-2c7f9f1b8a01",
              "groups": [ENGINEERING], "roles": ["Admin"]},
             {"upn": "megan.bowen@contoso.example", "given_name": "Megan", "surname": "Bowen",
              "email": "megan.bowen@contoso.example",
              "object_id": "8e4b7d12-3c0a-4f7e-b1a9-6d2e5c4f3b02",
              "groups": [MARKETING], "roles": ["Reader"]},
             {"upn": "pat.guest_fabrikam.example#EXT#@contoso.example", "given_name": "Pat",
              "surname": "Guest", "email": "pat@fabrikam.example",
              "object_id": "2a9c6e4f-1b3d-4c5e-9f7a-8b0d1e2f3a03",
              "guest_identity_provider": "https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/"},
         ]},
        {"name": "fabrikam", "display_name": "Fabrikam", "domain": "fabrikam.example",
         "tenant_id": FABRIKAM_TENANT_ID, "app_id": "d3a0a99e-0000-4000-8000-000000000002",
         "users": [
             {"upn": "nestor.wilke@fabrikam.example", "given_name": "Nestor", "surname": "Wilke",
              "email": "nestor.wilke@fabrikam.example",
              "object_id": "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e04"},
             {"upn": "lidia.holloway@fabrikam.example", "given_name": "Lidia", "surname": "Holloway",
              "email": "lidia.holloway@fabrikam.example",
              "object_id": "1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7a05"},
         ]},
    ],
}

# The stand-in's demo users carry these groups and app roles.
DEMO_GROUP_POLICY = {
    "GROUP_MAP": {ENGINEERING: "Engineering", MARKETING: "Marketing"},
    "ROLE_MAP": {"Admin": "Administrators", "Reader": "Readers"},
    "SUPERUSER_ROLES": ["Admin"],
}
GROUP_POLICY_KEYS = {"GROUP_MAP", "ROLE_MAP", "STAFF_GROUPS", "STAFF_ROLES", "SUPERUSER_GROUPS",
                     "SUPERUSER_ROLES", "MIRROR_GROUPS", "ALLOWED_GROUPS", "ALLOWED_ROLES"}
_group_map_env = os.environ.get("THOROPASS_SSO_GROUP_MAP", "").strip()
if _group_map_env:
    from django.core.exceptions import ImproperlyConfigured

    try:
        GROUP_POLICY = json.loads(_group_map_env)
    except ValueError as exc:
        raise ImproperlyConfigured(f"THOROPASS_SSO_GROUP_MAP is not valid JSON: {exc}") from None
    if not isinstance(GROUP_POLICY, dict) or set(GROUP_POLICY) - GROUP_POLICY_KEYS:
        raise ImproperlyConfigured(
            "THOROPASS_SSO_GROUP_MAP must be a JSON object with keys among "
            + ", ".join(sorted(GROUP_POLICY_KEYS)))
else:
    GROUP_POLICY = DEMO_GROUP_POLICY if STANDIN_ENABLED else {}
THOROPASS_SSO.update(GROUP_POLICY)

LOGIN_URL = "/saml2/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"


LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"thoropass_sso": {"handlers": ["console"], "level": "INFO"}},
}
