"""The pysaml2 ``SPConfig`` for this site, produced from ``THOROPASS_SSO``.

Sites write no ``SAML_CONFIG``: this is djangosaml2's config loader
(``SAML_CONFIG_LOADER``) and it is built once per settings, not per request.
It describes only our side (entity id, ACS, logout, what we require of
Entra); the IdP's trust comes from the stored metadata via
:mod:`thoropass_sso.runtime`.
"""

from __future__ import annotations

from functools import cache

import saml2
from django.http import HttpRequest
from saml2.config import SPConfig

from ..conf import SSOSettings, get_settings


def sp_config_dict(conf: SSOSettings) -> dict:
    return {
        "entityid": conf.sp_entity_id,
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                "name": "thoropass_sso",
                "name_id_format": conf.NAME_ID_FORMAT,
                "endpoints": {
                    "assertion_consumer_service": [(conf.acs_url, saml2.BINDING_HTTP_POST)],
                    "single_logout_service": [(conf.logout_url, saml2.BINDING_HTTP_REDIRECT)],
                },
                # Entra's default signs only the assertion: requiring a signed
                # Response would break every default Entra application.
                "want_response_signed": False,
                "want_assertions_signed": True,
                "authn_requests_signed": False,
                "allow_unsolicited": conf.ALLOW_IDP_INITIATED,
            },
        },
        "accepted_time_diff": conf.CLOCK_SKEW,
    }


@cache
def _build(conf: SSOSettings) -> SPConfig:
    return SPConfig().load(sp_config_dict(conf))


def sp_config(request: HttpRequest | None = None) -> SPConfig:
    """djangosaml2 config loader: the cached SPConfig for the current settings."""
    return _build(get_settings())
