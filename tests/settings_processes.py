"""Settings for the cross-process replay test: real server processes sharing one
file-based SQLite database, and through it the replay store (tests/test_hostile_replay_processes.py).

The test passes the database path and THOROPASS_SSO through the environment,
so every process (migrate, metadata refresh, each server) sees the same site.
"""

import json
import os

from .settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["THOROPASS_TEST_DB"],
        # Two processes write the same file; wait for the lock instead of failing.
        "OPTIONS": {"timeout": 20},
    }
}
CACHES = {
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
    "loggers": {"thoropass_sso": {"handlers": ["stderr"], "level": "INFO"}},
}
