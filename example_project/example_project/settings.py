"""Settings of the example site: a Django project that offers "Sign in with Microsoft".

Environment (the project's black-box contract):
- THOROPASS_SSO_METADATA_URL: the Entra App Federation Metadata URL (http:// allowed
  for local testing). Unset: the embedded Entra stand-in is used.
- THOROPASS_SSO_BASE_URL: the site's public base URL (default http://localhost:8000).
- THOROPASS_SSO_GROUP_MAP: optional JSON object of group/role policy keys merged into
  THOROPASS_SSO (GROUP_MAP, ROLE_MAP, STAFF_GROUPS, STAFF_ROLES, SUPERUSER_GROUPS,
  SUPERUSER_ROLES, MIRROR_GROUPS, ALLOWED_GROUPS, ALLOWED_ROLES), for example
  '{"GROUP_MAP": {"<group object id>": "Editors"}, "STAFF_ROLES": ["Admin"]}'.
  Unset: the stand-in's demo mapping (DEMO_GROUP_POLICY) in stand-in mode, none otherwise.
  "{}" turns mapping off. /whoami/ shows the resulting groups, is_staff, is_superuser.
"""

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
# Optional, for running several copies side by side (the test suite does):
# where the SQLite file and the stand-in's key live.
STATE_DIR = Path(os.environ.get("EXAMPLE_STATE_DIR") or BASE_DIR / "var")
DATABASE_PATH = Path(os.environ.get("EXAMPLE_DB_PATH") or BASE_DIR / "db.sqlite3")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret-change-me")  # noqa: S105
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"

SITE_BASE_URL = os.environ.get("THOROPASS_SSO_BASE_URL", "").strip() or "http://localhost:8000"
METADATA_URL = os.environ.get("THOROPASS_SSO_METADATA_URL", "").strip()

# The embedded Entra stand-in: a fixed demo tenant whose key lives in var/.
STANDIN_ENABLED = not METADATA_URL
STANDIN_TENANT_ID = "c0ffee00-1d5a-4e3b-9c2d-7a1b2c3d4e5f"
STANDIN_APP_ID = "d3a0a99e-0000-4000-8000-000000000001"
STANDIN_STATE_DIR = STATE_DIR / "entra-standin"
STANDIN_METADATA_FILE = STANDIN_STATE_DIR / "federationmetadata.xml"
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
    "demo",  # first: its refresh_entra_metadata prepares the stand-in, then runs the real one
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "djangosaml2",
    "thoropass_sso",
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATABASE_PATH,
        # Several workers share one SQLite file: wait for locks instead of failing.
        "OPTIONS": {"timeout": 20},
    }
}

# Replay protection needs nothing here: used assertion ids go to thoropass_sso's
# own table in this database, which every worker shares (REPLAY_CACHE left empty;
# docs/settings.md). The demo's migrations 0001/0002 once created cache tables
# for an earlier layout and are kept so existing databases migrate.

THOROPASS_SSO = {
    "BASE_URL": SITE_BASE_URL,
    "METADATA_URL": METADATA_URL or STANDIN_METADATA_FILE.as_uri(),
    # More customers are added as data (manage.py entra_connection add NAME --metadata-url URL);
    # their metadata URLs may be local test servers here: loopback, over http.
    "METADATA_ALLOWED_HOSTS": ["127.0.0.1", "localhost", "::1"],
    "METADATA_ALLOW_HTTP": True,
}
if STANDIN_ENABLED:
    THOROPASS_SSO["TENANT_ID"] = STANDIN_TENANT_ID

# The stand-in's demo users (demo/standin.py) carry these groups and app roles.
DEMO_GROUP_POLICY = {
    "GROUP_MAP": {
        "0c8b2a55-0f1e-4a8a-9c55-2b1f6f2a7e10": "Engineering",
        "5d7e9a21-4b3c-4e2f-8a1d-9f0e7c6b5a20": "Marketing",
    },
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

SAML_CSP_HANDLER = ""  # djangosaml2: CSP is left to the site

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
