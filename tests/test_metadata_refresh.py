"""refresh_entra_metadata against a real local HTTP server: the good paths and every fault.

Each fault asserts the exit status, the one line the command printed, and that
the stored copy is exactly as it was (the last good copy survives any failure).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from thoropass_sso.metadata.parse import parse_stored_metadata
from thoropass_sso.models import Connection
from thoropass_sso.testing import make_signing_key_pair
from thoropass_sso.testing.commands import refresh
from thoropass_sso.testing.metadata_server import Reply

pytestmark = pytest.mark.django_db

FETCH_FAILED, INVALID, CHECK_FAILED = 3, 4, 5


@pytest.fixture(scope="module")
def second_key():
    return make_signing_key_pair()


@pytest.fixture
def serve(entra, metadata_server, sso_settings):
    """serve(reply) puts ``reply`` at the configured metadata URL."""
    path = entra.metadata_path.split("?")[0]

    def _serve(reply: Reply | bytes) -> None:
        metadata_server.set(path, reply if isinstance(reply, Reply) else Reply(body=reply))

    return _serve


@pytest.fixture
def configure(sso_settings):
    """configure(KEY=value, ...) adds THOROPASS_SSO keys for one test."""

    def _configure(**extra: object) -> None:
        sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO, **extra}

    return _configure


def snapshot() -> dict[str, object]:
    return Connection.objects.values(
        "metadata_xml", "metadata_sha256", "metadata_checked_at", "metadata_changed_at",
        "tenant_id", "idp_entity_id",
    ).get()


def fp(pair) -> str:
    """The short fingerprint the command prints for a key pair's certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from thoropass_sso.metadata.signature import format_fingerprint

    der = x509.load_pem_x509_certificate(pair.cert_pem).public_bytes(serialization.Encoding.DER)
    return format_fingerprint(der)[:23]


# -- good paths -----------------------------------------------------------------

def test_first_fetch_stores_and_names_the_certificates(entra, signing_key, sso_settings):
    result = refresh()
    assert result.exit_code == 0
    assert re.fullmatch(
        rf"stored Entra metadata for default: {re.escape(entra.issuer)}, signing certificates "
        rf"{re.escape(fp(signing_key))} \(expires \d{{4}}-\d\d-\d\d\)",
        result.output,
    ), result.output
    stored = snapshot()
    assert stored["idp_entity_id"] == entra.issuer
    assert stored["tenant_id"] == entra.tenant_id


def test_unchanged_refresh_keeps_the_document_and_confirms_it(entra, serve, stored_metadata):
    before = snapshot()
    # Entra re-issues the document (new ID) without changing what matters.
    serve(entra.metadata_xml())
    result = refresh()
    assert result.exit_code == 0
    assert result.output.startswith("Entra metadata for default unchanged: signing certificates ")
    after = snapshot()
    assert after["metadata_xml"] == before["metadata_xml"]
    assert after["metadata_changed_at"] == before["metadata_changed_at"]
    assert after["metadata_checked_at"] > before["metadata_checked_at"]


def test_leading_byte_order_mark_is_accepted(entra, serve, sso_settings):
    serve(b"\xef\xbb\xbf" + entra.metadata_xml())
    result = refresh()
    assert result.exit_code == 0, result.output
    assert not snapshot()["metadata_xml"].startswith("\ufeff")


def test_certificate_added(entra, signing_key, second_key, serve, stored_metadata):
    serve(entra.metadata_xml(certificates=[signing_key, second_key]))
    result = refresh()
    assert result.exit_code == 0
    assert re.fullmatch(
        rf"updated Entra metadata for default: added {re.escape(fp(second_key))} "
        r"\(expires \d{4}-\d\d-\d\d\); now trusting 2 signing certificates",
        result.output,
    ), result.output
    assert len(parse_stored_metadata(snapshot()["metadata_xml"]).signing_certificates) == 2


def test_certificate_removed(entra, signing_key, second_key, serve, sso_settings):
    serve(entra.metadata_xml(certificates=[signing_key, second_key]))
    assert refresh().exit_code == 0
    serve(entra.metadata_xml(certificates=[second_key]))
    result = refresh()
    assert result.exit_code == 0
    assert re.fullmatch(
        rf"updated Entra metadata for default: removed {re.escape(fp(signing_key))} "
        r"\(expires \d{4}-\d\d-\d\d\); now trusting 1 signing certificate",
        result.output,
    ), result.output


def test_successful_refresh_warns_when_the_newest_certificate_expires_soon(entra, serve, sso_settings):
    short = make_signing_key_pair(valid_days=10)
    serve(entra.metadata_xml(certificates=[short]))
    result = refresh()
    assert result.exit_code == 0
    assert "WARNING: the newest signing certificate expires in 9 days" in result.output


# -- could not fetch (exit 3) ------------------------------------------------------

@pytest.mark.parametrize(("reply", "message"), [
    (Reply(500, b"oops", "text/plain"), r"HTTP 500 from 127\.0\.0\.1:\d+"),
    (Reply(404, b"<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>", "text/html"),
     r"HTTP 404 from 127\.0\.0\.1:\d+"),
    (Reply(200, b"<EntityDescriptor>" + b" " * 4096, truncate_after=100),
     r"the connection to 127\.0\.0\.1:\d+ closed after 100 of 4114 bytes"),
    (Reply(200, b"<" + b"x" * (1024 * 1024)),
     r"the document is larger than THOROPASS_SSO\['METADATA_MAX_BYTES'\] \(65536 bytes\)"),
])
def test_fetch_failures_keep_the_stored_copy(serve, configure, stored_metadata, reply, message):
    configure(METADATA_MAX_BYTES=64 * 1024)
    before = snapshot()
    serve(reply)
    result = refresh()
    assert result.exit_code == FETCH_FAILED
    assert re.fullmatch(
        rf"could not fetch Entra metadata for default: {message}; "
        r"kept the stored copy from \d{4}-\d\d-\d\d \d\d:\d\d UTC",
        result.output,
    ), result.output
    assert snapshot() == before


def test_server_that_accepts_but_never_answers_fails_within_the_read_timeout(
    serve, configure, stored_metadata
):
    # The bound is relative to what waiting would cost (the server answers after 60 s), not
    # an absolute guess of how fast this machine is: a loaded CI host passes it too.
    server_delay = 60.0
    configure(METADATA_READ_TIMEOUT=0.3, METADATA_TIMEOUT=server_delay)
    before = snapshot()
    serve(Reply(delay=server_delay, body=b"<late/>"))
    started = time.monotonic()
    result = refresh()
    assert time.monotonic() - started < server_delay / 4
    assert result.exit_code == FETCH_FAILED
    assert re.fullmatch(r"could not fetch Entra metadata for default: 127\.0\.0\.1:\d+ did not send "
                        r"data within 0\.3 s; kept the stored copy from .* UTC", result.output)
    assert snapshot() == before


def test_slow_drip_is_bounded_by_the_total_timeout(entra, serve, configure, stored_metadata):
    # Each byte arrives well inside the read timeout; only the total deadline stops it.
    document = entra.metadata_xml()
    drip = 0.02
    configure(METADATA_READ_TIMEOUT=1.0, METADATA_TIMEOUT=0.6)
    before = snapshot()
    serve(Reply(body=document, drip_interval=drip))
    started = time.monotonic()
    result = refresh()
    # Relative to the whole drip (tens of seconds), never to this machine's speed.
    assert time.monotonic() - started < len(document) * drip / 4
    assert result.exit_code == FETCH_FAILED
    assert re.fullmatch(r"could not fetch Entra metadata for default: 127\.0\.0\.1:\d+ did not "
                        r"deliver the document within 0\.6 s; kept .*", result.output), result.output
    assert snapshot() == before


def test_connect_timeout(configure, stored_metadata, monkeypatch):
    # A network that drops packets: connect() gets no answer and waits out its timeout.
    # Emulated at the socket call (honouring the timeout it is given) rather than with
    # a TCP-stack trick that behaves differently from one OS to the next.
    import socket

    asked: list[float | None] = []

    def black_hole(address, timeout=None, source_address=None, **kwargs):
        asked.append(timeout)
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", black_hole)
    before = snapshot()
    configure(METADATA_CONNECT_TIMEOUT=0.3, METADATA_TIMEOUT=5.0)
    result = refresh("--url", "http://192.0.2.1:8443/metadata.xml")  # TEST-NET-1
    assert asked == [0.3]  # the connect timeout, not the read or total one
    assert result.exit_code == FETCH_FAILED
    assert re.fullmatch(r"could not fetch Entra metadata for default: could not connect to "
                        r"192\.0\.2\.1:8443 within 0\.3 s; kept .*", result.output), result.output
    assert snapshot() == before


def test_connection_refused_before_anything_is_stored(sso_settings, db):
    from .processes import refused_port

    with refused_port() as port:  # bound, never listening: refused, and nobody can take it
        result = refresh("--url", f"http://127.0.0.1:{port}/metadata.xml")
    assert result.exit_code == FETCH_FAILED
    assert re.fullmatch(rf"could not fetch Entra metadata for default: could not connect to "
                        rf"127\.0\.0\.1:{port}: .*; nothing is stored yet", result.output)
    assert not Connection.objects.exists()


# -- fetched but invalid (exit 4) ----------------------------------------------------

def _other_tenant_metadata(entra) -> bytes:
    return entra.metadata_xml(entity_id="https://sts.windows.net/11111111-2222-3333-4444-555555555555/")


@pytest.mark.parametrize(("document", "message"), [
    (lambda e, k: b"<!DOCTYPE html><html><head><title>Sign in</title></head><body/></html>",
     r"the server sent an HTML page, not metadata \(a sign-in, proxy or error page\?\)"),
    (lambda e, k: b'{"error": "invalid_request"}', r"the document is not XML"),
    (lambda e, k: e.metadata_xml()[:700], r"the document is not well-formed XML \(.*\)"),
    (lambda e, k: _other_tenant_metadata(e),
     r"the metadata is for tenant 11111111-2222-3333-4444-555555555555, but THOROPASS_SSO "
     r"names tenant [0-9a-f-]{36}"),
    (lambda e, k: e.metadata_xml(entity_id="https://idp.example.com/"),
     r"the entity id 'https://idp\.example\.com/' is not an Entra tenant issuer "
     r"\(https://sts\.windows\.net/<tenant-id>/\)"),
    (lambda e, k: e.metadata_xml(certificates=[]),
     r"the IDPSSODescriptor lists no signing certificate"),
    (lambda e, k: e.metadata_xml(certificates=[k]),
     r"every signing certificate in the metadata has expired"),
], ids=["html-200", "json", "truncated-xml", "wrong-tenant", "not-entra", "no-cert", "expired"])
def test_invalid_documents_keep_the_stored_copy(entra, serve, stored_metadata, expired_key,
                                                document, message):
    before = snapshot()
    serve(document(entra, expired_key))
    result = refresh()
    assert result.exit_code == INVALID
    assert re.fullmatch(rf"fetched Entra metadata for default is invalid: {message}; "
                        r"kept the stored copy from .* UTC", result.output), result.output
    assert snapshot() == before


@pytest.fixture(scope="module")
def expired_key():
    return make_signing_key_pair(valid_days=30, not_before=datetime.now(UTC) - timedelta(days=60))


# -- the metadata's own signature ---------------------------------------------------------

@pytest.fixture
def pin(signing_key, configure):
    def _pin(how: str) -> None:
        if how == "certificate":
            configure(METADATA_SIGNING_CERTIFICATE=signing_key.cert_pem.decode())
        else:
            from cryptography import x509
            from cryptography.hazmat.primitives import serialization

            from thoropass_sso.metadata.signature import format_fingerprint

            der = x509.load_pem_x509_certificate(signing_key.cert_pem).public_bytes(
                serialization.Encoding.DER)
            full = format_fingerprint(der).replace(":", "").lower()  # any spelling is accepted
            configure(METADATA_SIGNING_FINGERPRINTS=[full])
    return _pin


@pytest.mark.every_signature_backend  # python-xmlsec, and the xmlsec1 program
@pytest.mark.parametrize("how", ["certificate", "fingerprint"])
def test_pinned_metadata_signature_verifies(entra, signing_key, serve, pin, how, db):
    pin(how)
    serve(entra.metadata_xml(signed_by=signing_key))
    result = refresh()
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"; metadata signature verified ({fp(signing_key)})")


# Both backends: with a pinned certificate the signature is checked (and fails). With only
# fingerprints pinned, an unpinned signer is refused before any backend runs, so that variant
# (the next test) claims no backend coverage: the conftest guard would say nothing was verified.
@pytest.mark.every_signature_backend
@pytest.mark.parametrize("how", ["certificate"])
def test_wrong_metadata_signature_is_refused(entra, signing_key, second_key, serve, pin, how,
                                             stored_metadata):
    pin(how)
    before = snapshot()
    serve(entra.metadata_xml(signed_by=second_key))
    result = refresh()
    assert result.exit_code == INVALID
    expected = rf"the document is signed by certificate {re.escape(fp(second_key))}, which is not pinned"
    assert re.fullmatch(rf"fetched Entra metadata for default is invalid: {expected}; kept .*",
                        result.output), result.output
    assert snapshot() == before


def test_an_unpinned_signer_is_refused_before_any_verification(entra, second_key, serve, pin,
                                                              stored_metadata):
    pin("fingerprint")
    before = snapshot()
    serve(entra.metadata_xml(signed_by=second_key))
    result = refresh()
    assert result.exit_code == INVALID
    assert f"signed by certificate {fp(second_key)}, which is not pinned" in result.output
    assert snapshot() == before


@pytest.mark.every_signature_backend  # python-xmlsec, and the xmlsec1 program
def test_tampered_signed_metadata_is_refused(entra, signing_key, second_key, serve, pin,
                                             stored_metadata):
    pin("fingerprint")
    before = snapshot()
    signed = entra.metadata_xml(signed_by=signing_key)
    # An attacker on the path slips their certificate into a validly signed document.
    tampered = signed.replace(signing_key.cert_b64.encode(), second_key.cert_b64.encode(), 2)
    serve(tampered)
    result = refresh()
    assert result.exit_code == INVALID
    assert "the document's signature does not verify with the pinned certificate" in result.output
    assert snapshot() == before


def test_unsigned_metadata_is_refused_when_pinned(entra, serve, pin, stored_metadata):
    pin("certificate")
    serve(entra.metadata_xml())
    result = refresh()
    assert result.exit_code == INVALID
    assert "the document is not signed, but a metadata signing certificate is pinned" in result.output


def test_bad_fingerprint_setting_is_a_configuration_error(configure, db):
    from thoropass_sso.conf import get_settings
    from thoropass_sso.exceptions import ConfigurationError

    configure(METADATA_SIGNING_FINGERPRINTS=["not-a-fingerprint"])
    with pytest.raises(ConfigurationError, match="METADATA_SIGNING_FINGERPRINTS"):
        get_settings()


# -- --check ---------------------------------------------------------------------------------

def test_check_passes_and_writes_nothing(metadata_server, stored_metadata):
    before, requests = snapshot(), len(metadata_server.requests)
    result = refresh("--check")
    assert result.exit_code == 0
    assert re.fullmatch(r"Entra metadata for default OK: newest signing certificate \S+ "
                        r"\(expires \d{4}-\d\d-\d\d\), confirmed 0\.0 hours ago", result.output)
    assert snapshot() == before
    assert len(metadata_server.requests) == requests  # no network either


def test_check_fails_when_the_newest_certificate_expires_within_n_days(stored_metadata):
    result = refresh("--check", "--expiry-days", "4000")
    assert result.exit_code == CHECK_FAILED
    assert re.fullmatch(r"Entra metadata for default: newest signing certificate \S+ \(expires "
                        r"\d{4}-\d\d-\d\d\) expires within 4000 days", result.output)


def test_check_fails_when_the_stored_copy_is_older_than_m_hours(stored_metadata):
    Connection.objects.update(metadata_checked_at=timezone.now() - timedelta(hours=50))
    assert refresh("--check").exit_code == CHECK_FAILED
    result = refresh("--check", "--max-age-hours", "6")
    assert result.exit_code == CHECK_FAILED
    assert result.output == ("Entra metadata for default: stored copy last confirmed 50 hours ago "
                             "(limit 6 hours): is the refresh job running?")
    assert refresh("--check", "--max-age-hours", "72").exit_code == 0


def test_check_fails_when_nothing_is_stored(sso_settings, db):
    result = refresh("--check")
    assert result.exit_code == CHECK_FAILED
    assert result.output == "no Entra metadata stored for default: run refresh_entra_metadata"


def test_check_reports_expired_stored_certificates(entra, serve, stored_metadata):
    # A copy stored long ago whose only certificate has since expired.
    expired = make_signing_key_pair(valid_days=1, not_before=datetime.now(UTC) - timedelta(days=9))
    Connection.objects.update(metadata_xml=entra.metadata_xml(certificates=[expired]).decode())
    result = refresh("--check")
    assert result.exit_code == CHECK_FAILED
    assert "every signing certificate has expired" in result.output
