"""Verifying enveloped XML signatures (in-process with python-xmlsec by default).

Only the shapes Entra produces are accepted: one Reference to the parent
element's ID, enveloped-signature + exclusive c14n transforms, RSA with SHA-2
(SHA-1 only when the site allows it). The key always comes from the stored
metadata; whatever KeyInfo the message carries is never trusted.

The shape check is common; the cryptographic check goes through a
:class:`SignatureBackend`: in-process here, or the ``xmlsec1`` program
(saml/xmlsec1.py) where python-xmlsec cannot be used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from lxml import etree

from ..exceptions import ConfigurationError
from ..reasons import Reason
from .xml import NS

if TYPE_CHECKING:
    import xmlsec

_DS = NS["ds"]
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
STRONG_SIGNATURE_METHODS = frozenset({
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
})
STRONG_DIGEST_METHODS = frozenset({
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
})


class SignatureProblem(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(detail)  # pragma: no mutate (str() of it, for the log)


def import_xmlsec():
    """python-xmlsec, imported only when something needs it (never at module import).

    Where it cannot be imported -- a wheel built against another libxml2 than lxml's
    raises "lxml & xmlsec libxml2 library version mismatch" -- this is a
    ConfigurationError (the 503 page, and check E007), naming the way out.
    """
    try:
        import xmlsec
    except Exception as exc:  # ImportError, or xmlsec.Error raised while importing
        raise ConfigurationError(
            f"python-xmlsec cannot be imported ({type(exc).__name__}: {exc}): reinstall it "
            "built against lxml's libxml2, or set THOROPASS_SSO['SIGNATURE_BACKEND'] = "
            "'xmlsec1' to verify signatures with the xmlsec1 program (docs/compatibility.md)."
        ) from None
    return xmlsec


def load_keys(certificates_pem: Sequence[bytes]) -> tuple[xmlsec.Key, ...]:
    """Load trusted certificates once; the keys are reused for every verification."""
    xmlsec = import_xmlsec()
    return tuple(
        xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem, None)
        for pem in certificates_pem
    )


def has_duplicate_ids(root: etree._Element) -> bool:
    """True when two attributes named ``ID`` (in any namespace) share a value.

    xmlsec.tree.add_ids, which resolves Reference URIs, matches attributes by
    local name in any namespace and lets the first one in document order win;
    so a decoy ``evil:ID`` placed before the signed element would be what the
    signature is checked against. Count IDs the way xmlsec sees them.
    """
    ids = [
        value
        for element in root.iter()
        for name, value in element.attrib.items()
        if etree.QName(name).localname == "ID"
    ]
    return len(ids) != len(set(ids))


def _one(parent: etree._Element, path: str) -> etree._Element:
    found = parent.findall(path, NS)
    if len(found) != 1:
        raise SignatureProblem(Reason.SIGNATURE_REFERENCE, f"{len(found)} {path}")
    return found[0]


def check_signature_shape(signature: etree._Element, *, allow_sha1: bool) -> None:
    """Refuse any signature that is not the narrow shape Entra produces."""
    signed_info = _one(signature, "ds:SignedInfo")
    c14n = _one(signed_info, "ds:CanonicalizationMethod")
    if c14n.get("Algorithm") != EXC_C14N:
        raise SignatureProblem(Reason.SIGNATURE_REFERENCE, "canonicalization not exclusive c14n")
    method = _one(signed_info, "ds:SignatureMethod").get("Algorithm")
    if method == RSA_SHA1:
        if not allow_sha1:
            raise SignatureProblem(Reason.WEAK_ALGORITHM, "rsa-sha1 signature")
    elif method not in STRONG_SIGNATURE_METHODS:
        raise SignatureProblem(Reason.WEAK_ALGORITHM, "signature method not allowed")
    reference = _one(signed_info, "ds:Reference")
    # Signatures are found inside the Response, so every one has a parent.
    parent_id = signature.getparent().get("ID")
    if not parent_id or reference.get("URI") != f"#{parent_id}":
        raise SignatureProblem(Reason.SIGNATURE_REFERENCE, "reference is not the parent element")
    transforms = reference.find("ds:Transforms", NS)
    algorithms = [t.get("Algorithm") for t in transforms] if transforms is not None else []
    if not algorithms or any(a not in (ENVELOPED, EXC_C14N) for a in algorithms):
        raise SignatureProblem(Reason.SIGNATURE_REFERENCE, "unexpected transforms")
    digest = _one(reference, "ds:DigestMethod").get("Algorithm")
    if digest == SHA1:
        if not allow_sha1:
            raise SignatureProblem(Reason.WEAK_ALGORITHM, "sha1 digest")
    elif digest not in STRONG_DIGEST_METHODS:
        raise SignatureProblem(Reason.WEAK_ALGORITHM, "digest method not allowed")


class SignatureBackend(Protocol):
    """Does the cryptographic check of one already shape-checked signature.

    ``THOROPASS_SSO['SIGNATURE_BACKEND']`` picks one when the runtime is built
    (runtime.py): :class:`InProcessBackend` (the default) or
    :class:`~thoropass_sso.saml.xmlsec1.Xmlsec1Backend`. Every other check runs
    the same whichever verifies.
    """

    name: str

    def prepare(self, root: etree._Element) -> None:
        """Called once per document before any of its signatures is verified."""

    # The protocol's default is never run: each backend has its own.
    def verify(self, signature: etree._Element, first: int = 0) -> int:  # pragma: no mutate
        """Verify with a trusted certificate, trying index ``first`` first; return the index
        that verified, or raise SignatureProblem."""


class InProcessBackend:
    """python-xmlsec, in-process: no subprocess, no file, keys loaded once."""

    name = "python-xmlsec"

    def __init__(self, keys: Sequence[xmlsec.Key]) -> None:
        self.keys = tuple(keys)
        self._xmlsec = import_xmlsec()

    @classmethod
    def from_certificates(cls, certificates_pem: Sequence[bytes]) -> InProcessBackend:
        """Import python-xmlsec and load the trusted certificates (once per runtime)."""
        return cls(load_keys(certificates_pem))

    def prepare(self, root: etree._Element) -> None:
        self._xmlsec.tree.add_ids(root, ["ID"])

    # Where to start only orders the tries (the last key that verified goes first): a
    # different start is the same outcome, so the defaults and the order are not mutated.
    def verify(self, signature: etree._Element, first: int = 0) -> int:  # pragma: no mutate
        return verify_signature(signature, self.keys, first)  # pragma: no mutate


def verify_signature(  # pragma: no mutate
    signature: etree._Element, keys: Sequence[xmlsec.Key], first: int = 0  # pragma: no mutate
) -> int:
    """Verify ``signature`` with any of the trusted ``keys``, trying ``keys[first]`` first.

    Returns the index of the key that verified; raises SignatureProblem if none does.
    """
    xmlsec = import_xmlsec()
    for offset in range(len(keys)):
        index = (first + offset) % len(keys)  # pragma: no mutate (order only)
        context = xmlsec.SignatureContext()
        context.key = keys[index]
        try:
            context.verify(signature)
        except xmlsec.Error:
            continue
        return index
    raise SignatureProblem(Reason.SIGNATURE_INVALID, "no trusted certificate verifies it")
