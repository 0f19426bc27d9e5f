"""Building the AuthnRequest Entra expects, sent with the HTTP-Redirect binding.

Entra's rules (ENTRA.md): an ID that does not start with a digit, our entity
id as Issuer, no Subject, and no RequestedAuthnContext (one breaks MFA and
Windows sign-in with AADSTS75011). pysaml2's message classes do the XML and
the binding encoding.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..keys import SPKeyPair
from .pysaml2 import http_redirect_message, saml, saml2, samlp
from .redirect_signing import sign_redirect
from .sp import SPIdentity
from .timestamps import format_instant


def new_request_id() -> str:
    return f"_{secrets.token_hex(16)}"


def authn_request_redirect(sp: SPIdentity, sso_url: str, *, login_hint: str = "",
                           signing_key: SPKeyPair | None = None) -> tuple[str, str]:
    """Return (request id, URL to redirect the browser to); signed with ``signing_key`` if given.

    No RelayState is sent: where to go afterwards stays in this site's signed
    pending-request cookie, and SAML limits RelayState to 80 bytes anyway.
    """
    request_id = new_request_id()
    request = samlp.AuthnRequest(
        id=request_id,
        version="2.0",
        issue_instant=format_instant(datetime.now(UTC)),
        destination=sso_url,
        assertion_consumer_service_url=sp.acs_url,
        protocol_binding=saml2.BINDING_HTTP_POST,
        issuer=saml.Issuer(text=sp.entity_id),
        name_id_policy=samlp.NameIDPolicy(format=sp.name_id_format),
    )
    info = http_redirect_message(request.to_string().decode("utf-8"), sso_url, typ="SAMLRequest")
    location = dict(info["headers"])["Location"]
    if signing_key is not None:
        location = sign_redirect(location, signing_key)
    if login_hint:
        parts = urlsplit(location)
        query = f"{parts.query}&{urlencode({'login_hint': login_hint})}"
        location = urlunsplit(parts._replace(query=query))
    return request_id, location
