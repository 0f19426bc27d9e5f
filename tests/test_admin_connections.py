"""Issues 11 and 12: operating connections in the Django admin -- onboarding a customer from a
pasted metadata URL, refreshing, pausing, the audit trail, and the test sign-in of a draft.

The admin user is signed in with ``force_login``: what these tests exercise is the
admin and the customer's connection, not the admin's own sign-in. The test sign-in
itself goes through the real SAML path (a real AuthnRequest, a really signed response,
the real ACS).
"""

# ruff: noqa: F811 - test functions take the imported fixtures by name

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from thoropass_sso.models import Connection, ConnectionEvent, EntraIdentity
from thoropass_sso.testing import EntraStandIn, EntraUser
from thoropass_sso.testing.flows import idp_initiated, post_response, sign_in
from thoropass_sso.testing.metadata_server import Reply

from .conftest import ACS_URL, SP_ENTITY_ID
from .tenants import FABRIKAM_DOMAIN, Tenants, fabrikam, two_tenants  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/thoropass_sso/connection/add/"


@pytest.fixture
def boss(two_tenants: Tenants):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", "x")


@pytest.fixture
def admin_client(boss) -> Client:
    client = Client()
    client.force_login(boss)
    return client


def change_url(name: str) -> str:
    return f"/admin/thoropass_sso/connection/{Connection.objects.get(name=name).pk}/change/"


def serve(tenants: Tenants, standin: EntraStandIn) -> str:
    tenants.server.set(standin.metadata_path.split("?")[0], Reply(body=standin.metadata_xml()))
    return tenants.server.url(standin.metadata_path)


def test_pasting_the_metadata_url_creates_a_draft_with_tenant_and_certificates(
        admin_client, boss, two_tenants: Tenants, tmp_path):
    northwind = EntraStandIn(tmp_path)
    page = admin_client.get(ADD_URL)
    assert page.status_code == 200 and b'value="draft" selected' in page.content
    response = admin_client.post(ADD_URL, {
        "name": "northwind", "display_name": "Northwind Traders",
        "metadata_url": serve(two_tenants, northwind), "domains": "northwind.example, nw.example",
        "status": "draft"})
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = Connection.objects.get(name="northwind")
    assert (connection.status, connection.tenant_id) == ("draft", northwind.tenant_id)
    assert connection.has_metadata and connection.certificates_expire_at is not None
    assert sorted(connection.domains.values_list("domain", flat=True)) == [
        "northwind.example", "nw.example"]
    detail = admin_client.get(change_url("northwind")).content.decode()
    assert northwind.tenant_id in detail and "expires" in detail and "Test sign-in" in detail
    event = ConnectionEvent.objects.get(connection_name="northwind")
    assert (event.action, event.actor) == ("added", f"user:{boss.pk} boss")


@pytest.mark.parametrize(("url", "complaint"), [
    ("https://evil.example/metadata.xml", "not one of Entra&#x27;s metadata hosts"),
    ("{served_elsewhere}", "HTTP 404"),
])
def test_a_bad_metadata_url_is_a_form_error_and_creates_nothing(
        admin_client, two_tenants: Tenants, url: str, complaint: str):
    url = url.format(served_elsewhere=two_tenants.server.url("/nothing-here.xml"))
    response = admin_client.post(ADD_URL, {"name": "bad", "metadata_url": url, "status": "draft"})
    assert response.status_code == 200
    assert complaint in response.content.decode()
    assert not Connection.objects.filter(name="bad").exists()


def test_a_claimed_or_consumer_domain_is_a_form_error(admin_client, two_tenants: Tenants, tmp_path):
    for domains, complaint in ((FABRIKAM_DOMAIN, "already belongs to connection"),
                               ("gmail.com", "consumer mail domain")):
        response = admin_client.post(ADD_URL, {
            "name": "other", "metadata_url": serve(two_tenants, EntraStandIn(tmp_path)),
            "domains": domains, "status": "active"})
        assert response.status_code == 200 and complaint in response.content.decode()
    assert not Connection.objects.filter(name="other").exists()


def test_refresh_now_shows_the_outcome_and_a_failure_is_visible(admin_client, two_tenants: Tenants):
    pk = Connection.objects.get(name="fabrikam").pk
    done = admin_client.post("/admin/thoropass_sso/connection/", {
        "action": "refresh_now", "_selected_action": [pk]}, follow=True)
    assert "abrikam: metadata unchanged." in done.content.decode()  # the admin capitalizes
    path = two_tenants.fabrikam.metadata_path.split("?")[0]
    two_tenants.server.set(path, Reply(status=503, body=b"busy", content_type="text/plain"))
    try:
        failed = admin_client.post("/admin/thoropass_sso/connection/", {
            "action": "refresh_now", "_selected_action": [pk]}, follow=True)
    finally:
        two_tenants.server.set(path, Reply(body=two_tenants.fabrikam.metadata_xml()))
    assert "refresh failed" in failed.content.decode() and "HTTP 503" in failed.content.decode()
    assert "HTTP 503" in admin_client.get(change_url("fabrikam")).content.decode()


def test_disable_from_the_list_is_audited(admin_client, boss, two_tenants: Tenants):
    pk = Connection.objects.get(name="fabrikam").pk
    admin_client.post("/admin/thoropass_sso/connection/", {
        "action": "disable", "_selected_action": [pk]})
    assert Connection.objects.get(pk=pk).status == "disabled"
    refused = idp_initiated(Client(), two_tenants.fabrikam, EntraUser(upn="n@fabrikam.example"),
                            acs_url=ACS_URL, audience=SP_ENTITY_ID)
    assert refused.status_code == 403
    actions = list(ConnectionEvent.objects.filter(connection_name="fabrikam")
                   .order_by("pk").values_list("action", "actor"))
    assert actions[-1] == ("disabled", f"user:{boss.pk} boss")


def test_each_connection_lists_its_identities_and_one_with_users_cannot_be_deleted(
        admin_client, two_tenants: Tenants):
    nestor = EntraUser(upn="nestor@fabrikam.example")
    assert sign_in(Client(), two_tenants.fabrikam, nestor, connection="fabrikam").status_code == 302
    detail = admin_client.get(change_url("fabrikam")).content.decode()
    link = re.search(r'href="(/admin/thoropass_sso/entraidentity/\?connection__id__exact=\d+)"',
                     detail).group(1)
    listing = admin_client.get(link).content.decode()
    assert nestor.upn in listing
    pk = Connection.objects.get(name="fabrikam").pk
    assert admin_client.post(f"/admin/thoropass_sso/connection/{pk}/delete/",
                             {"post": "yes"}).status_code == 403
    assert EntraIdentity.objects.filter(connection_id=pk).exists()


# -- the test sign-in (issue 12) ----------------------------------------------------------

@pytest.fixture
def draft(admin_client, two_tenants: Tenants, tmp_path) -> EntraStandIn:
    northwind = EntraStandIn(tmp_path)
    response = admin_client.post(ADD_URL, {"name": "northwind", "status": "draft",
                                           "metadata_url": serve(two_tenants, northwind),
                                           "domains": "northwind.example"})
    assert response.status_code == 302
    return northwind


def run_test_sign_in(client: Client, standin: EntraStandIn, user: EntraUser):
    pk = Connection.objects.get(tenant_id=standin.tenant_id).pk
    start = client.get(f"/admin/thoropass_sso/connection/{pk}/test/")
    assert start.status_code == 200 and b"Start the test sign-in" in start.content
    to_entra = client.post(f"/admin/thoropass_sso/connection/{pk}/test/")
    assert to_entra.status_code == 302 and to_entra["Location"].startswith(standin.sso_url)
    request = standin.read_authn_request(to_entra["Location"])
    xml = standin.response_xml(user, acs_url=request.acs_url, audience=request.issuer,
                               in_response_to=request.id)
    return xml, post_response(client, standin.post_binding_value(xml))


def test_a_test_sign_in_shows_what_arrived_and_changes_nothing(admin_client, draft, boss):
    person = EntraUser(upn="ann@northwind.example", given_name="Ann", email="ann@northwind.example",
                       groups=["11111111-2222-3333-4444-555555555555"], roles=["Reader"])
    users_before = get_user_model().objects.count()
    xml, report = run_test_sign_in(admin_client, draft, person)
    page = report.content.decode()
    assert report.status_code == 200 and 'data-outcome="ok"' in page
    for shown in (person.upn, person.email, "11111111-2222-3333-4444-555555555555", "Reader",
                  "http://schemas.microsoft.com/identity/claims/objectidentifier", "would be created"):
        assert shown in page
    # Nothing created or changed, and the admin is still the admin.
    assert get_user_model().objects.count() == users_before
    assert not EntraIdentity.objects.filter(connection__name="northwind").exists()
    assert not Group.objects.exists()
    assert admin_client.get("/home/").content == b"home of boss"
    event = ConnectionEvent.objects.filter(connection_name="northwind", action="test sign-in").get()
    assert event.actor == f"user:{boss.pk} boss" and "would sign in" in event.detail
    assert person.upn not in event.detail and person.object_id not in event.detail
    # The same response cannot be used again, test or not.
    assert post_response(admin_client, draft.post_binding_value(xml)).status_code == 403


def test_a_test_sign_in_reports_a_refusal_without_refusing_anything_real(
        admin_client, draft, two_tenants: Tenants):
    from thoropass_sso.testing.commands import run_command

    assert run_command("entra_connection", "set", "northwind",
                       'allowed_roles=["Site.Access"]').exit_code == 0
    _, report = run_test_sign_in(admin_client, draft, EntraUser(upn="x@northwind.example"))
    assert 'data-reason="access_rule"' in report.content.decode()


def test_activating_the_draft_lets_its_users_sign_in(admin_client, draft):
    person = EntraUser(upn="ann@northwind.example", email="ann@northwind.example")
    refused = Client().get("/saml2/login/?email=ann@northwind.example")
    assert refused.status_code == 200 and "Location" not in refused  # a draft leads nowhere
    pk = Connection.objects.get(name="northwind").pk
    admin_client.post("/admin/thoropass_sso/connection/", {"action": "enable",
                                                           "_selected_action": [pk]})
    assert Connection.objects.get(pk=pk).status == "active"
    assert sign_in(Client(), draft, person, email="ann@northwind.example").status_code == 302
    assert ConnectionEvent.objects.filter(connection_name="northwind", action="activated").exists()


def test_only_staff_who_may_change_connections_start_a_test_sign_in(draft, two_tenants: Tenants):
    pk = Connection.objects.get(name="northwind").pk
    clerk = get_user_model().objects.create_user("clerk", "c@example.com", "x", is_staff=True)
    client = Client()
    client.force_login(clerk)
    assert client.post(f"/admin/thoropass_sso/connection/{pk}/test/").status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="change_connection"))
    assert client.post(f"/admin/thoropass_sso/connection/{pk}/test/").status_code == 302
    anonymous = Client().post(f"/admin/thoropass_sso/connection/{pk}/test/")
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
