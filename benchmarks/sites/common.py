"""What both benchmark sites share: database, middleware, templates, the no-op view's URL.

Environment (set by ``python -m benchmarks``):
- BENCH_DIR: the run's scratch directory (SQLite file, metadata file, SP key pair)
- BENCH_BASE_URL: the site's base URL, e.g. http://127.0.0.1:8123
- BENCH_SITE: "stock" or "ours" (names the SQLite file)
- BENCH_DATABASE_URL: optional, postgres://...: the site's PostgreSQL database instead
  (``--database postgres``: both sites on one throwaway cluster, a database each)
"""

import os
from pathlib import Path

BENCH_DIR = Path(os.environ["BENCH_DIR"])
BASE_URL = os.environ["BENCH_BASE_URL"].rstrip("/")
SITE = os.environ["BENCH_SITE"]

SECRET_KEY = "benchmark-only-not-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "djangosaml2",
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

# One SQLite file per site, shared by its gunicorn workers, configured the same for
# both sites the way a production site would: WAL + IMMEDIATE transactions so
# concurrent writers queue instead of failing, and persistent connections
# (CONN_MAX_AGE), without which every request pays a connect and a WAL checkpoint.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BENCH_DIR / f"{SITE}.sqlite3",
        "CONN_MAX_AGE": 600,
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
# PostgreSQL over TCP on 127.0.0.1, READ COMMITTED (Django's default), the same
# persistent connections for both sites.
if os.environ.get("BENCH_DATABASE_URL"):
    from tests.databases import database_settings

    DATABASES = {"default": {**database_settings(os.environ["BENCH_DATABASE_URL"]),
                             "CONN_MAX_AGE": 600}}

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

LOGIN_URL = "/saml2/login/"
LOGIN_REDIRECT_URL = "/home/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
WSGI_APPLICATION = "benchmarks.wsgi.application"
SAML_CSP_HANDLER = ""  # CSP is the site's business; silence djangosaml2's notice
