"""The pysaml2 ``SPConfig`` for this site, produced from ``THOROPASS_SSO``.

Sites write no ``SAML_CONFIG``: this is djangosaml2's config loader
(``SAML_CONFIG_LOADER``) and it is built once per settings, not per request.
It describes only our side (entity id, ACS, logout) for the SP metadata
view; the IdP's trust comes from the stored metadata via
:mod:`thoropass_sso.runtime`.
"""

from __future__ import annotations

from functools import cache

import saml2
from django.http import HttpRequest
from saml2.config import SPConfig

from ..conf import get_settings
from .sp import SPIdentity


def sp_config_dict(sp: SPIdentity) -> dict:
    # Only what the published SP metadata states: responses are verified by
    # thoropass_sso.saml.response, not by pysaml2, so no validation options here.
    return {
        "entityid": sp.entity_id,
        "service": {
            "sp": {
                "name": "thoropass_sso",
                "name_id_format": sp.name_id_format,
                "endpoints": {
                    "assertion_consumer_service": [(sp.acs_url, saml2.BINDING_HTTP_POST)],
                    "single_logout_service": [(sp.logout_url, saml2.BINDING_HTTP_REDIRECT)],
                },
                # Published as WantAssertionsSigned="true" / AuthnRequestsSigned="false":
                # Entra's default signs the assertion, and we sign no requests.
                "want_assertions_signed": True,
                "authn_requests_signed": False,
            },
        },
    }


@cache
def _build(sp: SPIdentity) -> SPConfig:
    return SPConfig().load(sp_config_dict(sp))


def sp_config(request: HttpRequest | None = None) -> SPConfig:
    """djangosaml2 config loader: the cached SPConfig for the current settings."""
    return _build(get_settings().sp_identity)
