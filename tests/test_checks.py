"""Each system check fires when it should and stays quiet when it should, with a hint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from thoropass_sso.checks import check_configuration
from thoropass_sso.models import Connection
from thoropass_sso.testing import make_signing_key_pair

pytestmark = pytest.mark.django_db


def ids(**kwargs) -> list[str]:
    return sorted(message.id for message in check_configuration(None))


def messages(check_id: str):
    found = [m for m in check_configuration(None) if m.id == check_id]
    for message in found:
        assert message.hint, f"{check_id} has no hint"
    return found


@pytest.fixture
def healthy(sso_settings, stored_metadata):
    """A correctly configured production-like site: https, metadata stored."""
    sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO, "BASE_URL": "https://app.example.com"}
    return sso_settings


def test_a_healthy_site_has_no_findings(healthy):
    assert ids() == []


@pytest.mark.parametrize(("config", "hint_mentions"), [
    ({"BASE_URL": "https://app.example.com", "APP_ID": "x"}, "TENANT_ID"),
    ({"BASE_URL": "https://app.example.com", "TENANT_ID": "00000000-0000-0000-0000-000000000000"},
     "APP_ID"),
    ({"TENANT_ID": "00000000-0000-0000-0000-000000000000", "APP_ID": "x"}, "BASE_URL"),
    ({"BASE_URL": "https://app.example.com", "METADATA_URL": "x", "TYPO": 1}, "docs/settings.md"),
])
def test_e001_configuration_missing_or_invalid(settings, db, config, hint_mentions):
    settings.THOROPASS_SSO = config
    [error] = messages("thoropass_sso.E001")
    assert hint_mentions in error.hint
    assert ids() == ["thoropass_sso.E001"]  # nothing else is checked on a broken configuration


def test_e001_setting_absent(settings, db):
    del settings.THOROPASS_SSO
    assert ids() == ["thoropass_sso.E001"]


def test_e002_backend_missing(healthy):
    healthy.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    [error] = messages("thoropass_sso.E002")
    assert "thoropass_sso.backends.EntraBackend" in error.hint
    assert ids() == ["thoropass_sso.E002"]


@pytest.mark.parametrize("missing", [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
])
def test_e003_middleware_missing(healthy, missing):
    healthy.MIDDLEWARE = [m for m in healthy.MIDDLEWARE if m != missing]
    [error] = messages("thoropass_sso.E003")
    assert missing in error.msg
    assert ids() == ["thoropass_sso.E003"]


@pytest.mark.parametrize("caches", [
    {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
    {"other": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
])
def test_e004_replay_cache_unusable(healthy, caches):
    healthy.CACHES = caches
    assert ids() == []  # the default replay store is the database: no cache involved
    healthy.THOROPASS_SSO = {**healthy.THOROPASS_SSO, "REPLAY_CACHE": "default"}
    messages("thoropass_sso.E004")
    assert ids() == ["thoropass_sso.E004"]


def test_e005_stored_metadata_for_another_tenant(healthy):
    healthy.THOROPASS_SSO = {**healthy.THOROPASS_SSO,
                             "TENANT_ID": "11111111-2222-3333-4444-555555555555"}
    [error] = messages("thoropass_sso.E005")
    assert "11111111-2222-3333-4444-555555555555" in error.msg
    assert ids() == ["thoropass_sso.E005"]


def test_e005_stored_metadata_unreadable(healthy):
    Connection.objects.update(metadata_xml="<not-metadata/>")
    messages("thoropass_sso.E005")
    assert ids() == ["thoropass_sso.E005"]


def test_w001_no_metadata_stored(sso_settings, db):
    sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO, "BASE_URL": "https://app.example.com"}
    [warning] = messages("thoropass_sso.W001")
    assert "refresh_entra_metadata" in warning.hint
    assert ids() == ["thoropass_sso.W001"]


@pytest.mark.parametrize(("valid_days", "start_days_ago", "state"), [
    (40, 20, "expires on"),
    (10, 20, "has expired"),
])
def test_w002_newest_certificate_expiring_or_expired(healthy, entra, valid_days, start_days_ago, state):
    pair = make_signing_key_pair(valid_days=valid_days,
                                 not_before=datetime.now(UTC) - timedelta(days=start_days_ago))
    Connection.objects.update(metadata_xml=entra.metadata_xml(certificates=[pair]).decode())
    [warning] = messages("thoropass_sso.W002")
    assert state in warning.msg
    assert "Rollover runbook" in warning.hint
    assert ids() == ["thoropass_sso.W002"]


def test_w002_quiet_when_an_old_certificate_expires_but_a_new_one_is_listed(
    healthy, entra, signing_key
):
    soon = make_signing_key_pair(valid_days=40, not_before=datetime.now(UTC) - timedelta(days=20))
    Connection.objects.update(
        metadata_xml=entra.metadata_xml(certificates=[soon, signing_key]).decode())
    assert ids() == []


def test_w003_http_base_url_in_production(sso_settings, stored_metadata):
    sso_settings.DEBUG = False
    [warning] = messages("thoropass_sso.W003")
    assert "https" in warning.hint
    assert ids() == ["thoropass_sso.W003"]
    sso_settings.DEBUG = True
    assert ids() == []


def test_w004_sha1_allowed(healthy):
    healthy.THOROPASS_SSO = {**healthy.THOROPASS_SSO, "ALLOW_SHA1": True}
    messages("thoropass_sso.W004")
    assert ids() == ["thoropass_sso.W004"]


def test_w005_idp_initiated_without_shared_cache(healthy):
    healthy.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids() == []  # the default replay store is the database, shared by every process
    healthy.THOROPASS_SSO = {**healthy.THOROPASS_SSO, "REPLAY_CACHE": "default"}
    messages("thoropass_sso.W005")
    assert ids() == ["thoropass_sso.W005"]
    healthy.THOROPASS_SSO = {**healthy.THOROPASS_SSO, "ALLOW_IDP_INITIATED": False}
    assert ids() == []


def test_w006_stored_metadata_not_confirmed_for_a_week(healthy):
    Connection.objects.update(metadata_checked_at=timezone.now() - timedelta(days=8))
    messages("thoropass_sso.W006")
    assert ids() == ["thoropass_sso.W006"]
    Connection.objects.update(metadata_checked_at=timezone.now() - timedelta(days=6))
    assert ids() == []


def test_checks_never_touch_the_network(healthy, metadata_server, entra, monkeypatch):
    # The configured metadata URL is the live local server (healthy's): a check that fetched
    # it would be counted there. Regression (issue 16): the URL used to point at a .invalid
    # host while requests were counted on the local server, so a fetching check passed.
    # Mutation that must fail this: call fetch_metadata(conf.metadata_url, ...) in
    # check_configuration.
    import socket

    assert healthy.THOROPASS_SSO["METADATA_URL"].startswith(metadata_server.base_url)
    requests = len(metadata_server.requests)
    connections: list[object] = []
    real = socket.create_connection
    monkeypatch.setattr(socket, "create_connection",
                        lambda *a, **k: connections.append(a) or real(*a, **k))
    check_configuration(None)
    assert len(metadata_server.requests) == requests
    assert connections == []


def test_manage_py_check_reports_the_ids(sso_settings, db):
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "thoropass_sso.W001" in out.getvalue()
    assert "thoropass_sso.W003" in out.getvalue()


def test_w007_a_culling_replay_cache_is_reported(settings):
    from django.core.checks import run_checks

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                   "LOCATION": "thoropass_sso_test_cache"}}  # MAX_ENTRIES=300
    assert "thoropass_sso.W007" not in {m.id for m in run_checks(tags=["thoropass_sso"])}
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "REPLAY_CACHE": "default"}
    assert "thoropass_sso.W007" in {m.id for m in run_checks(tags=["thoropass_sso"])}
    settings.CACHES = {"default": {**settings.CACHES["default"],
                                   "OPTIONS": {"MAX_ENTRIES": 1_000_000}}}
    assert "thoropass_sso.W007" not in {m.id for m in run_checks(tags=["thoropass_sso"])}
