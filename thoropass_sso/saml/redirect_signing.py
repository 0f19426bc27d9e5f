"""Signing outgoing HTTP-Redirect messages (AuthnRequest, LogoutRequest, LogoutResponse).

For connections whose Entra app has "Require verification certificates" on: RSA-SHA256
over ``SAMLRequest=...&RelayState=...&SigAlg=...`` exactly as they appear in the URL
(SAML bindings 3.4.4.1), with this site's SIGNING_KEY. Other query parameters
(``login_hint``) are not covered, as the binding says.
"""

from __future__ import annotations

import base64
from urllib.parse import quote, urlsplit, urlunsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from ..keys import SPKeyPair

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
_SIGNED = ("SAMLRequest", "SAMLResponse", "RelayState")


def sign_redirect(location: str, key: SPKeyPair) -> str:
    """``location`` (an unsigned Redirect-binding URL) with SigAlg and Signature added."""
    parts = urlsplit(location)
    signed = [p for p in parts.query.split("&") if p.partition("=")[0] in _SIGNED]
    others = [p for p in parts.query.split("&") if p and p.partition("=")[0] not in _SIGNED]
    octets = "&".join([*signed, f"SigAlg={quote(RSA_SHA256, safe='')}"])
    private_key = serialization.load_pem_private_key(key.key_pem, password=None)
    signature = private_key.sign(octets.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    query = "&".join([octets, f"Signature={quote(base64.b64encode(signature).decode(), safe='')}",
                      *others])
    return urlunsplit(parts._replace(query=query))
