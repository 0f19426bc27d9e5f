"""The HTTP-Redirect binding for incoming messages, verified against the RAW query string.

A Redirect-binding signature covers the octets ``SAMLRequest=...&RelayState=...&SigAlg=...``
exactly as the sender percent-encoded them (SAML bindings, 3.4.4.1). Entra encodes
with lower-case hex (``%2f``); decoding and re-encoding (upper-case, or a different
choice of safe characters) changes the octets and breaks verification. So the query
string is split by hand and the signed octets are the sender's own, byte for byte.

Only RSA-SHA256 is accepted (RSA-SHA1 only when ``ALLOW_SHA1``); the keys are the
signing certificates of the stored metadata, never anything the message names.
This is plain RSA (PKCS#1 v1.5) over those octets, not XML-DSig, so it is checked
with ``cryptography``: it needs neither python-xmlsec nor the ``xmlsec1`` program,
and works the same whichever ``SIGNATURE_BACKEND`` checks the XML signatures.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ..exceptions import SignInRejected
from ..reasons import Reason

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {RSA_SHA256: hashes.SHA256,
                                                  RSA_SHA1: hashes.SHA1}
PublicKey = rsa.RSAPublicKey
_PARAMETERS = ("SAMLRequest", "SAMLResponse", "RelayState", "SigAlg", "Signature")


@dataclass(frozen=True)
class RedirectMessage:
    """One SAML message taken from a Redirect-binding query string (not yet verified)."""

    kind: str  # "SAMLRequest" or "SAMLResponse"
    xml: bytes
    relay_state: str
    sig_alg: str
    signature: bytes
    signed_octets: bytes

    @property
    def is_signed(self) -> bool:
        return bool(self.signature)


def _raw_parameters(query_string: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in query_string.split("&"):
        name, _, value = part.partition("=")
        if name not in _PARAMETERS:
            continue  # other parameters are not part of the signed octets
        if name in found:
            raise SignInRejected(Reason.LOGOUT_MALFORMED, f"{name} appears twice")
        found[name] = value
    return found


def _inflate(data: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(-15)
    try:
        xml = inflater.decompress(data, max_bytes + 1)
    except zlib.error:
        raise SignInRejected(Reason.LOGOUT_MALFORMED, "not DEFLATE data") from None
    if len(xml) > max_bytes or inflater.unconsumed_tail:
        raise SignInRejected(Reason.RESPONSE_TOO_LARGE, "inflated message too large")
    return xml


def parse_redirect_query(query_string: str, *, max_bytes: int) -> RedirectMessage:
    """Read a SAMLRequest or SAMLResponse from a raw query string (undecoded)."""
    if len(query_string) > max_bytes * 2:
        raise SignInRejected(Reason.RESPONSE_TOO_LARGE, "query string too large")
    raw = _raw_parameters(query_string)
    kinds = [k for k in ("SAMLRequest", "SAMLResponse") if k in raw]
    if len(kinds) != 1:
        raise SignInRejected(Reason.LOGOUT_MALFORMED, f"{len(kinds)} SAML messages")
    kind = kinds[0]
    try:
        deflated = base64.b64decode(unquote_plus(raw[kind]), validate=True)
    except (binascii.Error, ValueError):
        raise SignInRejected(Reason.LOGOUT_MALFORMED, "not base64") from None
    xml = _inflate(deflated, max_bytes)
    octets = f"{kind}={raw[kind]}"
    if "RelayState" in raw:
        octets += f"&RelayState={raw['RelayState']}"
    signature = b""
    if "Signature" in raw or "SigAlg" in raw:
        octets += f"&SigAlg={raw.get('SigAlg', '')}"
        try:
            signature = base64.b64decode(unquote_plus(raw.get("Signature", "")), validate=True)
        except (binascii.Error, ValueError):
            raise SignInRejected(Reason.SIGNATURE_INVALID, "signature not base64") from None
        if not signature:
            raise SignInRejected(Reason.UNSIGNED, "SigAlg without Signature")
    return RedirectMessage(
        kind=kind,
        xml=xml,
        relay_state=unquote_plus(raw.get("RelayState", "")),
        sig_alg=unquote_plus(raw.get("SigAlg", "")),
        signature=signature,
        signed_octets=octets.encode("ascii", "replace"),
    )


def load_public_keys(certificates_pem: Sequence[bytes]) -> tuple[PublicKey, ...]:
    """The RSA public keys of the trusted certificates (loaded once per runtime).

    A certificate with another kind of key can verify no RSA signature: left out.
    """
    keys = (x509.load_pem_x509_certificate(pem).public_key() for pem in certificates_pem)
    return tuple(key for key in keys if isinstance(key, rsa.RSAPublicKey))


def verify_redirect_signature(
    message: RedirectMessage, keys: Sequence[PublicKey], *, allow_sha1: bool
) -> None:
    """Raise SignInRejected unless a trusted key signed ``message.signed_octets``."""
    if not message.is_signed:
        raise SignInRejected(Reason.UNSIGNED, "Redirect-binding message without Signature")
    if message.sig_alg == RSA_SHA1 and not allow_sha1:
        raise SignInRejected(Reason.WEAK_ALGORITHM, "rsa-sha1 SigAlg")
    algorithm = _HASHES.get(message.sig_alg)
    if algorithm is None:
        raise SignInRejected(Reason.WEAK_ALGORITHM, "SigAlg not allowed")
    for key in keys:
        try:
            key.verify(message.signature, message.signed_octets, padding.PKCS1v15(), algorithm())
        except (InvalidSignature, ValueError):
            continue
        return
    raise SignInRejected(Reason.SIGNATURE_INVALID, "no trusted certificate verifies the query")
