"""Issue 11: many customer tenants in one site, through the real SAML path.

Contoso is the settings-defined connection ``default``; Fabrikam is added as data
by the real ``entra_connection add`` command (tests/tenants.py). The cross-tenant
forgeries are in test_hostile_cross_tenant.py; this module is what a working
multi-customer site does: both sign in both ways through one ACS, each with its
own policy, single logout to the right tenant, live changes without restart, and
the operator's commands.
"""

# ruff: noqa: F811 - test functions take the imported fixtures by name

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from thoropass_sso import clock
from thoropass_sso.checks import check_configuration
from thoropass_sso.models import Connection, ConnectionEvent, EntraIdentity, new_revision
from thoropass_sso.registry import registry
from thoropass_sso.slo import SESSION_KEY
from thoropass_sso.testing import EntraStandIn, EntraUser, make_signing_key_pair
from thoropass_sso.testing.commands import refresh, run_command
from thoropass_sso.testing.flows import idp_initiated, sign_in, start_login
from thoropass_sso.testing.metadata_server import Reply

from .conftest import ACS_URL, BASE_URL, SP_ENTITY_ID
from .tenants import FABRIKAM_DOMAIN, Tenants, fabrikam, two_tenants  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

ADA = EntraUser(upn="ada@contoso.example", given_name="Ada", email="ada@contoso.example")
NESTOR = EntraUser(upn="nestor@fabrikam.example", given_name="Nestor",
                   email="nestor@fabrikam.example")


def identity_of(client) -> EntraIdentity:
    user = client.get("/home/").wsgi_request.user
    assert user.is_authenticated
    return EntraIdentity.objects.select_related("connection").get(user=user)


def reason_of(response) -> str:
    return response.content.decode().split('data-reason="')[1].split('"')[0]


# -- signing in ----------------------------------------------------------------------

def test_two_tenants_sign_in_through_one_acs_both_ways_each_as_itself(two_tenants: Tenants):
    contoso, fabrikam_ = two_tenants.contoso, two_tenants.fabrikam
    # SP-initiated, each to its own tenant: the AuthnRequests carry the same Issuer and ACS.
    to_contoso, contoso_request = start_login(Client(), None, contoso, connection="default")
    to_fabrikam, fabrikam_request = start_login(Client(), None, fabrikam_, connection="fabrikam")
    assert to_contoso["Location"].startswith(f"{contoso.sso_url}?")
    assert to_fabrikam["Location"].startswith(f"{fabrikam_.sso_url}?")
    assert (contoso_request.issuer, contoso_request.acs_url) == (SP_ENTITY_ID, ACS_URL)
    assert (fabrikam_request.issuer, fabrikam_request.acs_url) == (SP_ENTITY_ID, ACS_URL)

    for standin, user, name in ((contoso, ADA, "default"), (fabrikam_, NESTOR, "fabrikam")):
        sp = Client()
        assert sign_in(sp, standin, user, connection=name, next_path="/deep/link/")["Location"] \
            == "/deep/link/"
        identity = identity_of(sp)
        assert (identity.connection.name, identity.tenant_id, identity.upn) == (
            name, standin.tenant_id, user.upn)
        idp = Client()
        launched = idp_initiated(idp, standin, user, acs_url=ACS_URL, audience=SP_ENTITY_ID,
                                 relay_state="/deep/link/")
        assert launched["Location"] == "/deep/link/"
        assert identity_of(idp).pk == identity.pk  # the same user both ways
    assert get_user_model().objects.count() == 2


def test_the_same_upn_and_object_id_in_two_tenants_are_two_users(two_tenants: Tenants):
    twin = EntraUser(upn=ADA.upn, given_name="Not", email=ADA.email, object_id=ADA.object_id)
    first, second = Client(), Client()
    assert sign_in(first, two_tenants.contoso, ADA, connection="default").status_code == 302
    assert sign_in(second, two_tenants.fabrikam, twin, connection="fabrikam").status_code == 302
    ada_user, twin_user = identity_of(first).user, identity_of(second).user
    assert ada_user.pk != twin_user.pk
    assert twin_user.first_name == "Not"
    assert ada_user.username != twin_user.username  # the UPN is display only, never a key
    ada_user.refresh_from_db()
    assert ada_user.first_name == "Ada"  # the other tenant's sign-in changed nothing of Ada's
    # Nor does the twin's next sign-in, under a new UPN. Mutation: the identity UPDATE in
    # EntraBackend._returning_user filtered without tenant_id -> Ada's UPN becomes the twin's.
    renamed = dataclasses.replace(twin, upn="renamed@fabrikam.example")
    assert sign_in(Client(), two_tenants.fabrikam, renamed, connection="fabrikam").status_code == 302
    assert EntraIdentity.objects.get(user=ada_user).upn == ADA.upn
    assert EntraIdentity.objects.get(user=twin_user).upn == "renamed@fabrikam.example"


def test_the_sign_on_url_asks_when_several_connections_are_active(two_tenants: Tenants):
    page = Client().get("/saml2/login/?next=/deep/link/")
    assert page.status_code == 200
    assert b'name="email"' in page.content and b"/deep/link/" in page.content
    # Disable one: with one active connection the Sign-on URL goes straight there, as before.
    assert run_command("entra_connection", "disable", "fabrikam").exit_code == 0
    direct = Client().get("/saml2/login/")
    assert direct.status_code == 302
    assert direct["Location"].startswith(f"{two_tenants.contoso.sso_url}?")


def test_each_connection_has_its_own_policy(two_tenants: Tenants, settings):
    engineering = "0c8b2a55-0f1e-4a8a-9c55-2b1f6f2a7e10"
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "GROUP_MAP": {engineering: "Contoso Eng"}}
    result = run_command("entra_connection", "set", "fabrikam",
                         f'group_map={{"{engineering}": "Fabrikam Eng"}}', "landing_path=/deep/link/",
                         "staff_roles=[\"Admin\"]")
    assert result.exit_code == 0, result.output
    member = EntraUser(upn="m@contoso.example", groups=[engineering], roles=["Admin"])
    contoso_client, fabrikam_client = Client(), Client()
    assert sign_in(contoso_client, two_tenants.contoso, member,
                   connection="default")["Location"] == "/home/"
    fabrikam_member = EntraUser(upn="m@fabrikam.example", groups=[engineering], roles=["Admin"])
    assert sign_in(fabrikam_client, two_tenants.fabrikam, fabrikam_member,
                   connection="fabrikam")["Location"] == "/deep/link/"
    contoso_user = identity_of(contoso_client).user
    fabrikam_user = identity_of(fabrikam_client).user
    assert list(contoso_user.groups.values_list("name", flat=True)) == ["Contoso Eng"]
    assert list(fabrikam_user.groups.values_list("name", flat=True)) == ["Fabrikam Eng"]
    assert (contoso_user.is_staff, fabrikam_user.is_staff) == (False, True)

    # Fabrikam stops creating users; Contoso keeps creating them.
    assert run_command("entra_connection", "set", "fabrikam", "create_users=false").exit_code == 0
    newcomer = EntraUser(upn="new@fabrikam.example")
    refused = sign_in(Client(), two_tenants.fabrikam, newcomer, connection="fabrikam")
    assert (refused.status_code, reason_of(refused)) == (403, "unknown_user")
    assert sign_in(Client(), two_tenants.contoso, EntraUser(upn="new@contoso.example"),
                   connection="default").status_code == 302


def test_a_bad_policy_value_is_refused_and_changes_nothing(two_tenants: Tenants):
    before = Connection.objects.get(name="fabrikam").revision
    result = run_command("entra_connection", "set", "fabrikam", 'group_map=["not", "a", "map"]')
    assert result.exit_code == 1 and "group_map" in result.output
    assert Connection.objects.get(name="fabrikam").revision == before


# -- single logout ------------------------------------------------------------------

def test_single_logout_goes_to_the_tenant_the_session_signed_in_with(two_tenants: Tenants):
    client = Client()
    assert sign_in(client, two_tenants.fabrikam, NESTOR, connection="fabrikam").status_code == 302
    assert client.session[SESSION_KEY]["connection"] == "fabrikam"
    response = client.post("/saml2/logout/")
    assert response["Location"].startswith(f"{two_tenants.fabrikam.sso_url}?SAMLRequest=")
    request = two_tenants.fabrikam.read_logout_message(response["Location"])
    answer = two_tenants.fabrikam.logout_response_url(f"{BASE_URL}/saml2/logout/",
                                                      in_response_to=request.id)
    done = client.get(answer.replace(BASE_URL, ""))
    assert done.status_code == 302 and done["Location"] == "/"


def test_a_logout_request_from_another_tenant_keeps_the_session(two_tenants: Tenants):
    client = Client()
    assert sign_in(client, two_tenants.contoso, ADA, connection="default").status_code == 302
    # Fabrikam, validly signed, asks to end "the" session: it is not Fabrikam's.
    foreign = two_tenants.fabrikam.logout_request_url(f"{BASE_URL}/saml2/logout/",
                                                      name_id=ADA.upn)
    answered = client.get(foreign.replace(BASE_URL, ""))
    assert answered.status_code == 302
    assert answered["Location"].startswith(f"{two_tenants.fabrikam.sso_url}?SAMLResponse=")
    assert client.get("/home/").wsgi_request.user.is_authenticated
    # Control: Contoso's own request ends it.
    own = two_tenants.contoso.logout_request_url(f"{BASE_URL}/saml2/logout/", name_id=ADA.upn)
    assert client.get(own.replace(BASE_URL, "")).status_code == 302
    assert not client.get("/home/").wsgi_request.user.is_authenticated


# -- live changes -----------------------------------------------------------------------

class Monotonic:
    """A clock this test moves by hand, instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_changes_made_on_another_host_reach_this_worker_within_the_reload_interval(
        two_tenants: Tenants, settings, tmp_path):
    interval = settings.THOROPASS_SSO.get("METADATA_RELOAD_INTERVAL", 30)
    ticks = Monotonic()

    def launch() -> int:
        return idp_initiated(Client(), two_tenants.fabrikam, NESTOR, acs_url=ACS_URL,
                             audience=SP_ENTITY_ID).status_code

    def elsewhere(**fields) -> None:
        # What another host's admin or command does: the row changes, no signal reaches us.
        Connection.objects.filter(name="fabrikam").update(revision=new_revision(), **fields)

    with clock.use(monotonic=ticks):
        registry.forget()
        assert launch() == 302  # cached from here on
        elsewhere(status=Connection.Status.DISABLED)
        ticks.now += interval - 1
        assert launch() == 302  # not yet re-checked: within the interval, as documented
        ticks.now += 2
        assert launch() == 403  # re-checked: disabled
        elsewhere(status=Connection.Status.ACTIVE)
        ticks.now += interval + 1
        assert launch() == 302  # re-enabled, no restart
        # A refresh elsewhere that rolls the key over: the new key verifies, the old one no more.
        rolled = EntraStandIn(tmp_path, tenant_id=two_tenants.fabrikam.tenant_id,
                              app_id=two_tenants.fabrikam.app_id,
                              signing_keys=[make_signing_key_pair()])
        elsewhere(metadata_xml=rolled.metadata_xml().decode(), metadata_sha256="changed-elsewhere")
        ticks.now += interval + 1
        assert launch() == 403
        assert idp_initiated(Client(), rolled, NESTOR, acs_url=ACS_URL,
                             audience=SP_ENTITY_ID).status_code == 302
    # One primary-key query per interval per connection, never a metadata parse per request.
    assert registry.cached_count <= 2


def test_a_change_in_this_process_is_seen_at_once(two_tenants: Tenants):
    assert idp_initiated(Client(), two_tenants.fabrikam, NESTOR, acs_url=ACS_URL,
                         audience=SP_ENTITY_ID).status_code == 302
    assert run_command("entra_connection", "disable", "fabrikam").exit_code == 0
    refused = idp_initiated(Client(), two_tenants.fabrikam, NESTOR, acs_url=ACS_URL,
                            audience=SP_ENTITY_ID)
    assert (refused.status_code, reason_of(refused)) == (403, "connection_disabled")


# -- operating: the commands ---------------------------------------------------------------

def test_list_and_show_report_each_connection_in_one_line(two_tenants: Tenants):
    assert sign_in(Client(), two_tenants.fabrikam, NESTOR, connection="fabrikam").status_code == 302
    listing = run_command("entra_connection", "list")
    assert listing.exit_code == 0
    assert len(listing.lines) == 2
    line = next(line for line in listing.lines if line.startswith("fabrikam:"))
    assert f"tenant {two_tenants.fabrikam.tenant_id}" in line and FABRIKAM_DOMAIN in line
    assert "1 user" in line and "active" in line
    rows = json.loads(run_command("entra_connection", "list", "--json").output)
    assert {r["name"] for r in rows} == {"default", "fabrikam"}
    shown = json.loads(run_command("entra_connection", "show", "fabrikam", "--json").output)
    assert shown["domains"] == [FABRIKAM_DOMAIN] and shown["users"] == 1
    assert shown["events"] and "added by command:" in shown["events"][-1]
    assert "metadata_xml" not in shown and "EntityDescriptor" not in json.dumps(shown)


def test_disable_enable_and_the_audit_trail(two_tenants: Tenants):
    assert run_command("entra_connection", "disable", "fabrikam").output == "disabled connection fabrikam"
    again = run_command("entra_connection", "disable", "fabrikam")
    assert (again.exit_code, again.output) == (0, "connection fabrikam was already disabled")
    assert run_command("entra_connection", "enable", "fabrikam").output == "enabled connection fabrikam"
    actions = list(ConnectionEvent.objects.filter(connection_name="fabrikam")
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["added", "disabled", "enabled"]
    assert all(e.actor.startswith("command:") for e in ConnectionEvent.objects.all())


def test_removing_a_connection_with_users_is_refused_and_keeps_them(two_tenants: Tenants, tmp_path):
    assert sign_in(Client(), two_tenants.fabrikam, NESTOR, connection="fabrikam").status_code == 302
    refused = run_command("entra_connection", "remove", "fabrikam")
    assert refused.exit_code == 1
    assert "1 user" in refused.output and "disable it instead" in refused.output
    assert Connection.objects.filter(name="fabrikam").exists()
    assert EntraIdentity.objects.filter(connection__name="fabrikam").count() == 1
    # Without users it goes; its audit trail stays.
    assert two_tenants.add("spare", EntraStandIn(tmp_path)).exit_code == 0
    assert run_command("entra_connection", "remove", "spare").output == "removed connection spare"
    assert not Connection.objects.filter(name="spare").exists()
    assert ConnectionEvent.objects.filter(connection_name="spare", action="removed").exists()


@pytest.mark.parametrize(("url", "complaint"), [
    ("https://evil.example/{tenant}/federationmetadata/2007-06/federationmetadata.xml",
     "not one of Entra's metadata hosts"),
    ("https://login.microsoftonline.com/<tenant-id>/federationmetadata/2007-06/"
     "federationmetadata.xml?appid=<app-id>", "placeholder"),
    ("ftp://login.microsoftonline.com/x", "not an https:// URL"),
])
def test_a_metadata_url_outside_entra_is_refused(two_tenants: Tenants, url: str, complaint: str):
    result = run_command("entra_connection", "add", "mallory", "--metadata-url",
                         url.format(tenant=two_tenants.fabrikam.tenant_id))
    assert result.exit_code == 4 and complaint in result.output
    assert not Connection.objects.filter(name="mallory").exists()


def test_http_is_refused_unless_the_site_allows_it(two_tenants: Tenants, settings, tmp_path):
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "METADATA_ALLOW_HTTP": False}
    result = two_tenants.add("plain", EntraStandIn(tmp_path))
    assert result.exit_code == 4 and "https" in result.output


@pytest.mark.parametrize(("domain", "complaint"), [
    ("outlook.com", "consumer mail domain"),
    (FABRIKAM_DOMAIN, "already belongs to connection 'fabrikam'"),
    ("contoso.example", "belongs to the settings-defined connection"),
    ("not a domain", "not a domain name"),
])
def test_a_domain_belongs_to_one_connection_and_never_to_a_mail_provider(
        two_tenants: Tenants, tmp_path, domain: str, complaint: str):
    result = two_tenants.add("other", EntraStandIn(tmp_path), "--domain", domain)
    assert result.exit_code == 1 and complaint in result.output
    assert not Connection.objects.filter(name="other").exists()


def test_one_connection_per_tenant(two_tenants: Tenants):
    result = two_tenants.add("fabrikam-again", two_tenants.fabrikam)
    assert result.exit_code == 1 and "already has a connection, 'fabrikam'" in result.output


def test_refresh_covers_every_connection_and_reports_each(two_tenants: Tenants):
    result = refresh()
    assert result.exit_code == 0
    assert [line.split(" for ")[1].split()[0].rstrip(":") for line in result.lines] == [
        "default", "fabrikam"]
    only = refresh("--connection", "fabrikam")
    assert only.exit_code == 0 and only.lines == [
        next(line for line in result.lines if "for fabrikam" in line)]


def test_one_failing_connection_does_not_stop_the_others(two_tenants: Tenants, capsys):
    path = two_tenants.fabrikam.metadata_path.split("?")[0]
    two_tenants.server.set(path, Reply(status=500, body=b"oops", content_type="text/plain"))
    try:
        result = refresh()
    finally:
        two_tenants.server.set(path, Reply(body=two_tenants.fabrikam.metadata_xml()))
    assert result.exit_code == 3
    assert result.output == "1 of 2 connections need care"
    fabrikam_row = Connection.objects.get(name="fabrikam")
    assert "HTTP 500" in fabrikam_row.last_error and fabrikam_row.has_metadata
    assert Connection.objects.get(name="default").metadata_checked_at > fabrikam_row.last_error_at \
        - timedelta(minutes=1)


def test_a_refresh_never_changes_a_connections_tenant(two_tenants: Tenants, tmp_path):
    # A proxy (or a domain-style URL) names no tenant id: only the pin catches a switch.
    first, second = EntraStandIn(tmp_path / "a"), EntraStandIn(tmp_path / "b")
    two_tenants.server.set("/proxy/metadata.xml", Reply(body=first.metadata_xml()))
    added = run_command("entra_connection", "add", "proxied", "--metadata-url",
                        two_tenants.server.url("/proxy/metadata.xml"))
    assert added.exit_code == 0, added.output
    two_tenants.server.set("/proxy/metadata.xml", Reply(body=second.metadata_xml()))
    result = refresh("--connection", "proxied")
    assert result.exit_code == 4
    assert first.tenant_id in result.output and second.tenant_id in result.output
    assert "--repin" in result.output
    assert Connection.objects.get(name="proxied").tenant_id == first.tenant_id
    # The operator, knowing the customer moved tenants, says so.
    repinned = refresh("--connection", "proxied", "--repin")
    assert repinned.exit_code == 0, repinned.output
    assert Connection.objects.get(name="proxied").tenant_id == second.tenant_id
    assert ConnectionEvent.objects.filter(connection_name="proxied", action="re-pinned").exists()


def test_a_url_naming_a_tenant_must_serve_that_tenant(two_tenants: Tenants, tmp_path):
    impostor = EntraStandIn(tmp_path)
    path = two_tenants.fabrikam.metadata_path.split("?")[0]
    two_tenants.server.set(path, Reply(body=impostor.metadata_xml()))
    try:
        result = refresh("--connection", "fabrikam")
    finally:
        two_tenants.server.set(path, Reply(body=two_tenants.fabrikam.metadata_xml()))
    assert result.exit_code == 4 and "the URL names tenant" in result.output
    assert Connection.objects.get(name="fabrikam").tenant_id == two_tenants.fabrikam.tenant_id


# -- operating: checks -------------------------------------------------------------------

def test_checks_report_each_connection_from_its_columns(two_tenants: Tenants, settings):
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "BASE_URL": "https://app.example.com"}
    assert [m.id for m in check_configuration(None)] == []
    now = timezone.now()
    Connection.objects.filter(name="fabrikam").update(
        certificates_expire_at=now + timedelta(days=5),
        metadata_checked_at=now - timedelta(days=9), last_error="HTTP 503 from login.example")
    found = {m.id: m for m in check_configuration(None)}
    assert set(found) == {"thoropass_sso.W002", "thoropass_sso.W006"}
    assert "'fabrikam'" in found["thoropass_sso.W002"].msg
    assert "HTTP 503" in found["thoropass_sso.W006"].msg


def test_the_login_hint_and_the_connection_travel_together(two_tenants: Tenants):
    response = Client().get("/saml2/login/?connection=fabrikam&login_hint=nestor%40fabrikam.example")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["login_hint"] == ["nestor@fabrikam.example"]
