"""Issue 15: Entra's token encryption -- encrypted sign-ins accepted, every encryption attack refused.

The stand-in signs the assertion, encrypts it for this site's certificate (RSA-OAEP key
transport, AES content, as Entra does), and signs the response if asked; the real ACS
decrypts in-process and verifies. Each refusal is followed by its control, and the suite
runs on both signature backends (tests/conftest.py).
"""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django.test import Client
from lxml import etree

from thoropass_sso.claims import CLAIM_EMAIL
from thoropass_sso.keys import create_key_file, load_key_file
from thoropass_sso.reasons import Reason
from thoropass_sso.testing.entra import encrypt_element

from .hostile_helpers import (  # noqa: F401
    NS,
    SAML,
    Hostile,
    attribute_value,
    evil_copy,
    hostile,
    override_sso,
)

pytestmark = pytest.mark.django_db

XENC = "{http://www.w3.org/2001/04/xmlenc#}"


@pytest.fixture(scope="session")
def key_files(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("sp-keys")
    files = {name: directory / f"{name}.pem" for name in ("current", "next", "stranger")}
    for name, path in files.items():
        create_key_file(path, f"test {name}")
    return files


def cert(path: Path) -> bytes:
    return load_key_file(str(path), "test").cert_pem


@pytest.fixture
def encrypting(hostile: Hostile, settings, key_files) -> Hostile:
    """The site with one encryption key; responses encrypted for it."""
    override_sso(settings, ENCRYPTION_KEYS=[str(key_files["current"])])
    return hostile


def enc(key_files, **more):
    return {"encrypt_for": cert(key_files["current"]), **more}


# -- accepted ----------------------------------------------------------------------------

@pytest.mark.parametrize("content", ["aes256-gcm", "aes128-gcm", "aes256-cbc", "aes128-cbc"])
def test_an_encrypted_assertion_signs_in_both_ways(encrypting: Hostile, key_files, content):
    options = enc(key_files, content_encryption=content)
    client, request = encrypting.login()
    encrypting.expect_signed_in(encrypting.post(client, encrypting.genuine(request, **options)))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**options)))


@pytest.mark.parametrize(("sign_assertion", "sign_response"), [(True, True), (False, True)],
                         ids=["both-signed", "response-signed-over-the-ciphertext"])
def test_a_response_signature_covers_the_ciphertext(encrypting: Hostile, key_files,
                                                    sign_assertion, sign_response):
    options = enc(key_files, sign_assertion=sign_assertion, sign_response=sign_response)
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**options)))


def test_during_a_rollover_either_key_decrypts_and_both_are_published(
        client, encrypting: Hostile, key_files, settings):
    override_sso(settings, ENCRYPTION_KEYS=[str(key_files["next"]), str(key_files["current"])])
    for name in ("current", "next"):
        xml = encrypting.unsolicited(encrypt_for=cert(key_files[name]))
        encrypting.expect_signed_in(encrypting.post(Client(), xml))
    metadata = client.get("/saml2/metadata/").content.decode()
    assert metadata.count('<md:KeyDescriptor use="encryption">') == 2
    for name in ("current", "next"):
        assert load_key_file(str(key_files[name]), "t").cert_b64 in metadata


def test_the_message_cannot_choose_the_decryption_key(encrypting: Hostile, key_files):
    # The EncryptedKey names the stranger's certificate in its KeyInfo: ignored, ours is used.
    def name_another_certificate(root: etree._Element) -> None:
        key = root.find(f".//{XENC}EncryptedKey")
        info = etree.SubElement(key, "{http://www.w3.org/2000/09/xmldsig#}KeyInfo")
        data = etree.SubElement(info, "{http://www.w3.org/2000/09/xmldsig#}X509Data")
        etree.SubElement(data, "{http://www.w3.org/2000/09/xmldsig#}X509Certificate").text = \
            load_key_file(str(key_files["stranger"]), "t").cert_b64

    xml = encrypting.unsolicited(**enc(key_files, mutate_encrypted=name_another_certificate))
    encrypting.expect_signed_in(encrypting.post(Client(), xml))


def test_an_encrypted_id_and_an_encrypted_attribute_are_decrypted(encrypting: Hostile, key_files):
    site_cert = cert(key_files["current"])

    def encrypt_name_and_email(root: etree._Element) -> None:
        assertion = root.find("saml:Assertion", NS)
        encrypt_element(assertion.find("saml:Subject/saml:NameID", NS), site_cert,
                        container=f"{SAML}EncryptedID")
        email = attribute_value(assertion, CLAIM_EMAIL).getparent()
        email.find("saml:AttributeValue", NS).text = "decrypted@contoso.example"
        encrypt_element(email, site_cert, container=f"{SAML}EncryptedAttribute")

    response = encrypting.post(Client(), encrypting.unsolicited(mutate=encrypt_name_and_email))
    encrypting.expect_signed_in(response)
    assert response.wsgi_request.user.email == "decrypted@contoso.example"


# -- refused -----------------------------------------------------------------------------

def test_a_connection_that_encrypts_refuses_an_assertion_in_the_clear(
        encrypting: Hostile, key_files, settings):
    # Mutation that must fail this: drop the require_encryption check in views/acs.py.
    override_sso(settings, REQUIRE_ENCRYPTION=True)
    encrypting.expect_rejected(Reason.ENCRYPTION_REQUIRED,
                               lambda: encrypting.post(Client(), encrypting.unsolicited()))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def test_without_a_key_an_encrypted_assertion_is_refused_by_name(hostile: Hostile, key_files):
    xml = hostile.unsolicited(encrypt_for=cert(key_files["current"]))
    hostile.expect_rejected(Reason.ENCRYPTED_ASSERTION, lambda: hostile.post(Client(), xml))
    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited()))


def test_without_a_key_an_encrypted_id_is_refused_not_skipped(hostile: Hostile, key_files):
    def encrypt_name(root: etree._Element) -> None:
        encrypt_element(root.find("saml:Assertion/saml:Subject/saml:NameID", NS),
                        cert(key_files["current"]), container=f"{SAML}EncryptedID")

    hostile.expect_rejected(Reason.ENCRYPTED_ELEMENT,
                            lambda: hostile.post(Client(), hostile.unsolicited(mutate=encrypt_name)))
    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited()))


def test_encrypted_for_another_key(encrypting: Hostile, key_files):
    xml = encrypting.unsolicited(encrypt_for=cert(key_files["stranger"]))
    encrypting.expect_rejected(Reason.DECRYPTION_FAILED, lambda: encrypting.post(Client(), xml))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def test_rsa_v1_5_key_transport_is_refused_before_any_decryption(encrypting: Hostile, key_files):
    # Bleichenbacher: not even tried (weak_encryption is decided from the algorithm name,
    # before python-xmlsec sees the key). Mutation that must fail this: drop the rsa-1_5
    # refusal in saml/decrypt.py -- python-xmlsec then decrypts it and the sign-in goes through.
    xml = encrypting.unsolicited(**enc(key_files, key_transport="rsa-1_5"))
    encrypting.expect_rejected(Reason.WEAK_ENCRYPTION, lambda: encrypting.post(Client(), xml))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def _flip(position: str):
    def tamper(root: etree._Element) -> None:
        value = root.find(f".//{XENC}EncryptedData/{XENC}CipherData/{XENC}CipherValue")
        data = bytearray(base64.b64decode("".join(value.text.split())))
        data[-1 if position == "last" else 20] ^= 0x01
        value.text = base64.b64encode(bytes(data)).decode()
    return tamper


@pytest.mark.parametrize("content", ["aes256-gcm", "aes256-cbc"])
@pytest.mark.parametrize("position", ["first-block", "last"])
def test_tampered_ciphertext_is_one_and_the_same_refusal(encrypting: Hostile, key_files, content,
                                                         position):
    # CBC padding errors and garbled plaintext look alike from outside: no padding oracle.
    xml = encrypting.unsolicited(**enc(key_files, content_encryption=content,
                                       mutate_encrypted=_flip(position)))
    encrypting.expect_rejected(Reason.DECRYPTION_FAILED, lambda: encrypting.post(Client(), xml))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def test_tampering_under_a_response_signature_is_caught_before_decryption(encrypting: Hostile,
                                                                          key_files):
    xml = encrypting.unsolicited(**enc(key_files, sign_assertion=False, sign_response=True))
    root = etree.fromstring(xml)
    _flip("first-block")(root)
    encrypting.expect_rejected(Reason.SIGNATURE_INVALID,
                               lambda: encrypting.post(Client(), etree.tostring(root)))
    encrypting.expect_signed_in(encrypting.post(Client(), xml))


def test_an_encrypted_assertion_wrapping_an_unsigned_one_proves_nothing(encrypting: Hostile,
                                                                        key_files):
    # Anyone can encrypt to the site's published certificate.
    xml = encrypting.unsolicited(**enc(key_files, sign_assertion=False))
    encrypting.expect_rejected(Reason.UNSIGNED, lambda: encrypting.post(Client(), xml))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def test_an_encrypted_and_a_plaintext_assertion_together(encrypting: Hostile, key_files):
    plain = etree.fromstring(encrypting.unsolicited())
    encrypted = etree.fromstring(encrypting.unsolicited(**enc(key_files)))
    plain.append(encrypted.find("saml:EncryptedAssertion", NS))
    encrypting.expect_rejected(Reason.ASSERTION_COUNT,
                               lambda: encrypting.post(Client(), etree.tostring(plain)))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def test_a_content_cipher_other_than_aes_is_refused(encrypting: Hostile, key_files):
    def triple_des(root: etree._Element) -> None:
        root.find(f".//{XENC}EncryptedData/{XENC}EncryptionMethod").set(
            "Algorithm", "http://www.w3.org/2001/04/xmlenc#tripledes-cbc")

    xml = encrypting.unsolicited(**enc(key_files, mutate_encrypted=triple_des))
    encrypting.expect_rejected(Reason.WEAK_ENCRYPTION, lambda: encrypting.post(Client(), xml))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def test_an_encrypted_assertion_holding_something_else_is_the_same_refusal(encrypting: Hostile,
                                                                          key_files):
    # Anyone can encrypt anything to the site's certificate: here a NameID where the
    # assertion should be. Mutation that must fail this: another reason in Decrypter._plaintext.
    def nameid_instead(root: etree._Element) -> None:
        encrypted = root.find("saml:EncryptedAssertion", NS)
        name_id = etree.Element(f"{SAML}NameID")
        name_id.text = "mallory@contoso.example"
        holder = etree.SubElement(root, "holder")
        holder.append(name_id)
        encrypt_element(name_id, cert(key_files["current"]), container=f"{SAML}EncryptedAssertion")
        root.replace(encrypted, holder[0])
        root.remove(holder)

    xml = encrypting.unsolicited(**enc(key_files, mutate_encrypted=nameid_instead))
    encrypting.expect_rejected(Reason.DECRYPTION_FAILED, lambda: encrypting.post(Client(), xml))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


# -- only the one shape Entra sends is decrypted -------------------------------------------
# Mutation testing (docs/mutation-testing.md) found these shapes unchecked by any test.

def _encrypted_data(root: etree._Element) -> etree._Element:
    return root.find(f"saml:EncryptedAssertion/{XENC}EncryptedData", NS)


def _second_encrypted_data(root: etree._Element) -> None:
    data = _encrypted_data(root)
    data.addnext(etree.fromstring(etree.tostring(data)))


def _unknown_child(root: etree._Element) -> None:
    etree.SubElement(root.find("saml:EncryptedAssertion", NS), f"{SAML}Advice")


def _content_type(root: etree._Element) -> None:
    _encrypted_data(root).set("Type", "http://www.w3.org/2001/04/xmlenc#Content")


def _cipher_reference(which: str):
    def tamper(root: etree._Element) -> None:
        # The EncryptedKey's CipherValue comes first (KeyInfo precedes CipherData).
        values = list(_encrypted_data(root).iter(f"{XENC}CipherValue"))
        value = values[0] if which == "key" else values[-1]
        data = value.getparent()
        data.remove(value)
        # Never dereferenced: a CipherReference would make the site fetch what the sender names.
        etree.SubElement(data, f"{XENC}CipherReference", URI="http://127.0.0.1:9/cipher")
    return tamper


@pytest.mark.parametrize(("tamper", "reason"), [
    # Mutation: `or` -> `and` in Decrypter._parts' one-EncryptedData check.
    (_second_encrypted_data, Reason.MALFORMED),
    (_unknown_child, Reason.MALFORMED),
    # Mutation: the Type attribute's name misspelt (never read, so never refused).
    (_content_type, Reason.MALFORMED),
    # Mutation: `and` -> `or` in _has_inline_cipher (then xmlsec is handed the reference).
    (_cipher_reference("data"), Reason.MALFORMED),
    (_cipher_reference("key"), Reason.MALFORMED),
], ids=["two-EncryptedData", "an-unknown-child", "Type-Content", "data-CipherReference",
        "key-CipherReference"])
def test_only_the_shape_entra_sends_is_decrypted(encrypting: Hostile, key_files, tamper, reason):
    xml = encrypting.unsolicited(**enc(key_files, mutate_encrypted=tamper))
    encrypting.expect_rejected(reason, lambda: encrypting.post(Client(), xml))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def _encrypted_bytes(plaintext: bytes, recipient_cert_pem: bytes) -> etree._Element:
    """An EncryptedAssertion of any bytes, labelled Type=Element: anyone holding the site's
    certificate can make one."""
    import xmlsec

    constants = xmlsec.constants
    container = etree.Element(f"{SAML}EncryptedAssertion", nsmap={"saml": NS["saml"]})
    data = xmlsec.template.encrypted_data_create(
        container, constants.TransformAes256Gcm, type=constants.TypeEncElement, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(data)
    info = xmlsec.template.encrypted_data_ensure_key_info(data, ns="ds")
    key = xmlsec.template.add_encrypted_key(info, constants.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(recipient_cert_pem, constants.KeyDataFormatCertPem, None))
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(constants.KeyDataAes, 256, constants.KeyDataTypeSession)
    container.append(context.encrypt_binary(data, plaintext))
    return container




@pytest.mark.parametrize("extra", ["text-before", "text-after"])
def test_a_plaintext_with_text_beside_the_assertion_is_the_same_refusal(
        encrypting: Hostile, key_files, extra):
    # The genuine signed assertion, encrypted together with text the sender chose. Mutation:
    # `or` -> `and` in Decrypter._plaintext's one-element check.
    root = etree.fromstring(encrypting.unsolicited())
    signed = root.find("saml:Assertion", NS)
    # Standing on its own (its namespaces declared on it), as Entra's plaintext does.
    plaintext = etree.tostring(etree.fromstring(etree.tostring(signed)))
    plaintext = b"chosen text" + plaintext if extra == "text-before" else plaintext + b"chosen text"
    root.replace(signed, _encrypted_bytes(plaintext, cert(key_files["current"])))
    xml = etree.tostring(root)
    encrypting.expect_rejected(Reason.DECRYPTION_FAILED, lambda: encrypting.post(Client(), xml))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def test_assertions_inside_the_decrypted_assertion_are_counted_together(encrypting: Hostile,
                                                                        key_files):
    # Inside the signed plaintext, Advice holds another assertion and an encrypted one.
    # Mutation: ``+`` -> ``-`` in ResponseVerifier._decrypted's count -> 2 - 1 passes as one.
    def nested(root: etree._Element) -> None:
        assertion = root.find("saml:Assertion", NS)
        advice = etree.Element(f"{SAML}Advice")
        assertion.insert(list(assertion).index(assertion.find("saml:Conditions", NS)) + 1, advice)
        advice.append(evil_copy(assertion))
        etree.SubElement(advice, f"{SAML}EncryptedAssertion")

    xml = encrypting.unsolicited(**enc(key_files, mutate=nested))
    encrypting.expect_rejected(Reason.ASSERTION_COUNT, lambda: encrypting.post(Client(), xml))
    encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**enc(key_files))))


def test_receivers_are_told_whether_the_assertion_came_encrypted(encrypting: Hostile, key_files):
    """``sign_in.assertion.encrypted`` (user_signed_in, the adapter) says how it arrived.

    Mutation: ``replace(verified, encrypted=...)`` in ResponseVerifier.verify given None or
    dropped -> False for an encrypted one."""
    from thoropass_sso.signals import user_signed_in

    seen = []

    def receiver(sender, sign_in, **kwargs):
        seen.append(sign_in.assertion.encrypted)

    user_signed_in.connect(receiver)
    try:
        for options in (enc(key_files), enc(key_files, sign_response=True), {}):
            encrypting.expect_signed_in(encrypting.post(Client(), encrypting.unsolicited(**options)))
    finally:
        user_signed_in.disconnect(receiver)
    assert seen == [True, True, False]
