"""Stock djangosaml2, configured as its documentation says (djangosaml2.readthedocs.io, "Setup").

SAML_CONFIG with a local metadata file, the xmlsec1 binary, the SP key pair, its
Saml2Backend and SamlSessionMiddleware; ``allow_unsolicited`` so an IdP-initiated
(My Apps) response is accepted, as Entra sends them.
"""

import shutil

import saml2
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS

from thoropass_sso.claims import CLAIM_EMAIL, CLAIM_GIVEN_NAME, CLAIM_SURNAME

from .common import *  # noqa: F403
from .common import BASE_URL, BENCH_DIR, MIDDLEWARE

MIDDLEWARE = [*MIDDLEWARE, "djangosaml2.middleware.SamlSessionMiddleware"]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "djangosaml2.backends.Saml2Backend",
]
ROOT_URLCONF = "benchmarks.sites.urls_stock"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

SAML_SESSION_COOKIE_NAME = "saml_session"
SAML_CREATE_UNKNOWN_USER = True
SAML_USE_NAME_ID_AS_USERNAME = True  # Entra's NameID is the UPN
SAML_DJANGO_USER_MAIN_ATTRIBUTE = "username"
SAML_ATTRIBUTE_MAPPING = {
    CLAIM_EMAIL: ("email",),
    CLAIM_GIVEN_NAME: ("first_name",),
    CLAIM_SURNAME: ("last_name",),
}

SAML_CONFIG = {
    "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
    "entityid": f"{BASE_URL}/saml2/metadata/",
    "allow_unknown_attributes": True,
    "service": {
        "sp": {
            "name": "Benchmark SP (stock djangosaml2)",
            "name_id_format": NAMEID_FORMAT_EMAILADDRESS,
            "endpoints": {
                "assertion_consumer_service": [(f"{BASE_URL}/saml2/acs/", saml2.BINDING_HTTP_POST)],
                "single_logout_service": [
                    (f"{BASE_URL}/saml2/ls/", saml2.BINDING_HTTP_REDIRECT),
                    (f"{BASE_URL}/saml2/ls/post", saml2.BINDING_HTTP_POST),
                ],
            },
            "allow_unsolicited": True,
            "authn_requests_signed": False,
            "logout_requests_signed": True,
            "want_assertions_signed": True,
            "want_response_signed": False,  # Entra's default signs only the assertion
        },
    },
    "metadata": {"local": [str(BENCH_DIR / "federationmetadata.xml")]},
    "debug": 0,
    "key_file": str(BENCH_DIR / "sp.key"),
    "cert_file": str(BENCH_DIR / "sp.crt"),
    "encryption_keypairs": [{"key_file": str(BENCH_DIR / "sp.key"),
                             "cert_file": str(BENCH_DIR / "sp.crt")}],
    "valid_for": 24,
}
