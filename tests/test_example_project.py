"""The example project's black-box contract, driven over HTTP against real gunicorn workers.

Contract (issue "Sign in with Microsoft Entra ID"): migrate + refresh_entra_metadata from the
repo root, gunicorn from example_project/, env THOROPASS_SSO_METADATA_URL / THOROPASS_SSO_BASE_URL,
URLs /saml2/{login,acs,metadata,logout}/ and /whoami/ with a fixed JSON shape.
"""

from __future__ import annotations

import html
import re

import pytest
import requests

from thoropass_sso.testing import EntraStandIn, EntraUser
from thoropass_sso.testing.metadata_server import MetadataServer, Reply

from .example_site import example_env, gunicorn, manage

pytestmark = pytest.mark.slow

WHOAMI_KEYS = {"authenticated", "user_id", "username", "email", "first_name", "last_name", "upn",
               "tenant_id", "object_id", "groups", "is_staff", "is_superuser", "connection"}


def field(page: str, name: str) -> str | None:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


def prepare(env) -> None:
    for command in (("migrate", "--verbosity", "0"), ("refresh_entra_metadata",)):
        result = manage(env, *command)
        assert result.returncode == 0, result.stdout + result.stderr


def test_stand_in_mode_signs_in_both_ways(tmp_path, listener):
    port = listener.port
    env = example_env(tmp_path, port)
    prepare(env)
    with gunicorn(env, listener) as base:
        browser = requests.Session()
        assert browser.get(f"{base}/whoami/").json() == {"authenticated": False}
        assert browser.get(f"{base}/whoami/").status_code == 401

        # SP-initiated, from a deep link: the Sign-on URL asks for the work email (two
        # customers), then the stand-in's sign-in page of that customer's tenant.
        page = browser.get(f"{base}/private/")
        assert page.url.startswith(f"{base}/saml2/login/") and 'name="email"' in page.text
        page = browser.get(f"{base}/saml2/login/",
                           params={"email": "adele.vance@contoso.example", "next": "/private/"})
        assert "/entra-standin/" in page.url
        posted = browser.post(page.url.split("?")[0], data={
            "SAMLRequest": field(page.text, "SAMLRequest"),
            "RelayState": field(page.text, "RelayState"), "user": "0"})
        acs = browser.post(f"{base}/saml2/acs/", allow_redirects=False, data={
            "SAMLResponse": field(posted.text, "SAMLResponse"),
            "RelayState": field(posted.text, "RelayState") or ""})
        assert acs.status_code == 302
        assert acs.headers["Location"] == "/private/"
        me = browser.get(f"{base}/whoami/").json()
        assert set(me) == WHOAMI_KEYS
        assert me["authenticated"] is True
        assert me["email"] == "adele.vance@contoso.example"
        assert me["tenant_id"] == "c0ffee00-1d5a-4e3b-9c2d-7a1b2c3d4e5f"

        # IdP-initiated, from the stand-in's My Apps page.
        other = requests.Session()
        launched = other.post(f"{base}/entra-standin/myapps/", data={"user": "1"})
        acs = other.post(f"{base}/saml2/acs/", allow_redirects=False,
                         data={"SAMLResponse": field(launched.text, "SAMLResponse")})
        assert acs.status_code == 302
        assert other.get(f"{base}/whoami/").json()["upn"] == "megan.bowen@contoso.example"

        browser.post(f"{base}/saml2/logout/", headers={"Referer": base},
                     cookies={"csrftoken": "x" * 32}, data={"csrfmiddlewaretoken": "x" * 32})
        assert browser.get(f"{base}/whoami/").status_code == 401


def test_an_entra_like_metadata_url_signs_in_both_ways(tmp_path, listener):
    port = listener.port
    with MetadataServer() as idp_host:
        entra = EntraStandIn(tmp_path / "idp", base_url=idp_host.base_url)
        idp_host.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml()))
        env = example_env(tmp_path, port, metadata_url=idp_host.url(entra.metadata_path))
        prepare(env)
        grace = EntraUser(upn="grace@contoso.example", given_name="Grace", surname="Hopper",
                          email="grace.hopper@contoso.example")
        with gunicorn(env, listener) as base:
            acs_url, entity_id = f"{base}/saml2/acs/", f"{base}/saml2/metadata/"
            assert requests.get(f"{base}/saml2/metadata/", timeout=30).status_code == 200

            browser = requests.Session()
            login = browser.get(f"{base}/saml2/login/?next=/private/", allow_redirects=False)
            assert login.status_code == 302
            assert login.headers["Location"].startswith(entra.sso_url)
            request = entra.read_authn_request(login.headers["Location"])
            xml = entra.response_xml(grace, acs_url=acs_url, audience=entity_id,
                                     in_response_to=request.id)
            acs = browser.post(acs_url, allow_redirects=False, data={
                "SAMLResponse": entra.post_binding_value(xml), "RelayState": request.relay_state})
            assert acs.status_code == 302, acs.text
            assert acs.headers["Location"] == "/private/"
            me = browser.get(f"{base}/whoami/").json()
            assert (me["email"], me["first_name"], me["last_name"]) == (
                "grace.hopper@contoso.example", "Grace", "Hopper")
            assert (me["tenant_id"], me["object_id"], me["upn"]) == (
                entra.tenant_id, grace.object_id, grace.upn)

            tile = requests.Session()
            xml = entra.response_xml(grace, acs_url=acs_url, audience=entity_id)
            acs = tile.post(acs_url, allow_redirects=False,
                            data={"SAMLResponse": entra.post_binding_value(xml)})
            assert acs.status_code == 302
            assert tile.get(f"{base}/whoami/").json()["user_id"] == me["user_id"]
            assert me["connection"] == "default"


def test_a_second_customer_added_with_the_command_signs_in_through_the_same_acs(tmp_path, listener):
    port = listener.port
    with MetadataServer() as idp_host:
        contoso = EntraStandIn(tmp_path / "contoso", base_url=idp_host.base_url)
        fabrikam = EntraStandIn(tmp_path / "fabrikam", base_url=idp_host.base_url)
        for standin in (contoso, fabrikam):
            idp_host.set(standin.metadata_path.split("?")[0], Reply(body=standin.metadata_xml()))
        env = example_env(tmp_path, port, metadata_url=idp_host.url(contoso.metadata_path))
        prepare(env)
        added = manage(env, "entra_connection", "add", "fabrikam", "--metadata-url",
                       idp_host.url(fabrikam.metadata_path), "--domain", "fabrikam.example")
        assert added.returncode == 0, added.stderr
        assert added.stdout.startswith("added connection fabrikam (active)")
        nestor = EntraUser(upn="nestor@fabrikam.example", email="nestor@fabrikam.example")
        with gunicorn(env, listener) as base:
            acs_url, entity_id = f"{base}/saml2/acs/", f"{base}/saml2/metadata/"
            browser = requests.Session()
            login = browser.get(f"{base}/saml2/login/?connection=fabrikam&next=/private/",
                                allow_redirects=False)
            assert login.headers["Location"].startswith(fabrikam.sso_url)
            request = fabrikam.read_authn_request(login.headers["Location"])
            assert (request.issuer, request.acs_url) == (entity_id, acs_url)  # one Identifier
            xml = fabrikam.response_xml(nestor, acs_url=acs_url, audience=entity_id,
                                        in_response_to=request.id)
            acs = browser.post(acs_url, allow_redirects=False,
                               data={"SAMLResponse": fabrikam.post_binding_value(xml)})
            assert acs.status_code == 302, acs.text
            me = browser.get(f"{base}/whoami/").json()
            assert (me["connection"], me["tenant_id"], me["upn"]) == (
                "fabrikam", fabrikam.tenant_id, nestor.upn)
            # The Sign-on URL now asks for the work email; the email finds Fabrikam.
            assert requests.get(f"{base}/saml2/login/", allow_redirects=False, timeout=30).status_code == 200
            found = requests.get(f"{base}/saml2/login/?email=nestor@fabrikam.example",
                                 allow_redirects=False, timeout=30)
            assert found.headers["Location"].startswith(fabrikam.sso_url)
            assert "login_hint=nestor%40fabrikam.example" in found.headers["Location"]


def test_token_encryption_on_request(tmp_path, listener):
    """THOROPASS_SSO_ENCRYPTION=1: a key made once, published, and required of the tenant."""
    import base64

    from lxml import etree

    port = listener.port
    with MetadataServer() as idp_host:
        entra = EntraStandIn(tmp_path / "idp", base_url=idp_host.base_url)
        idp_host.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml()))
        env = example_env(tmp_path, port, metadata_url=idp_host.url(entra.metadata_path))
        env["THOROPASS_SSO_ENCRYPTION"] = "1"
        prepare(env)
        key_file = tmp_path / "state" / "sp-encryption.pem"
        first = key_file.read_bytes()
        grace = EntraUser(upn="grace@contoso.example", email="grace@contoso.example")
        with gunicorn(env, listener) as base:
            acs_url, entity_id = f"{base}/saml2/acs/", f"{base}/saml2/metadata/"
            metadata = etree.fromstring(requests.get(entity_id, timeout=30).content)
            certificate = metadata.find(
                ".//{urn:oasis:names:tc:SAML:2.0:metadata}KeyDescriptor[@use='encryption']"
                "//{http://www.w3.org/2000/09/xmldsig#}X509Certificate").text
            pem = (b"-----BEGIN CERTIFICATE-----\n" + certificate.encode()
                   + b"\n-----END CERTIFICATE-----\n")
            plain = entra.response_xml(grace, acs_url=acs_url, audience=entity_id)
            refused = requests.post(acs_url, allow_redirects=False, timeout=30,
                                    data={"SAMLResponse": entra.post_binding_value(plain)})
            assert refused.status_code == 403 and 'data-reason="encryption_required"' in refused.text
            encrypted = entra.response_xml(grace, acs_url=acs_url, audience=entity_id,
                                           encrypt_for=pem)
            assert b"EncryptedAssertion" in base64.b64decode(entra.post_binding_value(encrypted))
            browser = requests.Session()
            accepted = browser.post(acs_url, allow_redirects=False, timeout=30,
                                    data={"SAMLResponse": entra.post_binding_value(encrypted)})
            assert accepted.status_code == 302, accepted.text
            assert browser.get(f"{base}/whoami/", timeout=30).json()["upn"] == grace.upn
    # Made once: a second start keeps the same key (customers uploaded its certificate).
    assert manage(env, "migrate", "--verbosity", "0").returncode == 0
    assert key_file.read_bytes() == first


def test_the_stand_in_encrypts_when_the_site_asks(tmp_path, listener):
    import base64

    env = example_env(tmp_path, listener.port)
    env["THOROPASS_SSO_ENCRYPTION"] = "1"
    prepare(env)
    with gunicorn(env, listener) as base:
        tile = requests.Session()
        launched = tile.post(f"{base}/entra-standin/myapps/", data={"user": "1"}, timeout=30)
        value = field(launched.text, "SAMLResponse")
        assert b"EncryptedAssertion" in base64.b64decode(value)
        acs = tile.post(f"{base}/saml2/acs/", allow_redirects=False, timeout=30,
                        data={"SAMLResponse": value})
        assert acs.status_code == 302, acs.text
        assert tile.get(f"{base}/whoami/", timeout=30).json()["upn"] == "megan.bowen@contoso.example"
