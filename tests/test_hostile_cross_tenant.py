"""Issue 11: one ACS, many customer tenants -- every cross-tenant forgery is refused, with its reason.

Contoso (the settings-defined connection ``default``) and Fabrikam (a connection
added as data) share one Identifier and one Reply URL, as a gallery app's
customers do. Each attack below is validly signed by a real key of a real
registered tenant and addressed to this site, so only the routing rule named in
the test can refuse it; each is followed by its control (the genuine response
signs in). Runs on both signature backends (tests/conftest.py).
"""

# ruff: noqa: F811 - test functions take the imported fixtures by name

from __future__ import annotations

import pytest
from django.test import Client
from lxml import etree

from thoropass_sso.claims import CLAIM_TENANT_ID
from thoropass_sso.models import Connection, new_revision
from thoropass_sso.reasons import Reason
from thoropass_sso.testing import EntraStandIn, EntraUser
from thoropass_sso.testing.commands import run_command

from .conftest import ACS_URL, SP_ENTITY_ID
from .hostile_helpers import NS, Hostile, attribute_value, hostile  # noqa: F401 - fixture
from .tenants import Tenants, fabrikam, two_tenants  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

FABRIKAM_USER = EntraUser(upn="nestor@fabrikam.example", given_name="Nestor",
                          email="nestor@fabrikam.example")


@pytest.fixture
def cross(hostile: Hostile, two_tenants: Tenants) -> Hostile:
    hostile.connection = "default"  # two active connections: say which one to sign in with
    return hostile


def _unsolicited(standin: EntraStandIn, user: EntraUser, **options) -> bytes:
    return standin.response_xml(user, acs_url=ACS_URL, audience=SP_ENTITY_ID, **options)


def test_another_registered_tenants_response_does_not_answer_this_request(
        cross: Hostile, two_tenants: Tenants) -> None:
    # Fabrikam really signs a response for our Audience and our ACS, answering the very
    # request this browser sent -- to Contoso. Only the recorded connection tells.
    # Mutation that must fail this: drop the pending-connection check in views/acs.py.
    client, request = cross.login()
    genuine = cross.genuine(request)
    forged = two_tenants.fabrikam.response_xml(FABRIKAM_USER, acs_url=request.acs_url,
                                               audience=request.issuer, in_response_to=request.id)
    cross.expect_rejected(Reason.CONNECTION_MISMATCH, lambda: cross.post(client, forged))
    cross.expect_signed_in(cross.post(client, genuine))


def test_a_request_to_the_data_connection_is_not_answered_by_the_settings_one(
        cross: Hostile, two_tenants: Tenants) -> None:
    cross.connection = "fabrikam"
    client, request = cross.login()
    assert request.id and two_tenants.fabrikam.sso_url in client.get(
        "/saml2/login/?connection=fabrikam")["Location"]
    forged = cross.genuine(request)  # Contoso's, valid in every other way
    cross.expect_rejected(Reason.CONNECTION_MISMATCH, lambda: cross.post(client, forged))
    genuine = two_tenants.fabrikam.response_xml(FABRIKAM_USER, acs_url=request.acs_url,
                                                audience=request.issuer, in_response_to=request.id)
    cross.expect_signed_in(cross.post(client, genuine))


@pytest.mark.parametrize("flow", ["sp-initiated", "idp-initiated"])
def test_a_registered_tenants_key_never_verifies_another_tenants_issuer(
        cross: Hostile, two_tenants: Tenants, tmp_path, flow: str) -> None:
    # Fabrikam's key, Contoso's issuer and tenant: routed to Contoso, whose keys refuse it.
    # Mutation that must fail this: trust every connection's certificates (a site-wide key set).
    impostor = EntraStandIn(tmp_path, tenant_id=two_tenants.contoso.tenant_id,
                            signing_keys=two_tenants.fabrikam.signing_keys)
    if flow == "sp-initiated":
        client, request = cross.login()
        forged = impostor.response_xml(cross.user, acs_url=request.acs_url, audience=request.issuer,
                                       in_response_to=request.id)
        cross.expect_rejected(Reason.SIGNATURE_INVALID, lambda: cross.post(client, forged))
        cross.expect_signed_in(cross.post(client, cross.genuine(request)))
    else:
        forged = _unsolicited(impostor, cross.user)
        cross.expect_rejected(Reason.SIGNATURE_INVALID, lambda: cross.post(Client(), forged))
        cross.expect_signed_in(cross.post(Client(), cross.unsolicited()))


def test_a_tenant_cannot_vouch_for_another_tenants_user(cross: Hostile, two_tenants: Tenants) -> None:
    # Fabrikam signs, as itself, a claim that the user is Ada of Contoso (tenant id and
    # object id): the pinned tenant of the connection that verified it says no.
    # Mutation that must fail this: drop the comparison of the tenantid claim with the
    # connection's pinned tenant -- Ada's account would then be Fabrikam's to sign in to.
    def contoso_tenant_claim(root: etree._Element) -> None:
        attribute_value(root.find("saml:Assertion", NS), CLAIM_TENANT_ID).text = \
            two_tenants.contoso.tenant_id

    forged = _unsolicited(two_tenants.fabrikam, cross.user, mutate=contoso_tenant_claim)
    cross.expect_rejected(Reason.WRONG_TENANT, lambda: cross.post(Client(), forged))
    cross.expect_signed_in(cross.post(Client(), cross.unsolicited()))


@pytest.mark.parametrize("which", ["response-names-contoso", "response-names-fabrikam"])
def test_a_response_whose_issuers_disagree_is_refused(
        cross: Hostile, two_tenants: Tenants, which: str) -> None:
    # The Response's Issuer is unsigned when only the assertion is (Entra's default):
    # it must agree with the assertion's, never be a second opinion on who sent it.
    contoso, fabrikam_ = two_tenants.contoso, two_tenants.fabrikam
    signer, other = (fabrikam_, contoso) if which == "response-names-contoso" else (contoso, fabrikam_)

    def other_response_issuer(root: etree._Element) -> None:
        root.find("saml:Issuer", NS).text = other.issuer

    user = FABRIKAM_USER if signer is fabrikam_ else cross.user
    forged = _unsolicited(signer, user, mutate=other_response_issuer)
    cross.expect_rejected(Reason.WRONG_ISSUER, lambda: cross.post(Client(), forged))
    cross.expect_signed_in(cross.post(Client(), cross.unsolicited()))


@pytest.mark.parametrize("flow", ["sp-initiated", "idp-initiated"])
def test_an_unregistered_tenant_is_unknown(cross: Hostile, tmp_path, flow: str) -> None:
    stranger = EntraStandIn(tmp_path)  # a real tenant with a real key, no connection here
    if flow == "sp-initiated":
        client, request = cross.login()
        forged = stranger.response_xml(cross.user, acs_url=request.acs_url, audience=request.issuer,
                                       in_response_to=request.id)
        cross.expect_rejected(Reason.UNKNOWN_ISSUER, lambda: cross.post(client, forged))
        cross.expect_signed_in(cross.post(client, cross.genuine(request)))
    else:
        cross.expect_rejected(Reason.UNKNOWN_ISSUER,
                              lambda: cross.post(Client(), _unsolicited(stranger, cross.user)))
        cross.expect_signed_in(cross.post(Client(), cross.unsolicited()))


def test_a_disabled_connection_signs_nobody_in(cross: Hostile, two_tenants: Tenants) -> None:
    fabrikam_ = two_tenants.fabrikam
    cross.expect_signed_in(cross.post(Client(), _unsolicited(fabrikam_, FABRIKAM_USER)))
    # Disabled on "another host": the row changes, this process is not told.
    Connection.objects.filter(name="fabrikam").update(status=Connection.Status.DISABLED,
                                                      revision=new_revision())
    from thoropass_sso.registry import registry

    registry.forget()  # the interval has passed (test_many_tenants.py times it with a clock)
    cross.expect_rejected(Reason.CONNECTION_DISABLED,
                          lambda: cross.post(Client(), _unsolicited(fabrikam_, FABRIKAM_USER)))
    # Control: the other customer is not affected.
    cross.expect_signed_in(cross.post(Client(), cross.unsolicited()))


def test_a_draft_serves_no_real_sign_in(cross: Hostile, two_tenants: Tenants, tmp_path) -> None:
    newcomer = EntraStandIn(tmp_path)
    assert two_tenants.add("northwind", newcomer, "--draft").exit_code == 0
    # IdP-initiated (the My Apps tile, Entra's Test button): refused.
    cross.expect_rejected(Reason.CONNECTION_DRAFT,
                          lambda: cross.post(Client(), _unsolicited(newcomer, FABRIKAM_USER)))
    # SP-initiated: the Sign-on URL does not even send anyone to a draft's tenant...
    page = Client().get("/saml2/login/?connection=northwind")
    assert page.status_code == 404 and "Location" not in page
    # ...and a response to a (real) request sent there by hand is refused all the same.
    cross.connection = "default"
    client, request = cross.login()
    forged = newcomer.response_xml(FABRIKAM_USER, acs_url=request.acs_url, audience=request.issuer,
                                   in_response_to=request.id)
    cross.expect_rejected(Reason.CONNECTION_MISMATCH, lambda: cross.post(client, forged))
    cross.expect_signed_in(cross.post(client, cross.genuine(request)))
    # Control of the IdP-initiated refusal: activated, the draft's same kind of response signs in.
    assert run_command("entra_connection", "activate", "northwind").exit_code == 0
    cross.expect_signed_in(cross.post(Client(), _unsolicited(newcomer, FABRIKAM_USER)))


@pytest.mark.parametrize("who", [
    EntraUser(upn="mallory@fabrikam.example", email="adele.vance@contoso.example"),
    EntraUser(upn="adele.vance@contoso.example"),  # no email claim: the UPN becomes the email
], ids=["email-claim", "upn-as-email"])
def test_a_tenant_kept_to_its_domains_cannot_mint_another_companys_addresses(
        cross: Hostile, two_tenants: Tenants, who: EntraUser) -> None:
    # Entra does not verify the email claim: any tenant's admin can put anything there.
    # Mutation that must fail this: skip the domain check in EntraAdapter.check_sign_in_allowed.
    assert run_command("entra_connection", "set", "fabrikam",
                       "restrict_email_domains=true").exit_code == 0
    forged = _unsolicited(two_tenants.fabrikam, who)
    cross.expect_rejected(Reason.EMAIL_DOMAIN_NOT_ALLOWED, lambda: cross.post(Client(), forged))
    own = EntraUser(upn="nestor@fabrikam.example", email="Nestor@FABRIKAM.example")
    cross.expect_signed_in(cross.post(Client(), _unsolicited(two_tenants.fabrikam, own)))
