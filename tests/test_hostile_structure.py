"""Issue 3, items 1 and 10 continued: signature shapes outside Entra's narrow one,
response structure (status, version, encryption, confirmations), and the
account policies applied after a response verified."""

from __future__ import annotations

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name
import copy

import pytest
from django.contrib.auth import get_user_model
from lxml import etree

from thoropass_sso.reasons import Reason
from thoropass_sso.testing import EntraStandIn, make_signing_key_pair

from .hostile_helpers import (
    DS,
    NS,
    SAML,
    SAMLP,
    Hostile,
    after_issuer,
    assertion_of,
    hostile,  # noqa: F401 - fixture
    override_sso,
    parse,
    serialize,
    signature_of,
)

pytestmark = pytest.mark.django_db

XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"


def signed_info(root: etree._Element) -> etree._Element:
    return signature_of(assertion_of(root)).find("ds:SignedInfo", NS)


def second_reference(root: etree._Element) -> None:
    info = signed_info(root)
    reference = info.find("ds:Reference", NS)
    extra = copy.deepcopy(reference)
    extra.set("URI", f"#{root.get('ID')}")
    reference.addnext(extra)


def xpath_transform(root: etree._Element) -> None:
    transforms = signed_info(root).find("ds:Reference/ds:Transforms", NS)
    transform = etree.SubElement(transforms, f"{DS}Transform", Algorithm=XPATH)
    etree.SubElement(transform, f"{DS}XPath").text = "not(ancestor-or-self::saml:Subject)"


def inclusive_c14n(root: etree._Element) -> None:
    method = signed_info(root).find("ds:CanonicalizationMethod", NS)
    method.set("Algorithm", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315")


def two_signatures(root: etree._Element) -> None:
    signature = signature_of(assertion_of(root))
    signature.addnext(copy.deepcopy(signature))


def md5_digest(root: etree._Element) -> None:
    method = signed_info(root).find("ds:Reference/ds:DigestMethod", NS)
    method.set("Algorithm", "http://www.w3.org/2001/04/xmldsig-more#md5")


SHAPES = {
    "two References": (second_reference, Reason.SIGNATURE_REFERENCE),
    "XPath transform": (xpath_transform, Reason.SIGNATURE_REFERENCE),
    "inclusive c14n": (inclusive_c14n, Reason.SIGNATURE_REFERENCE),
    "two signatures on the assertion": (two_signatures, Reason.SIGNATURE_REFERENCE),
    "MD5 digest": (md5_digest, Reason.WEAK_ALGORITHM),
}


@pytest.mark.parametrize("case", SHAPES, ids=list(SHAPES))
def test_signature_shape(hostile: Hostile, case: str) -> None:
    tamper, reason = SHAPES[case]
    hostile.attack(reason, tamper=tamper)


def test_every_signature_present_must_verify(
    hostile: Hostile, entra: EntraStandIn, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Response signed by the IdP, assertion inside signed by an attacker: both are checked."""
    attacker = EntraStandIn(
        tmp_path_factory.mktemp("attacker-both"),
        tenant_id=entra.tenant_id,
        signing_keys=[make_signing_key_pair()],
    )

    def forge(xml: bytes) -> bytes:
        root = parse(xml)
        root.remove(signature_of(root))
        assertion = assertion_of(root)
        assertion.remove(signature_of(assertion))
        by_attacker = attacker.sign(serialize(root), "Assertion")
        return entra.sign(by_attacker, "Response")

    hostile.attack(Reason.SIGNATURE_INVALID, forge=forge, sign_response=True)


# -- structure (signed before the change, so only the structural check refuses) ----
def set_status(root: etree._Element) -> None:
    code = root.find("samlp:Status/samlp:StatusCode", NS)
    code.set("Value", "urn:oasis:names:tc:SAML:2.0:status:Requester")


def encrypted_assertion(root: etree._Element) -> None:
    encrypted = etree.Element(f"{SAML}EncryptedAssertion")
    etree.SubElement(encrypted, "{http://www.w3.org/2001/04/xmlenc#}EncryptedData")
    root.insert(after_issuer(root) + 1, encrypted)


def response_version(root: etree._Element) -> None:
    root.set("Version", "1.1")


def assertion_version(root: etree._Element) -> None:
    assertion_of(root).set("Version", "1.1")


def root_is_not_a_response(root: etree._Element) -> None:
    root.tag = f"{SAMLP}ArtifactResponse"


def _confirmation(root: etree._Element) -> etree._Element:
    return assertion_of(root).find("saml:Subject/saml:SubjectConfirmation", NS)


def two_bearer_confirmations(root: etree._Element) -> None:
    confirmation = _confirmation(root)
    extra = copy.deepcopy(confirmation)
    extra.find("saml:SubjectConfirmationData", NS).set("Recipient", "https://evil.example/acs")
    confirmation.addnext(extra)


def holder_of_key_only(root: etree._Element) -> None:
    _confirmation(root).set("Method", "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key")


def no_authn_statement(root: etree._Element) -> None:
    assertion = assertion_of(root)
    assertion.remove(assertion.find("saml:AuthnStatement", NS))


STRUCTURE = {
    "IdP error status": (set_status, Reason.IDP_ERROR_STATUS),
    # One encrypted and one plaintext assertion: two assertions (the encrypted-only case, with
    # and without a key, is in test_hostile_encryption.py).
    "EncryptedAssertion beside the assertion": (encrypted_assertion, Reason.ASSERTION_COUNT),
    "Response Version 1.1": (response_version, Reason.WRONG_VERSION),
    "Assertion Version 1.1": (assertion_version, Reason.WRONG_VERSION),
    "root is not a Response": (root_is_not_a_response, Reason.NOT_A_RESPONSE),
    "two bearer confirmations": (two_bearer_confirmations, Reason.NO_BEARER_CONFIRMATION),
    "holder-of-key confirmation only": (holder_of_key_only, Reason.NO_BEARER_CONFIRMATION),
    "no AuthnStatement": (no_authn_statement, Reason.MALFORMED),
}


@pytest.mark.parametrize("case", STRUCTURE, ids=list(STRUCTURE))
def test_response_structure(hostile: Hostile, case: str) -> None:
    mutate, reason = STRUCTURE[case]
    hostile.attack(reason, mutate=mutate)


# -- account policies after verification ---------------------------------------------
def test_inactive_user_is_refused(hostile: Hostile) -> None:
    user = get_user_model().objects.get(entra_identities__object_id=hostile.user.object_id)
    user.is_active = False
    user.save()
    client, request = hostile.login()
    xml = hostile.genuine(request)
    hostile.expect_rejected(Reason.INACTIVE_USER, lambda: hostile.post(client, xml))
    user.is_active = True
    user.save()
    client, request = hostile.login()
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request)))


def test_unknown_user_refused_when_accounts_are_not_created(hostile: Hostile, settings) -> None:
    override_sso(settings, CREATE_USERS=False)
    stranger = hostile.user.__class__(upn="eve@contoso.example")
    client, request = hostile.login()
    xml = hostile.genuine(request, user=stranger)
    hostile.expect_rejected(Reason.UNKNOWN_USER, lambda: hostile.post(client, xml))
    # Control: the known user (Ada) still signs in with CREATE_USERS off.
    client, request = hostile.login()
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request)))
