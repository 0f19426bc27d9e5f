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
import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    from .decrypt import Decrypter
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
    # This site's decryption keys (THOROPASS_SSO['ENCRYPTION_KEYS']); None: no token encryption.
    decrypter: Decrypter | None = None


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

    root: etree._Element  # as posted: what a Response signature covers
    # The assertion, decrypted when it came encrypted; None while decryption waits for the
    # Response signature to verify (a signed response with its own Issuer).
    assertion: etree._Element | None
    claimed_issuer: str
    # ``root`` with the EncryptedAssertion replaced by ``assertion``; ``root`` itself otherwise.
    tree: etree._Element | None = None
    encrypted: bool = False

    @property
    def document(self) -> etree._Element:
        return self.tree if self.tree is not None else self.root


@dataclass(frozen=True)
class VerifiedAssertion:
    """The facts of one verified assertion that the sign-in flow acts on."""

    assertion_id: str
    in_response_to: str
    issue_instant: datetime
    not_on_or_after: datetime
    claims: EntraClaims
    # AuthnStatement@SessionNotOnOrAfter: Entra's bound on the session this sign-in starts.
    session_not_on_or_after: datetime | None = None
    encrypted: bool = False

    @property
    def is_unsolicited(self) -> bool:
        return not self.in_response_to


def _reject(reason: Reason, detail: str) -> SignInRejected:
    # The detail only reaches the log: what the site does is the reason.
    return SignInRejected(reason, detail)  # pragma: no mutate


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


def _instant(element: etree._Element, attribute: str) -> datetime:
    """A required timestamp attribute, read strictly."""
    instant = _optional_instant(element, attribute)
    if instant is None:
        raise _reject(Reason.MALFORMED, f"{etree.QName(element).localname}@{attribute} missing")
    return instant


def _optional_instant(element: etree._Element, attribute: str) -> datetime | None:
    """An optional timestamp attribute, read strictly when present."""
    value = element.get(attribute)
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        raise _reject(Reason.MALFORMED, f"{etree.QName(element).localname}@{attribute} invalid") from None


def _at_most_one(parent: etree._Element, path: str) -> etree._Element | None:
    """The only ``path`` child of ``parent``, or None; two are refused.

    The schema allows one Issuer, Subject, NameID, Conditions; Entra sends one
    AuthnStatement. Reading "the first" of two would let a second, unchecked
    copy (a foreign audience, another issuer) ride along unnoticed, so a
    duplicate is refused rather than silently ignored.
    """
    found = parent.findall(path, NS)
    if len(found) > 1:
        raise _reject(Reason.MALFORMED, f"{len(found)} {path} in {etree.QName(parent).localname}")
    return found[0] if found else None


_KNOWN_ASSERTION_CHILDREN = frozenset({
    f"{{{SAML}}}Issuer", f"{{{NS['ds']}}}Signature", f"{{{SAML}}}Subject", f"{{{SAML}}}Conditions",
    f"{{{SAML}}}AuthnStatement", f"{{{SAML}}}AttributeStatement",
})
# OneTimeUse is honoured by construction (every assertion id is used once); ProxyRestriction
# limits assertions this site would issue, and it issues none.
_KNOWN_CONDITIONS = frozenset({
    f"{{{SAML}}}AudienceRestriction", f"{{{SAML}}}OneTimeUse", f"{{{SAML}}}ProxyRestriction",
})


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
        return self._check_structure(root)

    def verify(self, parsed: ParsedResponse, trust: IdpTrust, *, now: datetime) -> VerifiedAssertion:
        """Every check, with ``trust``'s keys, issuer and tenant; raises SignInRejected."""
        if parsed.claimed_issuer != trust.issuer:
            # The caller routes by the claimed issuer, so this only fires when a caller
            # hands over another connection's trust: never verify with the wrong keys.
            raise _reject(Reason.WRONG_ISSUER, "Assertion Issuer is not the connection's")
        if parsed.assertion is None:
            # Signed response, encrypted assertion: the signature over the ciphertext is
            # checked first (there is no assertion yet to check), so altered ciphertext never
            # reaches the decryption at all.
            self._verify_signatures(parsed, trust)
            encrypted = parsed.root.find("saml:EncryptedAssertion", NS)
            tree, assertion = self._decrypted(parsed.root, encrypted)
            self._check_assertion_issuer(assertion, parsed.claimed_issuer)
            parsed = replace(parsed, tree=tree, assertion=assertion)
            self._verify_signatures(parsed, trust, assertion_only=True)
        else:
            self._verify_signatures(parsed, trust)
        verified = self._check_assertion(parsed.document, parsed.assertion, trust, now)
        return replace(verified, encrypted=parsed.encrypted)

    # -- structure ---------------------------------------------------------
    def _check_structure(self, root: etree._Element) -> ParsedResponse:
        if root.tag != f"{{{SAMLP}}}Response":
            raise _reject(Reason.NOT_A_RESPONSE, "root is not samlp:Response")
        if root.get("Version") != "2.0":
            raise _reject(Reason.WRONG_VERSION, "Version is not 2.0")
        if not root.get("ID"):
            # Required by the schema; refused even when only the assertion is signed.
            raise _reject(Reason.MALFORMED, "Response has no ID")
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
        assertions = root.findall(".//saml:Assertion", NS)
        encrypted = root.findall(".//saml:EncryptedAssertion", NS)
        direct = root.findall("saml:Assertion", NS) + root.findall("saml:EncryptedAssertion", NS)
        if len(assertions) + len(encrypted) != 1 or len(direct) != 1:
            raise _reject(Reason.ASSERTION_COUNT,
                          f"{len(assertions)} assertions, {len(encrypted)} encrypted")
        response_issuer = text_of(_at_most_one(root, "saml:Issuer"))
        if encrypted:
            if not self.expect.decrypter:
                raise _reject(Reason.ENCRYPTED_ASSERTION, "EncryptedAssertion, and no decryption key")
            if response_issuer and root.find("ds:Signature", NS) is not None:
                return ParsedResponse(root=root, assertion=None, claimed_issuer=response_issuer,
                                      encrypted=True)
            tree, assertion = self._decrypted(root, encrypted[0])
        else:
            tree, assertion = root, assertions[0]
        claimed = self._check_assertion_issuer(assertion, response_issuer)
        return ParsedResponse(root=root, assertion=assertion, claimed_issuer=claimed, tree=tree,
                              encrypted=bool(encrypted))

    @staticmethod
    def _check_assertion_issuer(assertion: etree._Element, response_issuer: str) -> str:
        if assertion.get("Version") != "2.0":
            raise _reject(Reason.WRONG_VERSION, "Assertion Version is not 2.0")
        claimed = text_of(_at_most_one(assertion, "saml:Issuer"))
        if not claimed:
            raise _reject(Reason.WRONG_ISSUER, "Assertion has no Issuer")
        if response_issuer and response_issuer != claimed:
            raise _reject(Reason.WRONG_ISSUER, "Response and Assertion Issuers differ")
        return claimed

    def _decrypted(self, root: etree._Element, encrypted: etree._Element
                   ) -> tuple[etree._Element, etree._Element]:
        """A copy of ``root`` with its EncryptedAssertion decrypted in place, and the assertion.

        ``root`` itself is kept as posted: a Response signature covers the ciphertext.
        """
        assertion = self.expect.decrypter.decrypt(encrypted, f"{{{SAML}}}Assertion")
        tree = copy.deepcopy(root)  # pragma: no mutate (lxml's copy.copy is as deep)
        placeholder = tree.find("saml:EncryptedAssertion", NS)
        tree.replace(placeholder, assertion)
        assertion = tree.find("saml:Assertion", NS)
        # The plaintext passes the same structural rules as a plaintext assertion.
        if has_duplicate_ids(tree):
            raise _reject(Reason.DUPLICATE_ID, "an ID value appears twice")
        nested = len(tree.findall(".//saml:Assertion", NS)) + len(
            tree.findall(".//saml:EncryptedAssertion", NS))
        if nested != 1:
            raise _reject(Reason.ASSERTION_COUNT, "an assertion inside the encrypted assertion")
        return tree, assertion

    def _verify_signatures(self, parsed: ParsedResponse, trust: IdpTrust, *,
                           assertion_only: bool = False) -> None:
        """Verify every signature present with ``trust``'s keys; they must cover the assertion.

        An encrypted assertion's own signature is checked on the plaintext, the
        Response's (which covers the ciphertext) on the document as posted --
        before decryption when the Response is signed (``parsed.assertion`` is then
        None), and then the assertion's alone (``assertion_only``) once decrypted.
        """
        root, tree, assertion = parsed.root, parsed.document, parsed.assertion
        allowed = {root, assertion} if not parsed.encrypted else {root}
        for signature in root.findall(f".//{{{NS['ds']}}}Signature"):
            if signature.getparent() not in allowed:
                raise _reject(Reason.SIGNATURE_REFERENCE, "signature in an unexpected place")
        if parsed.encrypted and assertion is not None:
            for signature in assertion.findall(f".//{{{NS['ds']}}}Signature"):
                if signature.getparent() is not assertion:
                    raise _reject(Reason.SIGNATURE_REFERENCE, "signature in an unexpected place")
        response_signatures = root.findall("ds:Signature", NS)
        assertion_signatures = assertion.findall("ds:Signature", NS) if assertion is not None else []
        if len(response_signatures) > 1 or len(assertion_signatures) > 1:
            raise _reject(Reason.SIGNATURE_REFERENCE, "more than one signature on an element")
        if assertion_only:
            response_signatures = []
        elif not response_signatures and not assertion_signatures:
            # An encrypted assertion proves nothing by itself: anyone can encrypt to our
            # published certificate.
            raise _reject(Reason.UNSIGNED, "neither the response nor the assertion is signed")
        backend = trust.signature_backend
        for document, signatures in ((root, response_signatures), (tree, assertion_signatures)):
            if not signatures:
                continue
            backend.prepare(document)
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
        assertion_id = assertion.get("ID")
        if not assertion_id:
            raise _reject(Reason.MALFORMED, "Assertion has no ID")
        # Read again from the verified element (parse() read it before any signature check).
        if text_of(assertion.find("saml:Issuer", NS)) != trust.issuer:
            raise _reject(Reason.WRONG_ISSUER, "Assertion Issuer is not the connection's")
        self._check_children(assertion)

        issue_instant = _instant(assertion, "IssueInstant")
        for instant in (issue_instant, _instant(root, "IssueInstant")):
            if instant > now + skew:
                raise _reject(Reason.NOT_YET_VALID, "IssueInstant in the future")
            if instant < now - expect.max_age - skew:
                raise _reject(Reason.STALE, "IssueInstant too old")

        # Subject: a non-empty NameID and one bearer confirmation addressed to us.
        subject = _at_most_one(assertion, "saml:Subject")
        if subject is None:
            raise _reject(Reason.MISSING_NAME_ID, "no Subject")
        name_id_element = self._name_id(subject, trust)
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
        confirmation_expiry = _optional_instant(data, "NotOnOrAfter")
        if confirmation_expiry is None:
            raise _reject(Reason.NO_BEARER_CONFIRMATION, "SubjectConfirmationData has no NotOnOrAfter")
        if now - skew >= confirmation_expiry:
            raise _reject(Reason.EXPIRED, "SubjectConfirmationData expired")
        confirmation_start = _optional_instant(data, "NotBefore")
        if confirmation_start is not None and now + skew < confirmation_start:
            raise _reject(Reason.NOT_YET_VALID, "SubjectConfirmationData not yet valid")
        in_response_to = data.get("InResponseTo") or ""
        response_irt = root.get("InResponseTo")
        if response_irt is not None and response_irt != in_response_to:
            raise _reject(Reason.UNKNOWN_REQUEST, "Response and assertion InResponseTo differ")

        # Conditions: validity window and every audience restriction naming us.
        conditions = _at_most_one(assertion, "saml:Conditions")
        if conditions is None:
            raise _reject(Reason.WRONG_AUDIENCE, "no Conditions")
        not_before = _optional_instant(conditions, "NotBefore")
        not_on_or_after = _optional_instant(conditions, "NotOnOrAfter")
        if not_before is not None and now + skew < not_before:
            raise _reject(Reason.NOT_YET_VALID, "Conditions NotBefore in the future")
        if not_on_or_after is not None and now - skew >= not_on_or_after:
            raise _reject(Reason.EXPIRED, "Conditions expired")
        for condition in conditions:
            if isinstance(condition.tag, str) and condition.tag not in _KNOWN_CONDITIONS:
                # SAML core 2.5.1.5: a condition not understood makes the assertion
                # Indeterminate -- never valid.
                raise _reject(Reason.UNSUPPORTED_ELEMENT, "a condition this site does not know")
        restrictions = conditions.findall("saml:AudienceRestriction", NS)
        if not restrictions:
            raise _reject(Reason.WRONG_AUDIENCE, "no AudienceRestriction")
        accepted = {expect.audience, f"spn:{expect.audience}"}
        for restriction in restrictions:
            audiences = {text_of(a) for a in restriction.findall("saml:Audience", NS)}
            if not audiences & accepted:
                raise _reject(Reason.WRONG_AUDIENCE, "an AudienceRestriction excludes this site")

        authn_statement = _at_most_one(assertion, "saml:AuthnStatement")
        if authn_statement is None:
            raise _reject(Reason.MALFORMED, "no AuthnStatement")
        _instant(authn_statement, "AuthnInstant")
        if authn_statement.find("saml:AuthnContext", NS) is None:
            raise _reject(Reason.MALFORMED, "AuthnStatement without AuthnContext")
        session_index = authn_statement.get("SessionIndex") or ""
        session_end = _optional_instant(authn_statement, "SessionNotOnOrAfter")
        if session_end is not None and now - skew >= session_end:
            raise _reject(Reason.EXPIRED, "SessionNotOnOrAfter passed")

        attributes: dict[str, list[str]] = {}
        for attribute in self._attributes(assertion):
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
            session_not_on_or_after=session_end,
        )

    # -- what else an assertion can say (docs/security.md, "Every part of a response") --
    @staticmethod
    def _check_children(assertion: etree._Element) -> None:
        """Only the statements this site acts on; anything else is refused, not skipped."""
        for child in assertion:
            if isinstance(child.tag, str) and child.tag not in _KNOWN_ASSERTION_CHILDREN:
                # AuthzDecisionStatement, a custom Statement, Advice: Entra sends none, and a
                # statement this site cannot evaluate must not pass for one it did.
                raise _reject(Reason.UNSUPPORTED_ELEMENT,
                              f"assertion carries {etree.QName(child).localname}")

    def _name_id(self, subject: etree._Element, trust: IdpTrust) -> etree._Element | None:
        """The Subject's NameID -- decrypted from an EncryptedID -- with its qualifiers checked."""
        if subject.find("saml:BaseID", NS) is not None:
            raise _reject(Reason.MISSING_NAME_ID, "BaseID instead of NameID")
        encrypted = _at_most_one(subject, "saml:EncryptedID")
        element = _at_most_one(subject, "saml:NameID")
        if encrypted is not None:
            if element is not None:
                raise _reject(Reason.MALFORMED, "both NameID and EncryptedID")
            if not self.expect.decrypter:
                raise _reject(Reason.ENCRYPTED_ELEMENT, "EncryptedID, and no decryption key")
            element = self.expect.decrypter.decrypt(encrypted, f"{{{SAML}}}NameID")
        if element is None:
            return None
        sp_qualifier = element.get("SPNameQualifier")
        if sp_qualifier is not None and sp_qualifier not in (self.expect.audience,
                                                             f"spn:{self.expect.audience}"):
            raise _reject(Reason.WRONG_AUDIENCE, "NameID SPNameQualifier names another SP")
        idp_qualifier = element.get("NameQualifier")
        if idp_qualifier is not None and idp_qualifier != trust.issuer:
            raise _reject(Reason.WRONG_ISSUER, "NameID NameQualifier names another IdP")
        return element

    def _attributes(self, assertion: etree._Element):
        """Every Attribute of the AttributeStatements, EncryptedAttributes decrypted."""
        for statement in assertion.findall("saml:AttributeStatement", NS):
            for child in statement:
                if child.tag == f"{{{SAML}}}Attribute":
                    yield child
                elif child.tag == f"{{{SAML}}}EncryptedAttribute":
                    if not self.expect.decrypter:
                        raise _reject(Reason.ENCRYPTED_ELEMENT,
                                      "EncryptedAttribute, and no decryption key")
                    yield self.expect.decrypter.decrypt(child, f"{{{SAML}}}Attribute")
                elif isinstance(child.tag, str):
                    raise _reject(Reason.UNSUPPORTED_ELEMENT, "unknown child of AttributeStatement")
