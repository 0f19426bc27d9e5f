"""Access rules (ALLOWED_GROUPS / ALLOWED_ROLES) through the real SAML path."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from thoropass_sso.adapter import EntraAdapter
from thoropass_sso.backends import EntraBackend
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


class RequestRecordingAdapter(EntraAdapter):
    """Notes which request each hook was handed."""

    seen: list[tuple[str, str | None]] = []

    def _note(self, hook: str, request) -> None:
        self.seen.append((hook, getattr(request, "path", None)))

    def check_sign_in_allowed(self, request, sign_in):
        self._note("check_sign_in_allowed", request)
        return super().check_sign_in_allowed(request, sign_in)

    def entra_groups(self, request, sign_in):
        self._note("entra_groups", request)
        return super().entra_groups(request, sign_in)

    def check_access(self, request, sign_in, groups):
        self._note("check_access", request)
        return super().check_access(request, sign_in, groups)

    def may_create_user(self, request, sign_in):
        self._note("may_create_user", request)
        return super().may_create_user(request, sign_in)

    def new_user(self, request, sign_in):
        self._note("new_user", request)
        return super().new_user(request, sign_in)

    def populate_user(self, request, user, sign_in):
        self._note("populate_user", request)
        return super().populate_user(request, user, sign_in)

    def apply_groups_and_roles(self, request, user, sign_in, groups):
        self._note("apply_groups_and_roles", request)
        return super().apply_groups_and_roles(request, user, sign_in, groups)


def test_every_user_hook_is_handed_the_sign_ins_request(client, entra, configure):
    # Adapters decide from the request (its host, the customer's subdomain, a header).
    # Mutations: any of these calls in backends.py given None instead of the request.
    configure(ADAPTER="tests.test_policy.RequestRecordingAdapter")
    RequestRecordingAdapter.seen = []
    user = EntraUser(upn="hooks@contoso.example")
    assert sign_in(client, entra, user).status_code == 302
    created = list(RequestRecordingAdapter.seen)
    policy = ["check_sign_in_allowed", "entra_groups", "check_access"]
    assert [hook for hook, _ in created] == [
        *policy, "may_create_user", "new_user", "populate_user", "apply_groups_and_roles"]
    RequestRecordingAdapter.seen = []
    client.logout()
    assert sign_in(client, entra, user).status_code == 302
    returning = list(RequestRecordingAdapter.seen)
    assert [hook for hook, _ in returning] == [*policy, "populate_user", "apply_groups_and_roles"]
    assert {path for _, path in created + returning} == {"/saml2/acs/"}


def test_a_upn_longer_than_the_column_is_kept_to_its_first_255_characters(client, entra,
                                                                          configure):
    # Mutations: upn[:255] -> upn[:256] on creation or on a returning sign-in (the column
    # is 255 wide: PostgreSQL refuses the longer value, SQLite would keep it).
    long_upn = "a" * 280 + "@contoso.example"
    user = EntraUser(upn=long_upn)
    assert sign_in(client, entra, user).status_code == 302
    assert EntraIdentity.objects.get().upn == long_upn[:255]
    client.logout()
    EntraIdentity.objects.update(upn="changed")
    assert sign_in(client, entra, user).status_code == 302
    assert EntraIdentity.objects.get().upn == long_upn[:255]


def test_a_returning_sign_in_updates_only_its_own_identity(entra, configure):
    # Mutations in EntraBackend._returning_user: the identity UPDATE filtered without
    # object_id (every identity of the tenant renamed), last_sign_in left or set to None.
    from django.test import Client

    first, second = EntraUser(upn="first@contoso.example"), EntraUser(upn="second@contoso.example")
    for user in (first, second):
        assert sign_in(Client(), entra, user).status_code == 302
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    EntraIdentity.objects.update(last_sign_in=long_ago)
    renamed = dataclasses.replace(second, upn="second.renamed@contoso.example")
    assert sign_in(Client(), entra, renamed).status_code == 302
    mine = EntraIdentity.objects.get(object_id=second.object_id)
    assert mine.upn == renamed.upn and mine.last_sign_in > long_ago
    other = EntraIdentity.objects.get(object_id=first.object_id)
    assert (other.upn, other.last_sign_in) == (first.upn, long_ago)


class DecliningBackend(EntraBackend):
    """A site's own backend: the stock one, then a rule of the site's that declines some."""

    def authenticate(self, request, sign_in=None, **kwargs):
        user = super().authenticate(request, sign_in, **kwargs)
        return None if user is not None and user.email.endswith("@declined.example") else user


def test_a_backend_that_declines_is_an_unknown_user_not_a_misconfiguration(client, entra, settings,
                                                                           configure):
    # The ACS tells "the backend is not installed" (misconfigured) from "the installed
    # backend said no" (unknown_user) by whether EntraBackend ran. Mutation:
    # ``backend_reached = True`` -> False/None -> this reads as a misconfigured site.
    settings.AUTHENTICATION_BACKENDS = ["tests.test_policy.DecliningBackend"]
    declined = EntraUser(upn="x@contoso.example", email="x@declined.example")
    response = sign_in(client, entra, declined)
    assert response.status_code == 403
    assert reason_of(response) == "unknown_user"
    assert sign_in(client, entra, EntraUser(upn="y@contoso.example")).status_code == 302
