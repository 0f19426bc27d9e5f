"""Certificate rollover through the real sign-in path, and the request path's cost.

Every signing certificate listed in the metadata is trusted (Entra lists the
next certificate before the admin activates it); a certificate dropped from
the metadata stops being trusted at the next refresh. Responses are really
signed by the stand-in and really verified by the site.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from thoropass_sso.metadata import parse as parse_module
from thoropass_sso.runtime import forget_runtime
from thoropass_sso.signals import sign_in_rejected
from thoropass_sso.testing import EntraStandIn, make_signing_key_pair
from thoropass_sso.testing.commands import refresh
from thoropass_sso.testing.flows import sign_in
from thoropass_sso.testing.metadata_server import Reply

from .conftest import BASE_URL

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def keys():
    return [make_signing_key_pair(), make_signing_key_pair()]


@pytest.fixture
def tenant(tmp_path, keys) -> EntraStandIn:
    """A fresh tenant per test: tests change which key is active."""
    return EntraStandIn(tmp_path, signing_keys=keys)


@pytest.fixture
def publish(settings, tenant, metadata_server):
    """publish(keys) serves metadata listing ``keys`` and points the site at it."""
    settings.THOROPASS_SSO = {
        "BASE_URL": BASE_URL,
        "METADATA_URL": metadata_server.url(tenant.metadata_path),
        "TENANT_ID": tenant.tenant_id,
        # In one process the refresh is seen at once; other processes are
        # covered by test_metadata_propagation.
        "METADATA_RELOAD_INTERVAL": 0,
    }
    forget_runtime()
    cache.clear()

    def _publish(listed) -> None:
        metadata_server.set(tenant.metadata_path.split("?")[0],
                            Reply(body=tenant.metadata_xml(certificates=listed)))
        result = refresh()
        assert result.exit_code == 0, result.output

    yield _publish
    forget_runtime()


@pytest.fixture
def rejections() -> Iterator[list[str]]:
    codes: list[str] = []

    def receiver(sender, reason, **kwargs) -> None:
        codes.append(reason.code)

    sign_in_rejected.connect(receiver)
    yield codes
    sign_in_rejected.disconnect(receiver)


def test_a_response_signed_by_the_second_listed_certificate_signs_in(tenant, keys, ada, publish):
    publish(keys)
    tenant.active_key = 1  # the admin activated the new certificate in Entra
    response = sign_in(Client(), tenant, ada)
    assert response.status_code == 302, response.content.decode()[:300]


def test_after_a_refresh_drops_a_certificate_its_signatures_are_rejected(
    tenant, keys, ada, publish, rejections
):
    publish(keys)
    tenant.active_key = 0
    assert sign_in(Client(), tenant, ada).status_code == 302

    publish([keys[1]])  # rollover finished: Entra no longer lists the old certificate
    response = sign_in(Client(), tenant, ada)
    assert response.status_code == 403
    assert rejections == ["signature_invalid"]

    tenant.active_key = 1
    assert sign_in(Client(), tenant, ada).status_code == 302


def test_the_whole_rollover_with_no_failed_sign_in(tenant, keys, ada, publish, rejections):
    """Old only -> both listed -> new activated -> old removed: every sign-in works."""
    old, new = keys
    publish([old])
    tenant.active_key = 0
    assert sign_in(Client(), tenant, ada).status_code == 302
    publish([old, new])  # Entra lists the new, still inactive, certificate
    assert sign_in(Client(), tenant, ada).status_code == 302
    tenant.active_key = 1  # the admin activates it
    assert sign_in(Client(), tenant, ada).status_code == 302
    publish([new])  # and later deletes the old one
    assert sign_in(Client(), tenant, ada).status_code == 302
    assert rejections == []


@pytest.fixture
def parse_calls(monkeypatch) -> list[int]:
    """Count every parse of a metadata document, wherever it is called from.

    The real parser still runs (this counts, it does not replace anything).
    """
    calls: list[int] = []
    original = parse_module.parse_metadata

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.startswith("thoropass_sso") and getattr(module, "parse_metadata", None) is original:
            monkeypatch.setattr(module, "parse_metadata", counting)
    return calls


@pytest.mark.parametrize("reload_interval", [30, 0])
def test_the_request_path_does_not_reparse_unchanged_metadata(
    entra, ada, settings, stored_metadata, metadata_server, parse_calls, reload_interval
):
    # With interval 0 every request asks the database for the stored hash:
    # still no parse, because the hash has not changed.
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "METADATA_RELOAD_INTERVAL": reload_interval}
    assert sign_in(Client(), entra, ada).status_code == 302  # builds the runtime once
    assert len(parse_calls) == 1
    fetches = len(metadata_server.requests)

    for _ in range(5):
        assert sign_in(Client(), entra, ada).status_code == 302

    assert len(parse_calls) == 1
    assert len(metadata_server.requests) == fetches  # and no network I/O


def test_a_changed_document_is_parsed_once_per_process(
    entra, ada, settings, signing_key, stored_metadata, metadata_server, parse_calls
):
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "METADATA_RELOAD_INTERVAL": 0}
    assert sign_in(Client(), entra, ada).status_code == 302
    metadata_server.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml(
        certificates=[signing_key, make_signing_key_pair()])))
    assert refresh().exit_code == 0
    calls_after_refresh = len(parse_calls)
    for _ in range(3):
        assert sign_in(Client(), entra, ada).status_code == 302
    assert len(parse_calls) == calls_after_refresh + 1
