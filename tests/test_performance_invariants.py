"""What one sign-in through the real ACS must never do (issue 5), counted by spies.

Stock djangosaml2 spends most of a sign-in starting ``xmlsec1`` processes,
writing temporary files, loading and re-validating the SP private key and
rebuilding its configuration from metadata. Here, after one warm-up sign-in
per process, a sign-in does none of that: 0 subprocesses, 0 temporary files,
0 private-key (or any key/certificate) loads, 0 metadata parses, 0 pysaml2
configuration builds.

The spies wrap the real functions and call through (nothing is mocked: the
response is really verified, the user really signed in). Responses are
generated before the spied region, because the stand-in itself signs through
pysaml2 and ``xmlsec1`` -- which the positive control below uses to show the
spies do catch exactly that kind of work. Not timed: timing is the benchmark's
job (benchmarks/, docs/benchmarks.md).

These invariants hold for the default signature backend (in-process python-xmlsec), which
every test here uses. The ``xmlsec1`` fallback (THOROPASS_SSO['SIGNATURE_BACKEND']) starts
one process and writes one temporary file per verification by design, so it is not held to
them (docs/compatibility.md); tests/test_signature_backends.py covers what it does instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from saml2.config import SPConfig

from thoropass_sso.metadata import parse as metadata_parse
from thoropass_sso.models import EntraIdentity
from thoropass_sso.runtime import forget_runtime, get_runtime
from thoropass_sso.testing import EntraUser
from thoropass_sso.testing.flows import post_response, response_for, start_login

from .conftest import ACS_URL, SP_ENTITY_ID

pytestmark = pytest.mark.django_db

_PRIVATE_KEY_FORMATS = {
    xmlsec.constants.KeyDataFormatPem,
    xmlsec.constants.KeyDataFormatDer,
    xmlsec.constants.KeyDataFormatPkcs8Pem,
    xmlsec.constants.KeyDataFormatPkcs8Der,
    xmlsec.constants.KeyDataFormatPkcs12,
}


class _KeySpy:
    """Stands in for ``xmlsec.Key``: counts every key loaded, returns the real key."""

    _LOADERS = ("from_memory", "from_file", "from_binary_data", "from_binary_file", "from_engine")

    def __init__(self, real: type, counts: Counter) -> None:
        self._real = real
        self._counts = counts

    def __getattr__(self, name: str):
        attribute = getattr(self._real, name)
        if name not in self._LOADERS:
            return attribute

        def load(*args, **kwargs):
            key_format = args[1] if len(args) > 1 else kwargs.get("format")
            self._counts["xmlsec key loads"] += 1
            if name == "from_engine" or key_format in _PRIVATE_KEY_FORMATS:
                self._counts["private key loads"] += 1
            return attribute(*args, **kwargs)

        return load

    def __call__(self, *args, **kwargs):
        return self._real(*args, **kwargs)


def _bindings_of(function: Callable) -> Iterator[tuple[object, str]]:
    """Every (module, name) holding ``function``: ``from x import f`` callers are caught too."""
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if value is function:
                yield module, name


@contextmanager
def count_expensive_work() -> Iterator[Counter]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield from _spied(monkeypatch)


def _spied(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    counts: Counter = Counter()

    def spy(owner: object, name: str, label: str) -> None:
        real = getattr(owner, name)

        def wrapper(*args, **kwargs):
            counts[label] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    def spy_everywhere(owner: object, name: str, label: str) -> None:
        real = getattr(owner, name)

        def wrapper(*args, **kwargs):
            counts[label] += 1
            return real(*args, **kwargs)

        for module, bound_name in _bindings_of(real):
            monkeypatch.setattr(module, bound_name, wrapper)

    # Processes
    spy(subprocess.Popen, "__init__", "subprocesses")
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            spy_everywhere(os, name, "subprocesses")
    # Temporary files
    for name in ("NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile", "mkstemp",
                 "mkdtemp", "TemporaryDirectory"):
        spy_everywhere(tempfile, name, "temporary files")
    # Keys and certificates
    for name in ("load_pem_private_key", "load_der_private_key", "load_ssh_private_key"):
        spy_everywhere(serialization, name, "private key loads")
    for name in ("load_pem_x509_certificate", "load_der_x509_certificate",
                 "load_pem_x509_certificates"):
        spy_everywhere(x509, name, "certificate loads")
    monkeypatch.setattr(xmlsec, "Key", _KeySpy(xmlsec.Key, counts))
    # Metadata and configuration
    spy_everywhere(metadata_parse, "parse_metadata", "metadata parses")
    spy_everywhere(metadata_parse, "parse_stored_metadata", "metadata parses")
    spy(SPConfig, "load", "pysaml2 config builds")
    yield counts


def _user(n: int) -> EntraUser:
    return EntraUser(upn=f"user{n}@contoso.example", given_name="User", surname=str(n),
                     email=f"user{n}@contoso.example")


def _idp_initiated(entra, user: EntraUser) -> str:
    xml = entra.response_xml(user, acs_url=ACS_URL, audience=SP_ENTITY_ID)
    return entra.post_binding_value(xml)


def _sign_in_ok(response) -> None:
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == "/home/"


def test_idp_initiated_sign_ins_start_no_process_write_no_file_load_no_key_parse_no_metadata(
        client_factory, entra, stored_metadata):
    users = [_user(n) for n in range(3)]
    warm_up = _idp_initiated(entra, _user(99))
    # New users (created on sign-in) and a returning one, each a fresh browser.
    responses = [_idp_initiated(entra, user) for user in [*users, users[0]]]
    _sign_in_ok(post_response(client_factory(), warm_up))

    with count_expensive_work() as counts:
        for saml_response in responses:
            _sign_in_ok(post_response(client_factory(), saml_response))

    assert EntraIdentity.objects.count() == 4  # really signed in: 1 warm-up + 3 users
    assert counts == Counter(), f"per-sign-in work that should not happen: {dict(counts)}"


def test_encrypted_sign_ins_load_no_key_either(client_factory, entra, stored_metadata, settings,
                                               tmp_path):
    """Token encryption: the site's key is loaded once per process, never per sign-in."""
    from thoropass_sso.keys import create_key_file, load_key_file

    path = tmp_path / "sp.pem"
    create_key_file(path, "perf")
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "ENCRYPTION_KEYS": [str(path)],
                              "REQUIRE_ENCRYPTION": True}
    site_cert = load_key_file(str(path), "t").cert_pem

    def encrypted(user: EntraUser) -> str:
        return entra.post_binding_value(entra.response_xml(
            user, acs_url=ACS_URL, audience=SP_ENTITY_ID, encrypt_for=site_cert))

    _sign_in_ok(post_response(client_factory(), encrypted(_user(99))))
    responses = [encrypted(_user(n)) for n in range(3)]
    with count_expensive_work() as counts:
        for saml_response in responses:
            _sign_in_ok(post_response(client_factory(), saml_response))
    assert counts == Counter(), f"per-sign-in work that should not happen: {dict(counts)}"


def test_sp_initiated_sign_in_does_none_of_it_either(client_factory, entra, stored_metadata):
    warm_up = _idp_initiated(entra, _user(99))
    _sign_in_ok(post_response(client_factory(), warm_up))
    client = client_factory()
    _, request = start_login(client, "/deep/link/", entra)  # the login view is not the sign-in
    saml_response = entra.post_binding_value(response_for(entra, _user(1), request))

    with count_expensive_work() as counts:
        response = post_response(client, saml_response, request.relay_state)

    assert response.status_code == 302
    assert response["Location"] == "/deep/link/"
    assert counts == Counter(), f"per-sign-in work that should not happen: {dict(counts)}"


def test_a_rejected_response_costs_no_more(client_factory, entra, stored_metadata):
    """A flood of forged or replayed posts must not make the server start processes either."""
    warm_up = _idp_initiated(entra, _user(99))
    _sign_in_ok(post_response(client_factory(), warm_up))

    with count_expensive_work() as counts:
        replayed = post_response(client_factory(), warm_up)
        garbage = post_response(client_factory(), "PHNhbWxwOlJlc3BvbnNlLz4=")

    assert replayed.status_code >= 400
    assert garbage.status_code >= 400
    assert counts == Counter()


def test_the_spies_catch_what_stock_pysaml2_does(entra, stored_metadata):
    """Positive control: a verification through the xmlsec1 program (what stock pysaml2
    does for every signature) trips the subprocess and tempfile spies, loading a private
    key trips both key spies, and rebuilding this app's runtime (what a cold worker does
    once) trips the metadata and key spies."""
    from lxml import etree

    from thoropass_sso.saml.xmlsec1 import Xmlsec1Backend

    pair = entra.signing_keys[0]
    signed = etree.fromstring(entra.response_xml(_user(1), acs_url=ACS_URL, audience=SP_ENTITY_ID))
    signature = signed.find(".//{http://www.w3.org/2000/09/xmldsig#}Signature")
    program = Xmlsec1Backend([pair.cert_pem])
    with count_expensive_work() as counts:
        program.prepare(signed)
        program.verify(signature)
        serialization.load_pem_private_key(pair.key_pem, password=None)
        xmlsec.Key.from_memory(pair.key_pem, xmlsec.constants.KeyDataFormatPem, None)
        forget_runtime()
        get_runtime()

    assert counts["subprocesses"] >= 1
    assert counts["temporary files"] >= 1
    assert counts["private key loads"] >= 2
    assert counts["metadata parses"] >= 1
    assert counts["xmlsec key loads"] >= 2  # the private key above + the metadata certificate


def test_sign_in_does_not_need_the_xmlsec1_program(client_factory, entra, stored_metadata):
    """With pysaml2 unable to find xmlsec1 (as on a host without the OS package), the login
    view and the ACS still work: verification is in-process (python-xmlsec)."""
    from saml2.sigver import SigverError, get_xmlsec_binary

    client = client_factory()
    _, request = start_login(client, "/deep/link/", entra)
    saml_response = entra.post_binding_value(response_for(entra, _user(1), request))

    def not_installed(*args, **kwargs):
        raise SigverError("xmlsec1 is not installed on this host")

    with pytest.MonkeyPatch.context() as monkeypatch:
        for module, name in _bindings_of(get_xmlsec_binary):
            monkeypatch.setattr(module, name, not_installed)
        login = client_factory().get("/saml2/login/?next=/x/")
        response = post_response(client, saml_response, request.relay_state)

    assert login.status_code == 302
    assert response.status_code == 302
    assert response["Location"] == "/deep/link/"


@pytest.fixture
def client_factory():
    from django.test import Client

    return Client


def test_a_listed_but_inactive_certificate_costs_no_extra_verification(
        tmp_path, settings, metadata_server, client, db, monkeypatch):
    """Entra lists its next certificate weeks before activation (newest first in our
    order); once a key has verified, it is tried first, so each sign-in is one RSA check."""
    import io

    import xmlsec
    from django.core.management import call_command

    from thoropass_sso.runtime import forget_runtime
    from thoropass_sso.testing import EntraStandIn, EntraUser, make_signing_key_pair
    from thoropass_sso.testing.flows import sign_in
    from thoropass_sso.testing.metadata_server import Reply

    active = make_signing_key_pair(valid_days=365)
    upcoming = make_signing_key_pair(valid_days=3 * 365)  # expires later: listed first
    entra = EntraStandIn(tmp_path, signing_keys=[active, upcoming])  # active_key = 0
    metadata_server.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml()))
    settings.THOROPASS_SSO = {"BASE_URL": "http://testserver", "TENANT_ID": entra.tenant_id,
                              "METADATA_URL": metadata_server.url(entra.metadata_path)}
    forget_runtime()
    call_command("refresh_entra_metadata", stdout=io.StringIO())

    calls: list[int] = []

    class CountingContext(xmlsec.SignatureContext):
        def verify(self, node):
            calls.append(1)
            return super().verify(node)

    monkeypatch.setattr(xmlsec, "SignatureContext", CountingContext)
    user = EntraUser(upn="ada@contoso.example")
    assert sign_in(client, entra, user).status_code == 302
    assert len(calls) == 2  # the upcoming certificate is tried first, once
    calls.clear()
    client.logout()
    assert sign_in(client, entra, user).status_code == 302
    assert len(calls) == 1
