"""Optional verification of the metadata document's own signature.

Entra signs the whole EntityDescriptor (RSA-SHA256, exclusive c14n). Fetching
over https already authenticates login.microsoftonline.com; pinning the
metadata signer on top protects sites that fetch through a proxy or mirror,
or that copy the file in by hand. It is opt-in because the signer changes
when the admin rolls the app's certificate: pin the new fingerprint first
(docs/metadata.md, "Rollover runbook").

Two ways to pin, usable together:

- ``METADATA_SIGNING_CERTIFICATE``: a PEM certificate; its key verifies the
  signature whatever KeyInfo the document carries.
- ``METADATA_SIGNING_FINGERPRINTS``: SHA-256 fingerprints; the certificate in
  the signature's KeyInfo is used only if its fingerprint is listed.

The cryptographic check follows ``SIGNATURE_BACKEND``: python-xmlsec in-process
(imported only here, when a pinned document is verified), or the ``xmlsec1``
program, so pinning works on hosts where python-xmlsec does not import.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from ..exceptions import ConfigurationError, MetadataInvalid
from ..saml.signature import (
    SignatureProblem,
    check_signature_shape,
    has_duplicate_ids,
)
from ..saml.xml import NS, text_of

if TYPE_CHECKING:
    from ..conf import SSOSettings

_HEX64 = re.compile(r"^[0-9A-F]{64}$")


def format_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as upper-case colon-separated hex (what openssl prints)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def normalize_fingerprint(value: str) -> str:
    """Accept 'AB:CD:…', 'ab cd …' or plain hex; return the colon form, or '' if not SHA-256."""
    compact = re.sub(r"[\s:]", "", value).upper()
    if not _HEX64.match(compact):
        return ""
    return ":".join(compact[i : i + 2] for i in range(0, 64, 2))


def _der_from_setting(text: str) -> bytes:
    """A PEM block, or the bare base64 body Entra's portal shows ("Certificate (Base64)")."""
    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            cert = x509.load_pem_x509_certificate(stripped.encode("ascii"))
        else:
            cert = x509.load_der_x509_certificate(
                base64.b64decode("".join(stripped.split()), validate=True)
            )
    except ValueError:
        raise ConfigurationError(
            "THOROPASS_SSO['METADATA_SIGNING_CERTIFICATE'] is not a PEM certificate."
        ) from None
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class MetadataSignaturePins:
    """The certificates allowed to sign the metadata document."""

    certificates: tuple[bytes, ...]  # DER
    fingerprints: frozenset[str]
    # THOROPASS_SSO['SIGNATURE_BACKEND']: who checks the signature cryptographically.
    signature_backend: str = "python-xmlsec"

    @classmethod
    def from_settings(cls, conf: SSOSettings) -> MetadataSignaturePins | None:
        """The pins the settings ask for, or None when metadata signatures are not checked."""
        if not conf.METADATA_SIGNING_CERTIFICATE and not conf.METADATA_SIGNING_FINGERPRINTS:
            return None
        certificates = (
            (_der_from_setting(conf.METADATA_SIGNING_CERTIFICATE),)
            if conf.METADATA_SIGNING_CERTIFICATE else ()
        )
        fingerprints = set()
        for value in conf.METADATA_SIGNING_FINGERPRINTS:
            normalized = normalize_fingerprint(value) if isinstance(value, str) else ""
            if not normalized:
                raise ConfigurationError(
                    "THOROPASS_SSO['METADATA_SIGNING_FINGERPRINTS'] must list SHA-256 "
                    f"fingerprints (64 hex digits, colons optional); got {value!r}."
                )
            fingerprints.add(normalized)
        return cls(certificates=certificates, fingerprints=frozenset(fingerprints),
                   signature_backend=conf.SIGNATURE_BACKEND)

    def verify(self, root: etree._Element) -> str:
        """Verify the EntityDescriptor's enveloped signature; return the signer's fingerprint.

        Raises MetadataInvalid when the document is unsigned, oddly signed, or signed
        by a certificate that is not pinned.
        """
        signatures = root.findall("ds:Signature", NS)
        if not signatures:
            raise MetadataInvalid("the document is not signed, but a metadata signing "
                                  "certificate is pinned")
        if len(signatures) > 1:
            raise MetadataInvalid("the document carries more than one signature")
        signature = signatures[0]
        if has_duplicate_ids(root):
            raise MetadataInvalid("an ID value appears twice in the document")
        try:
            check_signature_shape(signature, allow_sha1=False)
        except SignatureProblem as problem:
            raise MetadataInvalid(f"the document's signature is not acceptable ({problem.detail})") from None

        candidates: list[tuple[str, bytes]] = [(format_fingerprint(d), d) for d in self.certificates]
        offered = _key_info_certificate(signature)
        offered_fingerprint = format_fingerprint(offered) if offered else ""
        if offered and offered_fingerprint in self.fingerprints:
            candidates.append((offered_fingerprint, offered))

        verified = self._verified_by(root, signature, candidates)
        if verified is not None:
            return verified
        pinned = self.fingerprints | {fingerprint for fingerprint, _ in candidates}
        if offered and offered_fingerprint not in pinned:
            raise MetadataInvalid(
                f"the document is signed by certificate {offered_fingerprint[:23]}, which is not pinned"
            )
        raise MetadataInvalid("the document's signature does not verify with the pinned certificate")


    def _verified_by(self, root: etree._Element, signature: etree._Element,
                     candidates: list[tuple[str, bytes]]) -> str | None:
        """The fingerprint of the first candidate whose key verifies ``signature``, or None."""
        pems = [x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
                for _, der in candidates]
        if not pems:
            return None
        # The same factory that builds the sign-in path's backend: THOROPASS_SSO's
        # SIGNATURE_BACKEND is acted on in one place (runtime.signature_backend).
        from ..runtime import signature_backend

        backend = signature_backend(self.signature_backend, pems)
        backend.prepare(root)
        try:
            index = backend.verify(signature)
        except SignatureProblem:
            return None
        return candidates[index][0]


def _key_info_certificate(signature: etree._Element) -> bytes:
    node = signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    if node is None:
        return b""
    try:
        der = base64.b64decode("".join(text_of(node).split()), validate=True)
        x509.load_der_x509_certificate(der)
    except ValueError:
        return b""
    return der
