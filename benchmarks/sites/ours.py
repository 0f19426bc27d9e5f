"""thoropass_sso as a site configures it: THOROPASS_SSO and its backend; nothing else.

Used ids go to thoropass_sso's own table (the default REPLAY_CACHE), in the
database both workers share.
"""

from .common import *  # noqa: F403
from .common import BASE_URL, BENCH_DIR, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "thoropass_sso"]
AUTHENTICATION_BACKENDS = [
    "thoropass_sso.backends.EntraBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ROOT_URLCONF = "benchmarks.sites.urls_ours"

THOROPASS_SSO = {
    "BASE_URL": BASE_URL,
    # Fetched once by `manage.py refresh_entra_metadata` before the run, as in production.
    "METADATA_URL": (BENCH_DIR / "federationmetadata.xml").as_uri(),
    "TENANT_ID": (BENCH_DIR / "tenant_id").read_text().strip(),
}
