"""Issue 3, item 1: signature integrity — wrapping (XSW1–8 and variants), stripping,
changed content, foreign keys and HMAC. Each attack starts from a genuine,
really-signed response and must be refused for the stated reason."""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import Callable

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from thoropass_sso.claims import CLAIM_OBJECT_ID
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
    attribute_value,
    evil_copy,
    hostile,  # noqa: F401 - fixture
    parse,
    serialize,
    signature_of,
)

pytestmark = pytest.mark.django_db


# -- XSW on the assertion signature (Entra's default) ------------------------
def xsw3_evil_assertion_before_signed(root: etree._Element) -> None:
    """An unsigned evil assertion placed before the signed one."""
    signed = assertion_of(root)
    root.insert(list(root).index(signed), evil_copy(signed))


def xsw4_signed_inside_evil(root: etree._Element) -> None:
    """The evil assertion wraps the signed one as a child."""
    signed = assertion_of(root)
    evil = evil_copy(signed)
    root.replace(signed, evil)
    evil.append(signed)


def xsw5_changed_signed_copy_plus_original(root: etree._Element) -> None:
    """The signed assertion is altered in place; an unsigned copy of the original follows."""
    signed = assertion_of(root)
    original = copy.deepcopy(signed)
    original.remove(signature_of(original))
    attribute_value(signed, CLAIM_OBJECT_ID).text = str(uuid.uuid4())
    root.append(original)


def xsw6_original_inside_signature(root: etree._Element) -> None:
    """Evil assertion keeps the ID and the signature; the original hides inside the signature."""
    signed = assertion_of(root)
    evil = evil_copy(signed, new_id=False)
    signature = signature_of(signed)
    signed.remove(signature)
    evil.insert(after_issuer(evil), signature)
    root.replace(signed, evil)
    signature.append(signed)


def xsw7_signed_in_extensions(root: etree._Element) -> None:
    """The signed assertion hides in samlp:Extensions; an unsigned evil one is read."""
    signed = assertion_of(root)
    extensions = etree.SubElement(root, f"{SAMLP}Extensions")
    root.insert(after_issuer(root), extensions)
    root.replace(signed, evil_copy(signed, new_id=False))
    extensions.append(signed)


def xsw8_original_in_signature_object(root: etree._Element) -> None:
    """Evil assertion carries the signature; a ds:Object in it holds the original, unsigned."""
    signed = assertion_of(root)
    evil = evil_copy(signed, new_id=False)
    signature = copy.deepcopy(signature_of(signed))
    evil.insert(after_issuer(evil), signature)
    original = copy.deepcopy(signed)
    original.remove(signature_of(original))
    etree.SubElement(signature, f"{DS}Object").append(original)
    root.replace(signed, evil)


def hide_signed_in(where: str) -> Callable[[etree._Element], None]:
    """The genuinely signed assertion hidden in ``where``; an unsigned evil assertion is direct."""

    def tamper(root: etree._Element) -> None:
        signed = assertion_of(root)
        evil = evil_copy(signed)
        root.replace(signed, evil)
        if where == "Extensions":
            container = etree.Element(f"{SAMLP}Extensions")
            root.insert(after_issuer(root), container)
        elif where == "Advice":
            container = etree.SubElement(evil, f"{SAML}Advice")
            evil.insert(list(evil).index(evil.find("saml:Conditions", NS)) + 1, container)
        elif where == "StatusDetail":
            container = etree.SubElement(root.find("samlp:Status", NS), f"{SAMLP}StatusDetail")
        elif where == "Object":
            container = etree.SubElement(etree.SubElement(evil, f"{DS}Signature"), f"{DS}Object")
        else:  # pragma: no cover - test bug
            raise AssertionError(where)
        container.append(signed)

    return tamper


def duplicate_id_evil_first(root: etree._Element) -> None:
    """Two assertions share the signed ID; a resolver taking the first verifies the wrong one."""
    signed = assertion_of(root)
    root.insert(list(root).index(signed), evil_copy(signed, new_id=False))


def namespaced_id_decoy(root: etree._Element) -> None:
    """A decoy holding the signed ID in a foreign-namespace attribute.

    xmlsec's ID lookup ignores attribute namespaces and takes the first in document order.
    """
    signed = assertion_of(root)
    decoy = etree.Element("{urn:evil}Decoy", nsmap={"evil": "urn:evil"})
    decoy.set("{urn:evil}ID", signed.get("ID"))
    extensions = etree.Element(f"{SAMLP}Extensions")
    extensions.append(decoy)
    root.insert(after_issuer(root), extensions)


def signed_then_unsigned(root: etree._Element) -> None:
    signed = assertion_of(root)
    root.append(evil_copy(signed))


WRAPPING = {
    "xsw3 evil assertion before the signed one": (
        xsw3_evil_assertion_before_signed,
        Reason.ASSERTION_COUNT,
    ),
    "xsw4 signed assertion inside the evil one": (xsw4_signed_inside_evil, Reason.ASSERTION_COUNT),
    "xsw5 signed copy changed, original appended": (
        xsw5_changed_signed_copy_plus_original,
        Reason.DUPLICATE_ID,
    ),
    "xsw6 original inside the signature": (xsw6_original_inside_signature, Reason.DUPLICATE_ID),
    "xsw7 signed assertion in Extensions": (xsw7_signed_in_extensions, Reason.DUPLICATE_ID),
    "xsw8 original in a signature Object": (xsw8_original_in_signature_object, Reason.DUPLICATE_ID),
    "signed copy hidden in Extensions": (hide_signed_in("Extensions"), Reason.ASSERTION_COUNT),
    "signed copy hidden in Advice": (hide_signed_in("Advice"), Reason.ASSERTION_COUNT),
    "signed copy hidden in StatusDetail": (hide_signed_in("StatusDetail"), Reason.ASSERTION_COUNT),
    "signed copy hidden in a signature Object": (hide_signed_in("Object"), Reason.ASSERTION_COUNT),
    "duplicate ID, evil first": (duplicate_id_evil_first, Reason.DUPLICATE_ID),
    "ID in a foreign namespace": (namespaced_id_decoy, Reason.DUPLICATE_ID),
    "signed assertion then an unsigned one": (signed_then_unsigned, Reason.ASSERTION_COUNT),
}


@pytest.mark.parametrize("case", WRAPPING, ids=list(WRAPPING))
def test_assertion_signature_wrapping(hostile: Hostile, case: str) -> None:
    tamper, reason = WRAPPING[case]
    hostile.attack(reason, tamper=tamper)


# -- XSW on the response signature (Entra's "sign response" option) ----------
def xsw1_original_response_inside_signature(root: etree._Element) -> None:
    """Evil response (new ID) keeps the signature; the original response hides inside it."""
    original = copy.deepcopy(root)
    original.remove(signature_of(original))
    root.set("ID", f"_{uuid.uuid4()}")
    root.replace(assertion_of(root), evil_copy(assertion_of(root)))
    signature_of(root).append(original)


def xsw2_original_response_before_signature(root: etree._Element) -> None:
    """Like XSW1, but the original response is a sibling before the (now detached) signature."""
    original = copy.deepcopy(root)
    original.remove(signature_of(original))
    root.set("ID", f"_{uuid.uuid4()}")
    root.replace(assertion_of(root), evil_copy(assertion_of(root)))
    signature = signature_of(root)
    root.insert(list(root).index(signature), original)


def response_assertion_swapped(root: etree._Element) -> None:
    """The signed response keeps its signature, the assertion inside is swapped."""
    root.replace(assertion_of(root), evil_copy(assertion_of(root), new_id=False))


RESPONSE_WRAPPING = {
    "xsw1 original response inside the signature": (
        xsw1_original_response_inside_signature,
        Reason.ASSERTION_COUNT,
    ),
    "xsw2 original response before the signature": (
        xsw2_original_response_before_signature,
        Reason.ASSERTION_COUNT,
    ),
    "assertion swapped in a signed response": (
        response_assertion_swapped,
        Reason.SIGNATURE_INVALID,
    ),
}


@pytest.mark.parametrize("case", RESPONSE_WRAPPING, ids=list(RESPONSE_WRAPPING))
def test_response_signature_wrapping(hostile: Hostile, case: str) -> None:
    tamper, reason = RESPONSE_WRAPPING[case]
    hostile.attack(reason, tamper=tamper, sign_assertion=False, sign_response=True)


# -- stripped, emptied, moved, changed -----------------------------------------
def strip_signature(root: etree._Element) -> None:
    assertion = assertion_of(root)
    assertion.remove(signature_of(assertion))


def empty_signature(root: etree._Element) -> None:
    signature = signature_of(assertion_of(root))
    for child in list(signature):
        signature.remove(child)


def empty_signature_value(root: etree._Element) -> None:
    signature_of(assertion_of(root)).find("ds:SignatureValue", NS).text = ""


def signature_moved_to_response(root: etree._Element) -> None:
    """The assertion's signature moved up to the response: it no longer covers its parent."""
    signature = signature_of(assertion_of(root))
    root.insert(after_issuer(root), signature)


def reference_whole_document(root: etree._Element) -> None:
    signature_of(assertion_of(root)).find("ds:SignedInfo/ds:Reference", NS).set("URI", "")


def change_object_id(root: etree._Element) -> None:
    attribute_value(assertion_of(root), CLAIM_OBJECT_ID).text = str(uuid.uuid4())


def change_name_id(root: etree._Element) -> None:
    assertion_of(root).find("saml:Subject/saml:NameID", NS).text = "mallory@contoso.example"


def add_claim(root: etree._Element) -> None:
    statement = assertion_of(root).find("saml:AttributeStatement", NS)
    attribute = etree.SubElement(
        statement,
        f"{SAML}Attribute",
        Name="http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
    )
    etree.SubElement(attribute, f"{SAML}AttributeValue").text = "Admin"


def change_signed_info(root: etree._Element) -> None:
    """Swapping the digest for the digest of other content breaks the SignatureValue."""
    digest = signature_of(assertion_of(root)).find("ds:SignedInfo/ds:Reference/ds:DigestValue", NS)
    digest.text = base64.b64encode(b"\0" * 32).decode()


INTEGRITY = {
    "signature stripped": (strip_signature, Reason.UNSIGNED),
    "signature emptied": (empty_signature, Reason.SIGNATURE_REFERENCE),
    "SignatureValue emptied": (empty_signature_value, Reason.SIGNATURE_INVALID),
    "signature moved to the response": (signature_moved_to_response, Reason.SIGNATURE_REFERENCE),
    "reference to the whole document": (reference_whole_document, Reason.SIGNATURE_REFERENCE),
    "object id changed after signing": (change_object_id, Reason.SIGNATURE_INVALID),
    "NameID changed after signing": (change_name_id, Reason.SIGNATURE_INVALID),
    "claim added after signing": (add_claim, Reason.SIGNATURE_INVALID),
    "digest replaced after signing": (change_signed_info, Reason.SIGNATURE_INVALID),
}


@pytest.mark.parametrize("case", INTEGRITY, ids=list(INTEGRITY))
def test_signature_integrity(hostile: Hostile, case: str) -> None:
    tamper, reason = INTEGRITY[case]
    hostile.attack(reason, tamper=tamper)


def invalid_response_signature_after_the_assertion(root: etree._Element) -> None:
    """Both signed; the response's signature, now invalid, moved after the valid assertion one.

    The move alone keeps it valid (the enveloped transform drops it wherever it is); a
    verifier that checks "the first ds:Signature in the document" (xmlsec1's default) for
    each signature would check the assertion's twice and never see this one.
    """
    signature = signature_of(root)
    value = signature.find("ds:SignatureValue", NS)
    text = value.text.strip()
    value.text = ("A" if text[0] != "A" else "B") + text[1:]
    root.append(signature)


def test_each_signature_is_verified_where_it_stands(hostile: Hostile) -> None:
    hostile.attack(Reason.SIGNATURE_INVALID, tamper=invalid_response_signature_after_the_assertion,
                   sign_assertion=True, sign_response=True)


def test_unsigned_response_and_assertion(hostile: Hostile) -> None:
    hostile.attack(Reason.UNSIGNED, tamper=strip_signature)  # control: signed assertion
    client, request = hostile.login()
    unsigned = hostile.genuine(request, sign_assertion=False)
    hostile.expect_rejected(Reason.UNSIGNED, lambda: hostile.post(client, unsigned))


# -- keys the site does not trust ---------------------------------------------
@pytest.fixture(scope="module")
def attacker(tmp_path_factory: pytest.TempPathFactory, entra: EntraStandIn) -> EntraStandIn:
    """The same tenant id, signed with the attacker's own key."""
    return EntraStandIn(
        tmp_path_factory.mktemp("attacker"),
        tenant_id=entra.tenant_id,
        app_id=entra.app_id,
        signing_keys=[make_signing_key_pair()],
    )


def _resign(
    attacker: EntraStandIn, xml: bytes, key_info: Callable[[], etree._Element] | None
) -> bytes:
    root = parse(xml)
    assertion = assertion_of(root)
    assertion.remove(signature_of(assertion))
    signed = parse(attacker.sign(serialize(root), "Assertion"))
    signature = signature_of(assertion_of(signed))
    for old in signature.findall("ds:KeyInfo", NS):
        signature.remove(old)
    if key_info is not None:
        signature.append(key_info())
    return serialize(signed)


def _x509_key_info(cert_b64: str) -> etree._Element:
    key_info = etree.Element(f"{DS}KeyInfo")
    etree.SubElement(
        etree.SubElement(key_info, f"{DS}X509Data"), f"{DS}X509Certificate"
    ).text = cert_b64
    return key_info


def _key_value(pair) -> etree._Element:
    numbers = x509.load_pem_x509_certificate(pair.cert_pem).public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()

    key_info = etree.Element(f"{DS}KeyInfo")
    rsa = etree.SubElement(etree.SubElement(key_info, f"{DS}KeyValue"), f"{DS}RSAKeyValue")
    etree.SubElement(rsa, f"{DS}Modulus").text = b64(numbers.n)
    etree.SubElement(rsa, f"{DS}Exponent").text = b64(numbers.e)
    return key_info


def test_attacker_key_without_key_info(hostile: Hostile, attacker: EntraStandIn) -> None:
    hostile.attack(Reason.SIGNATURE_INVALID, forge=lambda xml: _resign(attacker, xml, None))


def test_attacker_key_with_its_own_certificate(hostile: Hostile, attacker: EntraStandIn) -> None:
    own = attacker.signing_keys[0].cert_b64
    hostile.attack(
        Reason.SIGNATURE_INVALID,
        forge=lambda xml: _resign(attacker, xml, lambda: _x509_key_info(own)),
    )


def test_attacker_key_with_a_copy_of_the_idp_certificate(
    hostile: Hostile, attacker: EntraStandIn, entra: EntraStandIn
) -> None:
    idp_cert = entra.signing_keys[0].cert_b64
    hostile.attack(
        Reason.SIGNATURE_INVALID,
        forge=lambda xml: _resign(attacker, xml, lambda: _x509_key_info(idp_cert)),
    )


def test_attacker_key_as_a_bare_key_value(hostile: Hostile, attacker: EntraStandIn) -> None:
    pair = attacker.signing_keys[0]
    hostile.attack(
        Reason.SIGNATURE_INVALID, forge=lambda xml: _resign(attacker, xml, lambda: _key_value(pair))
    )


@pytest.mark.parametrize("encoding", ["der", "pem"])
def test_hmac_keyed_with_the_public_certificate(
    hostile: Hostile, entra: EntraStandIn, encoding: str
) -> None:
    """Key confusion: an HMAC whose secret is the (public) IdP certificate."""
    pem = entra.signing_keys[0].cert_pem
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    secret = der if encoding == "der" else pem

    def forge(xml: bytes) -> bytes:
        root = parse(xml)
        assertion = assertion_of(root)
        assertion.remove(signature_of(assertion))
        signature = xmlsec.template.create(
            assertion, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.HMAC_SHA256
        )
        assertion.insert(after_issuer(assertion), signature)
        reference = xmlsec.template.add_reference(
            signature, xmlsec.Transform.SHA256, uri=f"#{assertion.get('ID')}"
        )
        xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
        xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
        xmlsec.tree.add_ids(root, ["ID"])
        context = xmlsec.SignatureContext()
        context.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataHmac, secret)
        context.sign(signature)
        return serialize(root)

    hostile.attack(Reason.WEAK_ALGORITHM, forge=forge)


@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_two_signatures_on_one_element_are_refused(hostile: Hostile, signed: str) -> None:
    """Two copies of the same valid signature on one element: one signature is the shape
    Entra sends, and anything else is refused before any is verified.

    Mutation: ``> 1`` -> ``> 2`` for either element in _verify_signatures -> both verify and
    the response signs in."""
    def second_copy(root: etree._Element) -> None:
        element = root if signed == "response" else assertion_of(root)
        signature = signature_of(element)
        signature.addnext(copy.deepcopy(signature))

    hostile.attack(Reason.SIGNATURE_REFERENCE, tamper=second_copy,
                   sign_assertion=signed == "assertion", sign_response=signed == "response")
