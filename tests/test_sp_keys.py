"""Issue 15: this site's own keys -- created by a command, published, printed for the portal,
signing the requests of the connections that ask (Entra's "Require verification certificates")."""

# ruff: noqa: F811 - test functions take the imported fixtures by name

from __future__ import annotations

import stat
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from django.test import Client

from thoropass_sso.checks import check_configuration
from thoropass_sso.keys import load_key_file
from thoropass_sso.slo import SESSION_KEY
from thoropass_sso.testing.commands import run_command
from thoropass_sso.testing.flows import sign_in, start_login

from .tenants import Tenants, fabrikam, two_tenants  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(tmp_path):
    paths = {name: tmp_path / f"{name}.pem" for name in ("signing", "encryption", "other")}
    for path in paths.values():
        result = run_command("entra_sp_key", "create", str(path))
        assert result.exit_code == 0 and result.output.startswith(f"created {path}: certificate ")
    return paths


def test_the_command_writes_a_private_file_and_never_overwrites(keys):
    path = keys["signing"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    again = run_command("entra_sp_key", "create", str(path))
    assert again.exit_code == 1 and "already exists" in again.output
    assert path.read_bytes() == before
    shown = run_command("entra_sp_key", "show", str(path))
    assert shown.exit_code == 0 and "expires " in shown.output


def test_sp_metadata_publishes_both_certificates_and_entra_setup_writes_the_cer(
        client, sso_settings, stored_metadata, keys):
    sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO, "SIGNING_KEY": str(keys["signing"]),
                                  "ENCRYPTION_KEYS": [str(keys["encryption"])],
                                  "SIGN_REQUESTS": True}
    body = client.get("/saml2/metadata/").content.decode()
    assert 'AuthnRequestsSigned="true"' in body
    for use, name in (("signing", "signing"), ("encryption", "encryption")):
        assert f'<md:KeyDescriptor use="{use}">' in body
        assert load_key_file(str(keys[name]), "t").cert_b64 in body
    setup = run_command("entra_setup")
    assert setup.exit_code == 0
    assert "Token encryption" in setup.output and "Signed requests" in setup.output
    for name in ("signing", "encryption"):
        cer = keys[name].with_suffix(".cer")
        assert f"upload {cer}" in setup.output
        assert x509.load_der_x509_certificate(cer.read_bytes()).public_bytes  # a real .cer (DER)
    assert "PRIVATE KEY" not in setup.output


def test_a_connection_that_signs_gets_signed_requests_entra_can_verify(
        sso_settings, stored_metadata, entra, ada, keys):
    signing = load_key_file(str(keys["signing"]), "t")
    sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO, "SIGNING_KEY": str(keys["signing"]),
                                  "SIGN_REQUESTS": True}
    client = Client()
    login, _ = start_login(client, "/home/", entra)
    location = login["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    assert entra.request_signature_valid(location, signing.cert_pem)
    other = load_key_file(str(keys["other"]), "t")
    assert not entra.request_signature_valid(location, other.cert_pem)
    tampered = location.replace("SAMLRequest=", "SAMLRequest=x", 1)
    assert not entra.request_signature_valid(tampered, signing.cert_pem)
    # The sign-in completes, and so does single logout, signed too.
    assert sign_in(client, entra, ada).status_code == 302
    assert client.session[SESSION_KEY]["connection"] == "default"
    logout = client.post("/saml2/logout/")
    assert "Signature=" in logout["Location"]
    assert entra.request_signature_valid(logout["Location"], signing.cert_pem)


def test_connections_that_do_not_ask_get_unsigned_requests(two_tenants: Tenants, keys, settings):
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "SIGNING_KEY": str(keys["signing"])}
    assert run_command("entra_connection", "set", "fabrikam", "sign_requests=true").exit_code == 0
    signed = Client().get("/saml2/login/?connection=fabrikam")["Location"]
    unsigned = Client().get("/saml2/login/?connection=default")["Location"]
    assert "Signature=" in signed and "Signature=" not in unsigned


def test_a_connection_that_signs_without_a_key_is_e012_and_a_503(two_tenants: Tenants):
    assert run_command("entra_connection", "set", "fabrikam", "sign_requests=true").exit_code == 0
    assert "thoropass_sso.E012" in [m.id for m in check_configuration(None)]
    response = Client().get("/saml2/login/?connection=fabrikam")
    assert response.status_code == 503 and b'data-reason="misconfigured"' in response.content


def test_an_unreadable_key_file_is_e012(sso_settings, tmp_path):
    sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO,
                                  "ENCRYPTION_KEYS": [str(tmp_path / "missing.pem")]}
    [error] = [m for m in check_configuration(None) if m.id == "thoropass_sso.E012"]
    assert "cannot be read" in error.msg and "entra_sp_key create" in error.hint
