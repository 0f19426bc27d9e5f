"""Validating Entra federation metadata and extracting what sign-in needs."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..conf import ENTRA_ISSUER, TENANT_ID_RE
from ..exceptions import MetadataInvalid
from ..saml.xml import NS, MalformedXML, UnsafeXML, parse_untrusted, text_of
from .signature import format_fingerprint

BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
_ISSUER_PREFIX = "https://sts.windows.net/"

if TYPE_CHECKING:
    from .signature import MetadataSignaturePins


@dataclass(frozen=True)
class SigningCertificate:
    """One IdP signing certificate listed in the metadata."""

    der: bytes
    sha256_fingerprint: str
    not_before: datetime
    not_after: datetime
    subject: str

    @property
    def pem(self) -> bytes:
        cert = x509.load_der_x509_certificate(self.der)
        return cert.public_bytes(serialization.Encoding.PEM)

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.not_after <= (now or datetime.now(UTC))

    @property
    def short_fingerprint(self) -> str:
        return self.sha256_fingerprint[:23]


@dataclass(frozen=True)
class IdpMetadata:
    """The parts of an Entra metadata document that sign-in uses."""

    entity_id: str
    tenant_id: str
    sso_url: str
    slo_url: str
    signing_certificates: tuple[SigningCertificate, ...]
    sha256: str
    # Fingerprint of the certificate that signed the document, when pinning is on.
    signed_by: str = ""

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(c.sha256_fingerprint for c in self.signing_certificates)

    @property
    def content_key(self) -> tuple[object, ...]:
        """What sign-in depends on; two documents with equal keys are "unchanged".

        Entra may re-issue the document (new ID, new signature) without changing
        anything that matters; comparing this rather than bytes keeps the stored
        copy, and every worker's cache, as it is.
        """
        return (self.entity_id, self.sso_url, self.slo_url, self.fingerprints)


def normalize_document(data: bytes) -> bytes:
    """The document without a leading byte-order mark or blank space (older Entra sent a BOM)."""
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")


def _load_certificate(b64_text: str) -> SigningCertificate:
    try:
        der = base64.b64decode("".join(b64_text.split()), validate=True)
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise MetadataInvalid(f"a signing certificate could not be read ({exc})") from None
    return SigningCertificate(
        der=der,
        sha256_fingerprint=format_fingerprint(der),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        subject=cert.subject.rfc4514_string(),
    )


def _looks_like_html(head: bytes) -> bool:
    lowered = head[:512].lower().lstrip()
    return lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:200]


def parse_metadata(
    data: bytes,
    *,
    expected_tenant_id: str = "",
    signature_pins: MetadataSignaturePins | None = None,
    check_expiry: bool = True,
    expected_from: str = "THOROPASS_SSO",
) -> IdpMetadata:
    """Parse and validate Entra federation metadata.

    Raises MetadataInvalid with a message an operator can act on. Trusts every
    signing certificate listed (Entra lists inactive ones ahead of rollover).

    ``signature_pins`` turns on verification of the document's own signature.
    ``check_expiry=False`` is for re-reading the copy already stored: a stored
    document whose certificates have since expired must still be readable, so
    that checks can say so and a refresh can report what it replaced.
    """
    stripped = normalize_document(data)
    if _looks_like_html(stripped):
        raise MetadataInvalid("the server sent an HTML page, not metadata "
                              "(a sign-in, proxy or error page?)")
    if not stripped.startswith(b"<"):
        raise MetadataInvalid("the document is not XML")
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError:
        # Entra sends UTF-8; the stored copy is text, so anything else is refused here.
        raise MetadataInvalid("the document is not UTF-8") from None
    try:
        root = parse_untrusted(stripped)
    except UnsafeXML as exc:
        raise MetadataInvalid(f"the document uses forbidden XML ({exc})") from None
    except MalformedXML as exc:
        raise MetadataInvalid(f"the document is not well-formed XML ({exc})") from None
    if root.tag != f"{{{NS['md']}}}EntityDescriptor":
        raise MetadataInvalid(
            f"the document is not SAML metadata (root element {etree_name(root.tag)})"
        )
    # The signature is verified before anything in the document is believed.
    signed_by = signature_pins.verify(root) if signature_pins is not None else ""
    entity_id = root.get("entityID", "")
    tenant_id = entity_id.removeprefix(_ISSUER_PREFIX).rstrip("/")
    if (
        not entity_id.startswith(_ISSUER_PREFIX)
        or not TENANT_ID_RE.match(tenant_id)
        or entity_id != ENTRA_ISSUER.format(tenant_id=tenant_id)
    ):
        raise MetadataInvalid(
            f"the entity id {entity_id!r} is not an Entra tenant issuer "
            "(https://sts.windows.net/<tenant-id>/)"
        )
    tenant_id = tenant_id.lower()
    if expected_tenant_id and tenant_id != expected_tenant_id.lower():
        raise MetadataInvalid(
            f"the metadata is for tenant {tenant_id}, but {expected_from} names tenant "
            f"{expected_tenant_id}"
        )
    idp = root.find("md:IDPSSODescriptor", NS)
    if idp is None:
        raise MetadataInvalid("the document has no IDPSSODescriptor")

    certificates: dict[str, SigningCertificate] = {}
    for key in idp.findall("md:KeyDescriptor", NS):
        if key.get("use", "signing") != "signing":
            continue
        for node in key.iterfind(".//ds:X509Certificate", NS):
            cert = _load_certificate(text_of(node))
            certificates.setdefault(cert.sha256_fingerprint, cert)
    if not certificates:
        raise MetadataInvalid("the IDPSSODescriptor lists no signing certificate")
    if check_expiry and all(c.is_expired() for c in certificates.values()):
        raise MetadataInvalid("every signing certificate in the metadata has expired")

    sso = {s.get("Binding"): s.get("Location", "") for s in idp.findall("md:SingleSignOnService", NS)}
    sso_url = sso.get(BINDING_REDIRECT) or ""
    if not sso_url:
        raise MetadataInvalid("the IDPSSODescriptor has no HTTP-Redirect SingleSignOnService")
    slo = {s.get("Binding"): s.get("Location", "") for s in idp.findall("md:SingleLogoutService", NS)}

    return IdpMetadata(
        entity_id=entity_id,
        tenant_id=tenant_id,
        sso_url=sso_url,
        slo_url=slo.get(BINDING_REDIRECT, ""),
        signing_certificates=tuple(
            sorted(certificates.values(), key=lambda c: c.not_after, reverse=True)
        ),
        sha256=hashlib.sha256(stripped).hexdigest(),
        signed_by=signed_by,
    )


def parse_stored_metadata(document: str) -> IdpMetadata:
    """Re-read a document this site validated and stored earlier.

    No expiry check (see :func:`parse_metadata`) and no signature check: the
    document was verified when it was stored, and the pins may have moved on.
    """
    return parse_metadata(document.encode("utf-8"), check_expiry=False)


def etree_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
