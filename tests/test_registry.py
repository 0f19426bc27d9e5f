"""The registry answers "which connection?" from the rows, on a registry of its own.

Each test builds a fresh ``ConnectionRegistry()`` rather than using the process's
``registry``: that one was built when the module was imported, so a test through it
cannot notice a broken constructor, and its cache carries state from other tests.
The connections are real rows (the ``entra_connection add`` command, the real
metadata refresh); the clock is injected, never slept on.
"""

# ruff: noqa: F811 - test functions take the imported fixtures by name

from __future__ import annotations

import pytest

from thoropass_sso import clock, entra
from thoropass_sso.conf import get_settings
from thoropass_sso.exceptions import ConnectionNotFound, MetadataNotStored, SignInRejected
from thoropass_sso.models import Connection, new_revision
from thoropass_sso.reasons import Reason
from thoropass_sso.registry import ConnectionRegistry, SignOnChoice
from thoropass_sso.saml.response import ResponseVerifier

from .tenants import FABRIKAM_DOMAIN, Tenants, fabrikam, two_tenants  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

STRANGER_TENANT = "99999999-8888-7777-6666-555555555555"


class Ticking:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def test_a_new_registry_finds_connections_by_name_issuer_and_counts_them(two_tenants: Tenants):
    # Mutations: any attribute of ConnectionRegistry.__init__ set to None / "" (the lock,
    # the caches, the cached choice or verifier) -> a lookup below raises.
    fresh = ConnectionRegistry()
    assert fresh.for_name().config.name == "default"
    assert fresh.for_name("fabrikam").config.tenant_id == two_tenants.fabrikam.tenant_id
    by_issuer = fresh.for_issuer(entra.issuer_for(two_tenants.fabrikam.tenant_id))
    assert by_issuer.config.name == "fabrikam"
    assert fresh.for_issuer(entra.issuer_for(two_tenants.contoso.tenant_id)).config.name == "default"
    assert fresh.cached_count == 2
    assert fresh.sign_on_choice() == SignOnChoice(count=2, only=None)
    verifier = fresh.verifier()
    assert isinstance(verifier, ResponseVerifier)
    assert fresh.verifier() is verifier  # built once per settings object


def test_a_cached_lookup_is_the_same_connection(two_tenants: Tenants):
    fresh = ConnectionRegistry()
    first = fresh.for_name("fabrikam")
    assert fresh.for_name("fabrikam") is first
    assert fresh.for_issuer(entra.issuer_for(two_tenants.fabrikam.tenant_id)) is first


def test_an_unknown_name_or_issuer_is_not_found(two_tenants: Tenants):
    fresh = ConnectionRegistry()
    with pytest.raises(ConnectionNotFound):
        fresh.for_name("nobody")
    with pytest.raises(SignInRejected) as refused:
        fresh.for_issuer(entra.issuer_for(STRANGER_TENANT))
    assert refused.value.reason is Reason.UNKNOWN_ISSUER
    with pytest.raises(SignInRejected) as refused:
        fresh.for_issuer("https://idp.example/not-entra")
    assert refused.value.reason is Reason.UNKNOWN_ISSUER


def test_only_an_active_connection_with_metadata_counts_for_the_sign_on_url(two_tenants: Tenants):
    # Mutations: dropping .exclude(metadata_sha256="") or its value -> the row without
    # metadata counts; ``only`` naming anything but the one active connection.
    Connection.objects.filter(name="default").update(status=Connection.Status.DISABLED)
    Connection.objects.create(name="no-metadata-yet", status=Connection.Status.ACTIVE)
    assert ConnectionRegistry().sign_on_choice() == SignOnChoice(count=1, only="fabrikam")


def test_the_choice_reads_at_most_two_connections(two_tenants: Tenants):
    # "Several" is all the Sign-on URL needs to know: with ten thousand customers it must
    # not read them all. Mutation: ``[:2]`` -> ``[:3]``.
    Connection.objects.create(name="third", status=Connection.Status.ACTIVE,
                              metadata_sha256="0" * 64, tenant_id=STRANGER_TENANT)
    assert ConnectionRegistry().sign_on_choice() == SignOnChoice(count=2, only=None)


def test_no_active_connection_is_a_choice_of_none(two_tenants: Tenants):
    Connection.objects.update(status=Connection.Status.DISABLED)
    assert ConnectionRegistry().sign_on_choice() == SignOnChoice(count=0, only=None)


def test_the_choice_is_read_again_once_the_reload_interval_has_passed(two_tenants: Tenants):
    # Mutation: ``<`` -> ``<=`` in sign_on_choice's freshness test -> the change below
    # stays unseen at exactly METADATA_RELOAD_INTERVAL.
    ticking = Ticking()
    interval = get_settings().METADATA_RELOAD_INTERVAL
    fresh = ConnectionRegistry()
    with clock.use(monotonic=ticking):
        assert fresh.sign_on_choice().count == 2
        # Another host disables fabrikam (a queryset update: no signal reaches this registry).
        Connection.objects.filter(name="fabrikam").update(status=Connection.Status.DISABLED)
        ticking.value += interval - 0.5
        assert fresh.sign_on_choice().count == 2  # still within the interval: cached
        ticking.value += 0.5
        assert fresh.sign_on_choice() == SignOnChoice(count=1, only="default")


def test_a_connection_is_rechecked_once_the_reload_interval_has_passed(two_tenants: Tenants):
    ticking = Ticking()
    interval = get_settings().METADATA_RELOAD_INTERVAL
    fresh = ConnectionRegistry()
    with clock.use(monotonic=ticking):
        before = fresh.for_name("fabrikam")
        Connection.objects.filter(name="fabrikam").update(
            status=Connection.Status.DISABLED, revision=new_revision())
        ticking.value += interval - 0.5
        assert fresh.for_name("fabrikam") is before
        ticking.value += 0.5
        after = fresh.for_name("fabrikam")
        assert after is not before and not after.config.is_active


# -- "the site is not ready" (503, run the command) vs "a stranger" (unknown_issuer) ---------


@pytest.fixture
def fabrikam_only(sso_settings, db, entra, fabrikam, metadata_server) -> Tenants:
    """Fabrikam added as data; the settings-defined connection never refreshed."""
    sso_settings.THOROPASS_SSO = {
        **sso_settings.THOROPASS_SSO,
        "METADATA_ALLOWED_HOSTS": ["127.0.0.1"],
        "METADATA_ALLOW_HTTP": True,
    }
    tenants = Tenants(contoso=entra, fabrikam=fabrikam, server=metadata_server)
    result = tenants.add("fabrikam", fabrikam, "--domain", FABRIKAM_DOMAIN)
    assert result.exit_code == 0, result.output
    return tenants


def test_the_settings_tenant_before_its_first_refresh_is_not_ready(fabrikam_only: Tenants):
    # Mutations in _not_ready_for: ``and`` -> ``or``, the tenant test dropped or its ""
    # changed -> contoso's first sign-in says "unknown organization" instead of
    # "run refresh_entra_metadata", or a stranger is told the site is not ready.
    fresh = ConnectionRegistry()
    with pytest.raises(MetadataNotStored) as not_ready:
        fresh.for_issuer(entra.issuer_for(fabrikam_only.contoso.tenant_id))
    # The operator's one line, naming the fix (the 503's log line and DEBUG page show it).
    # Mutations: the message's text replaced or re-cased.
    assert str(not_ready.value).startswith("No Entra metadata is stored for this tenant's")
    assert "run 'python manage.py refresh_entra_metadata'" in str(not_ready.value)
    with pytest.raises(SignInRejected) as refused:
        fresh.for_issuer(entra.issuer_for(STRANGER_TENANT))
    assert refused.value.reason is Reason.UNKNOWN_ISSUER
    assert fresh.for_issuer(entra.issuer_for(fabrikam_only.fabrikam.tenant_id)).config.name == (
        "fabrikam")


def test_settings_that_pin_no_tenant_are_not_ready_for_any_tenant(fabrikam_only: Tenants, settings):
    # The metadata URL names no tenant (a proxy, a domain-style URL) and TENANT_ID is unset:
    # until the first refresh pins one, any tenant may be the settings' own.
    settings.THOROPASS_SSO = {
        **settings.THOROPASS_SSO,
        "TENANT_ID": "",
        "METADATA_URL": fabrikam_only.server.url("/proxy/federationmetadata.xml"),
    }
    assert get_settings().tenant_id == ""
    with pytest.raises(MetadataNotStored):
        ConnectionRegistry().for_issuer(entra.issuer_for(STRANGER_TENANT))


def test_a_site_whose_connections_have_no_metadata_is_not_ready(sso_settings, db, settings):
    # No settings-defined connection, one row that was never refreshed: the operator, not
    # the sender, has something to do.
    # Mutation: ``not`` dropped before ``...exists()`` -> unknown_issuer (a stranger's answer).
    settings.THOROPASS_SSO = {
        key: value for key, value in settings.THOROPASS_SSO.items()
        if key not in ("METADATA_URL", "TENANT_ID")
    }
    assert not get_settings().defines_connection
    Connection.objects.create(name="pending", status=Connection.Status.ACTIVE,
                              tenant_id=STRANGER_TENANT)
    with pytest.raises(MetadataNotStored):
        ConnectionRegistry().for_issuer(entra.issuer_for(STRANGER_TENANT))


def test_the_cache_holds_at_most_its_size_and_drops_the_least_recently_used(
        two_tenants: Tenants, settings, tmp_path):
    # Mutations: ``>`` -> ``>=`` in the eviction loop (one fewer held); the recency update
    # inverted (the connection just used is the one dropped).
    from thoropass_sso.testing import EntraStandIn

    assert two_tenants.add("third", EntraStandIn(tmp_path)).exit_code == 0
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "CONNECTION_CACHE_SIZE": 2}
    fresh = ConnectionRegistry()
    default = fresh.for_name("default")
    fabrikam = fresh.for_name("fabrikam")
    assert fresh.cached_count == 2
    assert fresh.for_name("default") is default  # now the most recently used
    fresh.for_name("third")  # makes room by dropping the least recently used: fabrikam
    assert fresh.cached_count == 2
    assert fresh.for_name("default") is default
    assert fresh.for_name("fabrikam") is not fabrikam  # rebuilt: it had been dropped
