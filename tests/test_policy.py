"""Access rules (ALLOWED_GROUPS / ALLOWED_ROLES) through the real SAML path."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from django.contrib.auth import get_user_model

from thoropass_sso.models import EntraIdentity
from thoropass_sso.testing import EntraUser
from thoropass_sso.testing.flows import sign_in

from .test_groups import ENGINEERING, FINANCE, GraphAdapter

pytestmark = pytest.mark.django_db


@pytest.fixture
def configure(settings, stored_metadata):
    def apply(**keys):
        settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, **keys}
    return apply


def reason_of(response) -> str:
    return response.content.decode().split('data-reason="')[1].split('"')[0]


def test_members_of_an_allowed_group_sign_in(client, entra, configure):
    configure(ALLOWED_GROUPS=[ENGINEERING.upper()])
    response = sign_in(client, entra, EntraUser(upn="eng@contoso.example",
                                                groups=[FINANCE, ENGINEERING]))
    assert response.status_code == 302


def test_holders_of_an_allowed_app_role_sign_in(client, entra, configure):
    configure(ALLOWED_GROUPS=[ENGINEERING], ALLOWED_ROLES=["Site.Access"])
    response = sign_in(client, entra, EntraUser(upn="r@contoso.example", roles=["Site.Access"]))
    assert response.status_code == 302


def test_others_get_a_clear_403_and_no_account(client, entra, configure, caplog):
    configure(ALLOWED_GROUPS=[ENGINEERING], ALLOWED_ROLES=["Site.Access"],
              GROUP_MAP={FINANCE: "Finance"})
    outsider = EntraUser(upn="outsider@contoso.example", groups=[FINANCE], roles=["Other"])
    with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
        response = sign_in(client, entra, outsider)

    assert response.status_code == 403
    assert reason_of(response) == "access_rule"
    page = response.content.decode()
    assert "not been given access" in page
    for internal in (ENGINEERING, FINANCE, "Site.Access", "ALLOWED_", outsider.upn):
        assert internal not in page
        assert internal not in caplog.text
    assert "reason=access_rule" in caplog.text
    assert not get_user_model().objects.exists()
    assert not EntraIdentity.objects.exists()
    assert client.get("/home/").wsgi_request.user.is_anonymous


def test_a_user_removed_from_the_allowed_group_is_refused_and_left_untouched(
        client, entra, configure):
    configure(ALLOWED_GROUPS=[ENGINEERING], GROUP_MAP={ENGINEERING: "Engineering"})
    person = EntraUser(upn="leaver@contoso.example", groups=[ENGINEERING])
    assert sign_in(client, entra, person).status_code == 302
    client.logout()

    response = sign_in(client, entra, dataclasses.replace(person, groups=[FINANCE]))

    assert response.status_code == 403
    assert reason_of(response) == "access_rule"
    user = get_user_model().objects.get()
    assert list(user.groups.values_list("name", flat=True)) == ["Engineering"]


def test_overage_fails_closed_unless_a_role_or_the_hook_decides(client, entra, configure):
    configure(ALLOWED_GROUPS=[ENGINEERING], ALLOWED_ROLES=["Site.Access"])
    big = EntraUser(upn="big@contoso.example", groups=[ENGINEERING], groups_overage=True)

    refused = sign_in(client, entra, big)
    assert refused.status_code == 403
    assert reason_of(refused) == "groups_unknown"
    assert not get_user_model().objects.exists()

    assert sign_in(client, entra, dataclasses.replace(big, roles=["Site.Access"])).status_code == 302
    client.logout()

    GraphAdapter.directory = {big.object_id: [ENGINEERING]}
    configure(ADAPTER="tests.test_groups.GraphAdapter")
    assert sign_in(client, entra, big).status_code == 302


def test_guests_are_refused_when_not_allowed(client, entra, configure):
    configure(ALLOW_GUESTS=False)
    guest = EntraUser(upn="pat_fabrikam.example#EXT#@contoso.example",
                      guest_identity_provider="https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/")
    response = sign_in(client, entra, guest)
    assert response.status_code == 403
    assert reason_of(response) == "guest_not_allowed"
    assert not get_user_model().objects.exists()
