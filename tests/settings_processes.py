"""Settings for tests that run the site in real server processes (gunicorn, a management
command in its own process): every process sees the same database, and through it the
replay store (tests/test_hostile_replay_processes.py, tests/test_metadata_propagation.py).

The test passes the database (THOROPASS_TEST_SITE_DATABASE_URL: a SQLite file, or a fresh
database on the session's PostgreSQL, from tests.databases.site_database) and
THOROPASS_SSO (THOROPASS_TEST_SSO, JSON) through the environment.
"""

import json
import os

from .databases import database_settings
from .settings import *  # noqa: F403
from .settings import CACHES

DATABASES = {"default": {
    **database_settings(os.environ["THOROPASS_TEST_SITE_DATABASE_URL"]),
    # As a site behind gunicorn runs: connections kept between requests, and checked
    # before each request reuses one (a database restart must not fail a request).
    "CONN_MAX_AGE": 60,
    "CONN_HEALTH_CHECKS": True,
}}
CACHES = {
    **CACHES,
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "thoropass_sso_test_cache",
    },
}
THOROPASS_SSO = json.loads(os.environ["THOROPASS_TEST_SSO"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"thoropass_sso": {"handlers": ["stderr"], "level": "INFO"},
                # A 500 is logged ("Internal Server Error: ...") where the tests read.
                "django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}
