"""Settings for the test suite: a minimal site that uses thoropass_sso.

SQLite in memory, or the PostgreSQL database named by THOROPASS_TEST_DATABASE_URL; with
THOROPASS_TEST_REDIS_URL, a RedisCache "redis" as well (tests/databases.py).
"""

from tests.databases import DATABASE_URL, REDIS_URL, database_settings

SECRET_KEY = "tests-only-not-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
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
]
AUTHENTICATION_BACKENDS = [
    "thoropass_sso.backends.EntraBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ROOT_URLCONF = "tests.urls"
DATABASES = {"default": database_settings(DATABASE_URL) if DATABASE_URL else
             {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": "thoropass_sso_test_cache",
                # Used ids must not be culled before they expire (check W007).
                "OPTIONS": {"MAX_ENTRIES": 1_000_000}},
}
if REDIS_URL:
    CACHES["redis"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                       "LOCATION": REDIS_URL, "KEY_PREFIX": "thoropass-tests",
                       # As docs/settings.md advises for the replay store: bounded waits.
                       "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [__import__("pathlib").Path(__file__).resolve().parent / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
LOGIN_REDIRECT_URL = "/home/"
LOGOUT_REDIRECT_URL = "/"  # test_signed_out.py unsets it to see thoropass_sso's own page
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Overridden per test by the fixtures in tests/conftest.py.
THOROPASS_SSO = {
    "BASE_URL": "http://testserver",
    "TENANT_ID": "00000000-0000-0000-0000-000000000000",
    "APP_ID": "00000000-0000-0000-0000-000000000001",
}
