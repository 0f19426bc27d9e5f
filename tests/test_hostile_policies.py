"""Issue 3, items 10 and 11: Entra policies (guests, groups overage) and
observability (already asserted for every rejection by the shared helper)."""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import dataclasses

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from thoropass_sso.models import EntraIdentity
from thoropass_sso.reasons import Reason
from thoropass_sso.testing import EntraUser

from .hostile_helpers import Hostile, hostile, override_sso  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def guest() -> EntraUser:
    """A B2B guest: their identity provider is not this tenant's issuer."""
    return EntraUser(
        upn="bob_fabrikam.example#EXT#@contoso.example",
        given_name="Bob",
        guest_identity_provider="https://sts.windows.net/99999999-9999-9999-9999-999999999999/",
    )


def test_guests_are_allowed_by_default(hostile: Hostile, guest: EntraUser) -> None:
    client, request = hostile.login()
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request, user=guest)))
    claims = hostile.recorder.sign_ins[-1]["claims"]
    assert claims.is_guest
    assert EntraIdentity.objects.filter(object_id=guest.object_id).exists()


def test_guests_refused_when_the_site_says_so(hostile: Hostile, guest: EntraUser, settings) -> None:
    override_sso(settings, ALLOW_GUESTS=False)
    client, request = hostile.login()
    xml = hostile.genuine(request, user=guest)
    refused = hostile.expect_rejected(Reason.GUEST_NOT_ALLOWED, lambda: hostile.post(client, xml))
    # The response itself verified, so policy code got the claims with the signal.
    assert hostile.recorder.rejections[-1]["claims"].object_id == guest.object_id
    assert refused.status_code == 403
    # Control: a member of the tenant still signs in under the same policy.
    client, request = hostile.login()
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request)))


GROUP_G1 = "0b5d7a3c-1111-4222-8333-944445555666"


def test_groups_overage_is_never_read_as_no_groups(hostile: Hostile, settings) -> None:
    """More than 150 groups: Entra sends a link instead of the list. The claims mark the
    overage, and nothing the user already has is stripped on a guess.

    Regression (issue 16): the group looked at used to be outside GROUP_MAP, so nothing
    would ever have removed it and the test passed with exactly the bug it names. Now the
    group is MANAGED (mapped, mirroring on): reading overage as "no groups" removes it.
    Mutation that must fail this: make EntraAdapter.entra_groups return () under overage.
    """
    override_sso(settings, GROUP_MAP={GROUP_G1: "staff"}, MIRROR_GROUPS=True)
    user = get_user_model().objects.get(entra_identities__object_id=hostile.user.object_id)
    staff = Group.objects.create(name="staff")
    user.groups.add(staff)
    overage = dataclasses.replace(hostile.user, groups=(GROUP_G1,), groups_overage=True)

    client, request = hostile.login()
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request, user=overage)))
    claims = hostile.recorder.sign_ins[-1]["claims"]
    assert claims.groups_overage is True
    assert claims.groups == ()
    assert list(user.groups.all()) == [staff]
    # Control: the same managed group IS removed when Entra says, without overage, that
    # the user is no longer in it -- so the assertion above can fail.
    client, request = hostile.login()
    no_longer = dataclasses.replace(hostile.user, groups=())
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request, user=no_longer)))
    assert list(user.groups.all()) == []


def test_groups_without_overage_are_read(hostile: Hostile) -> None:
    """Control for the overage test: the stand-in's group claim reaches the claims object."""
    with_groups = dataclasses.replace(hostile.user, groups=("g1", "g2"))
    client, request = hostile.login()
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request, user=with_groups)))
    claims = hostile.recorder.sign_ins[-1]["claims"]
    assert claims.groups == ("g1", "g2") and claims.groups_overage is False


def _without_identity_provider(root) -> None:
    from thoropass_sso.claims import CLAIM_IDENTITY_PROVIDER

    from .hostile_helpers import NS, assertion_of

    for attribute in assertion_of(root).iterfind(".//saml:Attribute", NS):
        if attribute.get("Name") == CLAIM_IDENTITY_PROVIDER:
            attribute.getparent().remove(attribute)


def test_guest_policy_fails_closed_without_the_identityprovider_claim(
        hostile: Hostile, guest: EntraUser, settings) -> None:
    """An admin who drops the identityprovider claim must not let guests past ALLOW_GUESTS=False."""
    override_sso(settings, ALLOW_GUESTS=False)
    hostile.user = guest
    client, request = hostile.login()
    xml = hostile.genuine(request, user=guest, mutate=_without_identity_provider)
    hostile.expect_rejected(Reason.GUEST_NOT_ALLOWED, lambda: hostile.post(client, xml))
    assert not EntraIdentity.objects.filter(object_id=guest.object_id).exists()
    # Control: with guests allowed, the same response (same request) signs in.
    override_sso(settings, ALLOW_GUESTS=True)
    hostile.expect_signed_in(hostile.post(client, xml))


def test_the_ext_marker_alone_marks_a_guest(guest: EntraUser) -> None:
    from thoropass_sso.claims import EntraClaims

    claims = EntraClaims.from_attributes(
        {k: list(v) for k, v in dataclasses.replace(guest, guest_identity_provider="").claims(
            "11111111-2222-3333-4444-555555555555").items()
         if "identityprovider" not in k},
        name_id=guest.upn)
    assert claims.is_guest
