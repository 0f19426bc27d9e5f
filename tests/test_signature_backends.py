"""THOROPASS_SSO['SIGNATURE_BACKEND']: the ``xmlsec1`` fallback verifies the very signature
that was shape-checked, prepares its files once per runtime, and fails as configuration
(check E006, a 503 page), never as a 500. The hostile-input suite runs on both backends
(tests/conftest.py); this file covers what is particular to the fallback."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from lxml import etree

from thoropass_sso.checks import check_configuration
from thoropass_sso.conf import SSOSettings
from thoropass_sso.exceptions import ConfigurationError
from thoropass_sso.reasons import Reason
from thoropass_sso.runtime import forget_runtime, get_runtime
from thoropass_sso.saml.signature import SignatureProblem, check_signature_shape
from thoropass_sso.saml.xmlsec1 import Xmlsec1Backend, find_xmlsec1, node_xpath
from thoropass_sso.testing import EntraStandIn, make_signing_key_pair
from thoropass_sso.testing.flows import idp_initiated

from .conftest import ACS_URL, SP_ENTITY_ID

pytestmark = pytest.mark.django_db

DS = "{http://www.w3.org/2000/09/xmldsig#}"
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
      "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}


def _both_signed(entra, ada) -> etree._Element:
    xml = entra.response_xml(ada, acs_url=ACS_URL, audience=SP_ENTITY_ID,
                             sign_assertion=True, sign_response=True)
    return etree.fromstring(xml)


def _signatures(root):
    return root.find("ds:Signature", NS), root.find("saml:Assertion/ds:Signature", NS)


def _break(signature) -> None:
    value = signature.find("ds:SignatureValue", NS)
    value.text = ("A" if value.text.strip()[0] != "A" else "B") + value.text.strip()[1:]


@pytest.fixture
def backend(entra) -> Xmlsec1Backend:
    return Xmlsec1Backend([pair.cert_pem for pair in entra.signing_keys])


def test_the_settings_accept_only_the_two_backends():
    base = {"BASE_URL": "https://app.example.com", "METADATA_URL": "https://x.example/m.xml"}
    assert SSOSettings.from_dict(base).SIGNATURE_BACKEND == "python-xmlsec"
    assert SSOSettings.from_dict({**base, "SIGNATURE_BACKEND": "xmlsec1"}).SIGNATURE_BACKEND == "xmlsec1"
    with pytest.raises(ConfigurationError, match=r"\['SIGNATURE_BACKEND'\]"):
        SSOSettings.from_dict({**base, "SIGNATURE_BACKEND": "openssl"})


def test_the_node_xpath_names_one_element_by_position_and_name(entra, ada):
    root = _both_signed(entra, ada)
    response_signature, assertion_signature = _signatures(root)
    for signature in (response_signature, assertion_signature):
        assert root.getroottree().xpath(node_xpath(signature)) == [signature]
    # Comments count in lxml's children, not in XPath's ``*``.
    root.insert(0, etree.Comment("x"))
    assert root.getroottree().xpath(node_xpath(assertion_signature)) == [assertion_signature]


@pytest.mark.parametrize("order", ["response-signature-first", "response-signature-last"])
def test_each_run_verifies_the_signature_it_was_given_not_the_first_in_the_document(
        entra, ada, backend, tmp_path, order):
    """Left to itself xmlsec1 verifies the first ds:Signature in document order. Moving the
    response's signature after the assertion keeps it valid (the enveloped transform removes
    it wherever it is), so either one can come first: one of the two signatures is made
    invalid and each must get its own verdict wherever it stands."""
    attacker = EntraStandIn(tmp_path, tenant_id=entra.tenant_id)
    for broken in ("response", "assertion"):
        if broken == "response":
            root = _both_signed(entra, ada)
            _break(root.find("ds:Signature", NS))  # covers nothing else: the assertion stays valid
        else:
            # The assertion signed by a stranger, then the response by the trusted key.
            xml = attacker.response_xml(ada, acs_url=ACS_URL, audience=SP_ENTITY_ID)
            root = etree.fromstring(entra.sign(xml, "Response"))
        response_signature, assertion_signature = _signatures(root)
        if order == "response-signature-last":
            root.append(response_signature)
        good, bad = ((assertion_signature, response_signature) if broken == "response"
                     else (response_signature, assertion_signature))
        for signature in (good, bad):
            check_signature_shape(signature, allow_sha1=False)
        assert backend.verify(good) == 0
        with pytest.raises(SignatureProblem) as refused:
            backend.verify(bad)
        assert refused.value.reason is Reason.SIGNATURE_INVALID


def test_certificates_are_tried_last_good_first_one_run_each(entra, ada, backend):
    stranger = make_signing_key_pair()
    two = Xmlsec1Backend([stranger.cert_pem, entra.signing_keys[0].cert_pem])
    _, assertion_signature = _signatures(_both_signed(entra, ada))
    assert two.verify(assertion_signature, 0) == 1
    assert two.verify(assertion_signature, 1) == 1
    only_stranger = Xmlsec1Backend([stranger.cert_pem])
    with pytest.raises(SignatureProblem):
        only_stranger.verify(assertion_signature)


def test_files_are_written_once_per_runtime_and_messages_are_not_left_behind(entra, ada):
    backend = Xmlsec1Backend([pair.cert_pem for pair in entra.signing_keys])
    directory = Path(backend._directory)
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    certificates = sorted(directory.iterdir())
    assert [p.name for p in certificates] == ["trusted-0.pem"]
    written = certificates[0].stat().st_mtime_ns
    root = _both_signed(entra, ada)
    for signature in _signatures(root):
        backend.verify(signature)
    assert sorted(directory.iterdir()) == certificates  # the message file is gone
    assert certificates[0].stat().st_mtime_ns == written
    del backend
    import gc

    gc.collect()
    assert not directory.exists()  # removed with the runtime that owned it


def test_a_tmp_cleaner_removing_the_certificates_is_survived(entra, ada, backend):
    for path in Path(backend._directory).iterdir():
        path.unlink()
    os.rmdir(backend._directory)
    _, assertion_signature = _signatures(_both_signed(entra, ada))
    assert backend.verify(assertion_signature) == 0


def test_a_run_over_the_timeout_is_a_refusal(entra, ada):
    backend = Xmlsec1Backend([entra.signing_keys[0].cert_pem], timeout=0.000001)
    _, assertion_signature = _signatures(_both_signed(entra, ada))
    with pytest.raises(SignatureProblem, match="took over") as refused:
        backend.verify(assertion_signature)
    assert refused.value.reason is Reason.SIGNATURE_INVALID


def test_the_runtime_picks_the_configured_backend_once(sso_settings, stored_metadata):
    assert get_runtime().trust.signature_backend.name == "python-xmlsec"
    sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO, "SIGNATURE_BACKEND": "xmlsec1"}
    runtime = get_runtime()
    assert runtime.trust.signature_backend.name == "xmlsec1"
    assert get_runtime().trust is runtime.trust  # reused, not rebuilt per request


@pytest.fixture
def without_xmlsec1(monkeypatch, tmp_path):
    """A host without the xmlsec1 OS package: PATH holds no such program."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_xmlsec1() is None


def test_e006_xmlsec1_backend_without_the_program(sso_settings, stored_metadata, without_xmlsec1):
    sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO, "SIGNATURE_BACKEND": "xmlsec1"}
    [error] = [m for m in check_configuration(None) if m.id == "thoropass_sso.E006"]
    assert "SIGNATURE_BACKEND" in error.msg and "xmlsec1" in error.hint


def test_e006_is_quiet_on_the_default_backend_without_the_program(
        sso_settings, stored_metadata, without_xmlsec1):
    assert "thoropass_sso.E006" not in [m.id for m in check_configuration(None)]
    forget_runtime()
    assert get_runtime().trust.signature_backend.name == "python-xmlsec"


def test_sign_in_without_the_program_is_a_503_page_not_a_500(
        client, entra, ada, sso_settings, stored_metadata, without_xmlsec1, caplog):
    sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO, "SIGNATURE_BACKEND": "xmlsec1"}
    with pytest.raises(ConfigurationError, match="not on PATH"):
        get_runtime()
    with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
        login = client.get("/saml2/login/")
        acs = idp_initiated(client, entra, ada, acs_url=ACS_URL, audience=SP_ENTITY_ID)
    assert login.status_code == 503 and acs.status_code == 503
    assert "reason=misconfigured" in caplog.text
