"""Strict verification of an Entra SAML Response posted to the ACS.

This is the security core. It accepts exactly what Entra sends (assertion
signed, response signed, or both) and refuses everything that stock
pysaml2 lets through: it reads only the element whose signature it verified,
requires every audience restriction, recipient and destination to name this
site, and checks time with the configured skew. Replay and request
correlation are enforced by the caller (they need shared state).

It never logs: failures are raised as :class:`SignInRejected` with a reason
code and a detail that names no claim value.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lxml import etree

from ..claims import CLAIM_OBJECT_ID, CLAIM_TENANT_ID, EntraClaims
from ..exceptions import SignInRejected
from ..reasons import Reason
from .signature import (
    SignatureBackend,
    SignatureProblem,
    check_signature_shape,
    has_duplicate_ids,
)
from .timestamps import parse_instant
from .xml import NS, MalformedXML, UnsafeXML, parse_untrusted, text_of

if TYPE_CHECKING:
    from .redirect_binding import PublicKey

_GUID_RE = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$")
SAMLP = NS["samlp"]
SAML = NS["saml"]
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_STATUS_WORD = re.compile(r"[A-Za-z]{1,40}")


@dataclass(frozen=True)
class Expectations:
    """What a response must say to be addressed to this site; the same for every connection."""

    audience: str
    acs_url: str
    clock_skew: timedelta
    max_age: timedelta
    allow_sha1: bool
    max_bytes: int


class IdpTrust:
    """What one connection's responses are verified with: its issuer, tenant and keys.

    Built once per connection and metadata version (registry.py). Nothing a
    message carries is ever added to it.
    """

    def __init__(self, *, issuer: str, tenant_id: str, signature_backend: SignatureBackend,
                 public_keys: Sequence[PublicKey]) -> None:
        self.issuer = issuer
        self.tenant_id = tenant_id
        # Who checks XML signatures cryptographically (THOROPASS_SSO['SIGNATURE_BACKEND']),
        # holding this connection's certificates in its own form.
        self.signature_backend = signature_backend
        # The same certificates' public keys, for Redirect-binding (logout) signatures:
        # plain RSA over the query octets, checked with ``cryptography`` (redirect_binding.py).
        self.public_keys = tuple(public_keys)
        # Entra lists its next certificate weeks before it is activated; trying
        # the key that last verified first keeps every sign-in to one RSA check.
        # (A race between threads only costs an extra try, never a wrong answer.)
        self.last_key = 0


@dataclass(frozen=True)
class ParsedResponse:
    """A posted Response, parsed and structurally checked, NOT yet verified.

    ``claimed_issuer`` is what the assertion says about who sent it: only good
    for choosing whose keys to verify with (registry.py), never for trust.
    """

    root: etree._Element
    assertion: etree._Element
    claimed_issuer: str


@dataclass(frozen=True)
class VerifiedAssertion:
    """The facts of one verified assertion that the sign-in flow acts on."""

    assertion_id: str
    in_response_to: str
    issue_instant: datetime
    not_on_or_after: datetime
    claims: EntraClaims

    @property
    def is_unsolicited(self) -> bool:
        return not self.in_response_to


def _reject(reason: Reason, detail: str) -> SignInRejected:
    return SignInRejected(reason, detail)


def decode_post_binding(value: str, max_bytes: int) -> bytes:
    """Base64-decode a SAMLResponse, refusing oversize or deflated input before decoding."""
    if len(value) > max_bytes * 4 // 3 + 4:
        raise _reject(Reason.RESPONSE_TOO_LARGE, f"{len(value)} characters")
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _reject(Reason.MALFORMED, "not base64") from None
    if len(data) > max_bytes:
        raise _reject(Reason.RESPONSE_TOO_LARGE, f"{len(data)} bytes")
    if not data.lstrip().startswith(b"<"):
        # HTTP-POST messages are never deflated; we never inflate anything.
        raise _reject(Reason.MALFORMED, "not XML")
    return data


def _instant(element: etree._Element, attribute: str, *, required: bool) -> datetime | None:
    value = element.get(attribute)
    if value is None:
        if required:
            raise _reject(Reason.MALFORMED, f"{etree.QName(element).localname}@{attribute} missing")
        return None
    try:
        return parse_instant(value)
    except ValueError:
        raise _reject(Reason.MALFORMED, f"{etree.QName(element).localname}@{attribute} invalid") from None


def _at_most_one(parent: etree._Element, path: str, what: str) -> etree._Element | None:
    """The only ``path`` child of ``parent``, or None; two are refused.

    The schema allows one Issuer, Subject, NameID, Conditions; Entra sends one
    AuthnStatement. Reading "the first" of two would let a second, unchecked
    copy (a foreign audience, another issuer) ride along unnoticed, so a
    duplicate is refused rather than silently ignored.
    """
    found = parent.findall(path, NS)
    if len(found) > 1:
        raise _reject(Reason.MALFORMED, f"{len(found)} {what} elements")
    return found[0] if found else None


def _single_value(attributes: dict[str, list[str]], claim: str, what: str) -> None:
    """A key claim must carry one value: with two, "the first" is an arbitrary choice."""
    if len(attributes.get(claim, [])) > 1:
        raise _reject(Reason.MALFORMED, f"{what} claim has several values")


class ResponseVerifier:
    """Verifies SAMLResponse values posted to this site's ACS.

    Two steps, so that one ACS serves every connection: :meth:`parse` reads the
    response and the issuer it claims; the caller finds that issuer's connection;
    :meth:`verify` then checks it with that connection's trust only.
    """

    def __init__(self, expectations: Expectations) -> None:
        self.expect = expectations

    def parse(self, saml_response: str) -> ParsedResponse:
        data = decode_post_binding(saml_response, self.expect.max_bytes)
        try:
            root = parse_untrusted(data)
        except UnsafeXML as exc:
            raise _reject(Reason.FORBIDDEN_XML, str(exc)) from None
        except MalformedXML:
            raise _reject(Reason.MALFORMED, "not well-formed XML") from None
        assertion, issuer = self._check_structure(root)
        return ParsedResponse(root=root, assertion=assertion, claimed_issuer=issuer)

    def verify(self, parsed: ParsedResponse, trust: IdpTrust, *, now: datetime) -> VerifiedAssertion:
        """Every check, with ``trust``'s keys, issuer and tenant; raises SignInRejected."""
        if parsed.claimed_issuer != trust.issuer:
            # The caller routes by the claimed issuer, so this only fires when a caller
            # hands over another connection's trust: never verify with the wrong keys.
            raise _reject(Reason.WRONG_ISSUER, "Assertion Issuer is not the connection's")
        self._verify_signatures(parsed.root, parsed.assertion, trust)
        return self._check_assertion(parsed.root, parsed.assertion, trust, now)

    # -- structure ---------------------------------------------------------
    def _check_structure(self, root: etree._Element) -> tuple[etree._Element, str]:
        if root.tag != f"{{{SAMLP}}}Response":
            raise _reject(Reason.NOT_A_RESPONSE, "root is not samlp:Response")
        if root.get("Version") != "2.0":
            raise _reject(Reason.WRONG_VERSION, "Version is not 2.0")
        if has_duplicate_ids(root):
            raise _reject(Reason.DUPLICATE_ID, "an ID value appears twice")
        destination = root.get("Destination")
        if destination is not None and destination != self.expect.acs_url:
            raise _reject(Reason.WRONG_DESTINATION, "Destination is not this site's ACS URL")
        status = root.find("samlp:Status/samlp:StatusCode", NS)
        status_value = status.get("Value") if status is not None else None
        if status_value != STATUS_SUCCESS:
            # Unsigned and attacker-chosen: log only a status word of the expected shape.
            word = (status_value or "").rsplit(":", 1)[-1]
            raise _reject(Reason.IDP_ERROR_STATUS,
                          f"status {word if _STATUS_WORD.fullmatch(word) else 'unrecognised'}")
        if root.find(".//saml:EncryptedAssertion", NS) is not None:
            raise _reject(Reason.ENCRYPTED_ASSERTION, "EncryptedAssertion")
        assertions = root.findall(".//saml:Assertion", NS)
        direct = root.findall("saml:Assertion", NS)
        if len(assertions) != 1 or len(direct) != 1:
            raise _reject(Reason.ASSERTION_COUNT, f"{len(assertions)} assertions")
        assertion = direct[0]
        if assertion.get("Version") != "2.0":
            raise _reject(Reason.WRONG_VERSION, "Assertion Version is not 2.0")
        claimed = text_of(_at_most_one(assertion, "saml:Issuer", "Assertion Issuer"))
        if not claimed:
            raise _reject(Reason.WRONG_ISSUER, "Assertion has no Issuer")
        response_issuer = _at_most_one(root, "saml:Issuer", "Response Issuer")
        if response_issuer is not None and text_of(response_issuer) != claimed:
            raise _reject(Reason.WRONG_ISSUER, "Response and Assertion Issuers differ")
        return assertion, claimed

    def _verify_signatures(self, root: etree._Element, assertion: etree._Element,
                           trust: IdpTrust) -> None:
        """Verify every signature present with ``trust``'s keys; they must cover ``assertion``."""
        signatures = root.findall(f".//{{{NS['ds']}}}Signature")
        allowed = {root, assertion}
        for signature in signatures:
            if signature.getparent() not in allowed:
                raise _reject(Reason.SIGNATURE_REFERENCE, "signature in an unexpected place")
        response_signatures = root.findall("ds:Signature", NS)
        assertion_signatures = assertion.findall("ds:Signature", NS)
        if len(response_signatures) > 1 or len(assertion_signatures) > 1:
            raise _reject(Reason.SIGNATURE_REFERENCE, "more than one signature on an element")
        if not signatures:
            raise _reject(Reason.UNSIGNED, "neither the response nor the assertion is signed")
        backend = trust.signature_backend
        backend.prepare(root)
        for signature in signatures:
            try:
                check_signature_shape(signature, allow_sha1=self.expect.allow_sha1)
                trust.last_key = backend.verify(signature, trust.last_key)
            except SignatureProblem as problem:
                raise _reject(problem.reason, problem.detail) from None
        # Every signature present verified, each covering its parent element by
        # ID, IDs are unique and there is exactly one assertion: the assertion
        # is the signed one (directly, or inside the signed response).

    # -- the assertion -----------------------------------------------------
    def _check_assertion(
        self, root: etree._Element, assertion: etree._Element, trust: IdpTrust, now: datetime
    ) -> VerifiedAssertion:
        expect = self.expect
        skew = expect.clock_skew
        assertion_id = assertion.get("ID") or ""
        if not assertion_id:
            raise _reject(Reason.MALFORMED, "Assertion has no ID")
        # Read again from the verified element (parse() read it before any signature check).
        if text_of(assertion.find("saml:Issuer", NS)) != trust.issuer:
            raise _reject(Reason.WRONG_ISSUER, "Assertion Issuer is not the connection's")

        issue_instant = _instant(assertion, "IssueInstant", required=True)
        for instant in (issue_instant, _instant(root, "IssueInstant", required=True)):
            if instant > now + skew:
                raise _reject(Reason.NOT_YET_VALID, "IssueInstant in the future")
            if instant < now - expect.max_age - skew:
                raise _reject(Reason.STALE, "IssueInstant too old")

        # Subject: a non-empty NameID and one bearer confirmation addressed to us.
        subject = _at_most_one(assertion, "saml:Subject", "Subject")
        name_id_element = (
            _at_most_one(subject, "saml:NameID", "NameID") if subject is not None else None
        )
        name_id = text_of(name_id_element)
        if not name_id:
            raise _reject(Reason.MISSING_NAME_ID, "NameID missing or empty")
        bearer = [
            c for c in subject.findall("saml:SubjectConfirmation", NS) if c.get("Method") == BEARER
        ]
        if len(bearer) != 1:
            raise _reject(Reason.NO_BEARER_CONFIRMATION, f"{len(bearer)} bearer confirmations")
        data = bearer[0].find("saml:SubjectConfirmationData", NS)
        if data is None:
            raise _reject(Reason.NO_BEARER_CONFIRMATION, "no SubjectConfirmationData")
        if data.get("Recipient") != expect.acs_url:
            raise _reject(Reason.WRONG_RECIPIENT, "Recipient is not this site's ACS URL")
        confirmation_expiry = _instant(data, "NotOnOrAfter", required=False)
        if confirmation_expiry is None:
            raise _reject(Reason.NO_BEARER_CONFIRMATION, "SubjectConfirmationData has no NotOnOrAfter")
        if now - skew >= confirmation_expiry:
            raise _reject(Reason.EXPIRED, "SubjectConfirmationData expired")
        confirmation_start = _instant(data, "NotBefore", required=False)
        if confirmation_start is not None and now + skew < confirmation_start:
            raise _reject(Reason.NOT_YET_VALID, "SubjectConfirmationData not yet valid")
        in_response_to = data.get("InResponseTo", "")
        response_irt = root.get("InResponseTo")
        if response_irt is not None and response_irt != in_response_to:
            raise _reject(Reason.UNKNOWN_REQUEST, "Response and assertion InResponseTo differ")

        # Conditions: validity window and every audience restriction naming us.
        conditions = _at_most_one(assertion, "saml:Conditions", "Conditions")
        if conditions is None:
            raise _reject(Reason.WRONG_AUDIENCE, "no Conditions")
        not_before = _instant(conditions, "NotBefore", required=False)
        not_on_or_after = _instant(conditions, "NotOnOrAfter", required=False)
        if not_before is not None and now + skew < not_before:
            raise _reject(Reason.NOT_YET_VALID, "Conditions NotBefore in the future")
        if not_on_or_after is not None and now - skew >= not_on_or_after:
            raise _reject(Reason.EXPIRED, "Conditions expired")
        restrictions = conditions.findall("saml:AudienceRestriction", NS)
        if not restrictions:
            raise _reject(Reason.WRONG_AUDIENCE, "no AudienceRestriction")
        accepted = {expect.audience, f"spn:{expect.audience}"}
        for restriction in restrictions:
            audiences = {text_of(a) for a in restriction.findall("saml:Audience", NS)}
            if not audiences & accepted:
                raise _reject(Reason.WRONG_AUDIENCE, "an AudienceRestriction excludes this site")

        authn_statement = _at_most_one(assertion, "saml:AuthnStatement", "AuthnStatement")
        if authn_statement is None:
            raise _reject(Reason.MALFORMED, "no AuthnStatement")
        session_index = authn_statement.get("SessionIndex", "")

        attributes: dict[str, list[str]] = {}
        for attribute in assertion.iterfind("saml:AttributeStatement/saml:Attribute", NS):
            name = attribute.get("Name", "")
            values = [text_of(v) for v in attribute.findall("saml:AttributeValue", NS)]
            attributes.setdefault(name, []).extend(values)
        _single_value(attributes, CLAIM_TENANT_ID, "tenantid")
        _single_value(attributes, CLAIM_OBJECT_ID, "objectidentifier")
        claims = EntraClaims.from_attributes(
            attributes,
            name_id=name_id,
            name_id_format=name_id_element.get("Format", ""),
            session_index=session_index,
        )
        if not claims.tenant_id or not claims.object_id:
            raise _reject(Reason.MISSING_CLAIM, "tenantid or objectidentifier claim missing")
        if claims.tenant_id != trust.tenant_id:
            raise _reject(Reason.WRONG_TENANT, "tenantid claim is not the connection's tenant")
        if not _GUID_RE.match(claims.object_id):
            # The object id is the user key, stored in a 36-character column:
            # anything but a GUID is not from Entra and must not reach the database.
            raise _reject(Reason.MALFORMED, "objectidentifier claim is not a GUID")

        # How long the assertion id must be held as used: until no check here
        # would accept the assertion any more. Past IssueInstant + max_age +
        # skew it is refused as stale whatever its NotOnOrAfter says, so that
        # bounds the hold (a year-9999 NotOnOrAfter would otherwise overflow
        # the cache's expiry into a 500).
        stale_from = issue_instant + expect.max_age + skew
        expires = min(
            t for t in (confirmation_expiry, not_on_or_after, stale_from) if t is not None
        )
        return VerifiedAssertion(
            assertion_id=assertion_id,
            in_response_to=in_response_to,
            issue_instant=issue_instant,
            not_on_or_after=expires,
            claims=claims,
        )
