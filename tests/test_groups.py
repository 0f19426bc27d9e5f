"""Entra groups and app roles -> Django groups, is_staff, is_superuser; mirroring; overage.

Every sign-in goes through the real SAML path: the stand-in signs a response
carrying the groups/role claims and the ACS verifies it.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from thoropass_sso.adapter import EntraAdapter
from thoropass_sso.conf import get_settings
from thoropass_sso.exceptions import ConfigurationError
from thoropass_sso.testing import EntraUser
from thoropass_sso.testing.flows import sign_in

pytestmark = pytest.mark.django_db

ENGINEERING = "0c8b2a55-0f1e-4a8a-9c55-2b1f6f2a7e10"
FINANCE = "5d7e9a21-4b3c-4e2f-8a1d-9f0e7c6b5a20"
IT_ADMINS = "7a1f3c9e-2d4b-4e6f-8a0c-1b3d5f7e9a40"


@pytest.fixture
def configure(settings, stored_metadata):
    def apply(**keys):
        settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, **keys}
    return apply


def signed_in_user(client, entra, entra_user, **options):
    client.logout()
    response = sign_in(client, entra, entra_user, **options)
    assert response.status_code == 302, response.content
    user = client.get("/home/").wsgi_request.user
    assert user.is_authenticated
    return get_user_model().objects.get(pk=user.pk)


def group_names(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_groups_and_roles_map_to_django_groups_and_flags(client, entra, configure):
    configure(GROUP_MAP={ENGINEERING: "Engineering", FINANCE: ["Finance", "Reports"]},
              ROLE_MAP={"Editor": "Editors"},
              STAFF_ROLES=["Editor"], SUPERUSER_GROUPS=[IT_ADMINS])

    editor = EntraUser(upn="eng@contoso.example", groups=[ENGINEERING], roles=["Editor"])
    user = signed_in_user(client, entra, editor)
    assert group_names(user) == {"Engineering", "Editors"}
    assert (user.is_staff, user.is_superuser) == (True, False)

    admin = EntraUser(upn="it@contoso.example", groups=[IT_ADMINS, FINANCE])
    user = signed_in_user(client, entra, admin)
    assert group_names(user) == {"Finance", "Reports"}
    # A mapped superuser is staff too: the admin only lets staff in.
    assert (user.is_staff, user.is_superuser) == (True, True)

    nobody = EntraUser(upn="plain@contoso.example", groups=["9f9f9f9f-0000-4000-8000-000000000000"])
    user = signed_in_user(client, entra, nobody)
    assert group_names(user) == set()
    assert (user.is_staff, user.is_superuser) == (False, False)


def test_group_ids_match_whatever_their_case(client, entra, configure):
    configure(GROUP_MAP={ENGINEERING.upper(): "Engineering"})
    user = signed_in_user(client, entra, EntraUser(upn="a@contoso.example", groups=[ENGINEERING]))
    assert group_names(user) == {"Engineering"}


def test_role_values_are_case_sensitive(client, entra, configure):
    configure(ROLE_MAP={"Editor": "Editors"}, STAFF_ROLES=["Editor"])
    user = signed_in_user(client, entra, EntraUser(upn="a@contoso.example", roles=["editor"]))
    assert group_names(user) == set()
    assert user.is_staff is False


def test_mirror_removes_managed_groups_and_flags_but_never_unmanaged_ones(client, entra, configure):
    configure(GROUP_MAP={ENGINEERING: "Engineering", FINANCE: "Finance"},
              ROLE_MAP={"Editor": "Editors"}, STAFF_GROUPS=[ENGINEERING])
    person = EntraUser(upn="m@contoso.example", groups=[ENGINEERING, FINANCE], roles=["Editor"])
    user = signed_in_user(client, entra, person)
    assert group_names(user) == {"Engineering", "Finance", "Editors"}
    assert user.is_staff
    local = Group.objects.create(name="Local helpdesk")
    user.groups.add(local)

    # In Entra, the user left Engineering and lost the Editor role.
    moved = dataclasses.replace(person, groups=[FINANCE], roles=[])
    user = signed_in_user(client, entra, moved)

    assert group_names(user) == {"Finance", "Local helpdesk"}
    assert user.is_staff is False
    assert Group.objects.filter(name="Engineering").exists()  # removed from the user, not deleted


def test_without_mirror_mapping_only_adds(client, entra, configure):
    configure(GROUP_MAP={ENGINEERING: "Engineering", FINANCE: "Finance"},
              STAFF_GROUPS=[ENGINEERING], MIRROR_GROUPS=False)
    person = EntraUser(upn="m@contoso.example", groups=[ENGINEERING])
    signed_in_user(client, entra, person)

    user = signed_in_user(client, entra, dataclasses.replace(person, groups=[FINANCE]))

    assert group_names(user) == {"Engineering", "Finance"}
    assert user.is_staff is True


def test_flags_are_left_alone_when_not_mapped(client, entra, configure):
    configure(GROUP_MAP={ENGINEERING: "Engineering"})
    person = EntraUser(upn="s@contoso.example", groups=[ENGINEERING])
    user = signed_in_user(client, entra, person)
    get_user_model().objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)

    user = signed_in_user(client, entra, dataclasses.replace(person, groups=[]))

    assert (user.is_staff, user.is_superuser) == (True, True)
    assert group_names(user) == set()


def test_superuser_mapping_alone_grants_staff_but_never_revokes_it(client, entra, configure):
    configure(SUPERUSER_ROLES=["Admin"])
    person = EntraUser(upn="s@contoso.example", roles=["Admin"])
    assert signed_in_user(client, entra, person).is_staff is True

    user = signed_in_user(client, entra, dataclasses.replace(person, roles=[]))
    assert user.is_superuser is False
    assert user.is_staff is True  # is_staff itself is not mapped, so not managed


# -- groups overage ----------------------------------------------------------

def test_overage_keeps_what_the_user_had_and_grants_nothing_new(
        client, entra, configure, caplog):
    configure(GROUP_MAP={ENGINEERING: "Engineering", FINANCE: "Finance"},
              ROLE_MAP={"Editor": "Editors"},
              STAFF_GROUPS=[ENGINEERING], SUPERUSER_GROUPS=[IT_ADMINS])
    person = EntraUser(upn="big@contoso.example", groups=[ENGINEERING], roles=["Editor"])
    user = signed_in_user(client, entra, person)
    assert group_names(user) == {"Engineering", "Editors"}

    # More than 150 groups: Entra sends groups.link instead of groups.
    overage = dataclasses.replace(person, groups=[FINANCE, IT_ADMINS], groups_overage=True,
                                  roles=[])
    with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
        user = signed_in_user(client, entra, overage)

    # Group-based: kept as they were, nothing new. Role-based: still mirrored.
    assert group_names(user) == {"Engineering"}
    assert (user.is_staff, user.is_superuser) == (True, False)
    warnings = [r for r in caplog.records if "groups overage" in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "reference=" in message
    for secret in (person.upn, person.object_id, ENGINEERING, FINANCE, "graph.windows.net"):
        assert secret not in caplog.text


def test_overage_on_first_sign_in_grants_no_group_based_privilege(client, entra, configure):
    configure(GROUP_MAP={ENGINEERING: "Engineering"}, SUPERUSER_GROUPS=[ENGINEERING],
              STAFF_GROUPS=[ENGINEERING])
    user = signed_in_user(client, entra, EntraUser(upn="new@contoso.example", groups=[ENGINEERING],
                                                   groups_overage=True))
    assert group_names(user) == set()
    assert (user.is_staff, user.is_superuser) == (False, False)


class GraphAdapter(EntraAdapter):
    """A site that resolves overage groups another way (for example Microsoft Graph)."""

    directory: dict[str, list[str]] = {}
    asked: list[str] = []

    def resolve_overage_groups(self, request, sign_in):
        self.asked.append(sign_in.claims.object_id)
        return self.directory.get(sign_in.claims.object_id)


def test_overage_hook_supplies_the_groups(client, entra, configure):
    person = EntraUser(upn="big@contoso.example", groups=[ENGINEERING], groups_overage=True,
                       object_id=str(uuid.uuid4()))
    GraphAdapter.directory = {person.object_id: [ENGINEERING.upper()]}
    GraphAdapter.asked = []
    configure(ADAPTER="tests.test_groups.GraphAdapter",
              GROUP_MAP={ENGINEERING: "Engineering"}, STAFF_GROUPS=[ENGINEERING])

    user = signed_in_user(client, entra, person)

    assert GraphAdapter.asked == [person.object_id]  # asked once per sign-in
    assert group_names(user) == {"Engineering"}
    assert user.is_staff is True


def test_hook_is_not_asked_when_the_groups_claim_is_present(client, entra, configure):
    GraphAdapter.asked = []
    configure(ADAPTER="tests.test_groups.GraphAdapter", GROUP_MAP={ENGINEERING: "Engineering"})
    signed_in_user(client, entra, EntraUser(upn="small@contoso.example", groups=[ENGINEERING]))
    assert GraphAdapter.asked == []


# -- settings ----------------------------------------------------------------

@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("GROUP_MAP", ["not", "a", "dict"], "must be a dict"),
    ("GROUP_MAP", {ENGINEERING: ""}, "GROUP_MAP"),
    ("ROLE_MAP", {"Editor": [1]}, "ROLE_MAP"),
    ("ROLE_MAP", {"Editor": []}, "ROLE_MAP"),
    ("STAFF_GROUPS", [""], "STAFF_GROUPS"),
    ("ALLOWED_ROLES", "Admin", "ALLOWED_ROLES"),
    ("MIRROR_GROUPS", "yes", "MIRROR_GROUPS"),
])
def test_bad_mapping_settings_name_the_key(settings, sso_settings, key, value, fragment):
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, key: value}
    with pytest.raises(ConfigurationError, match=fragment):
        get_settings()


def test_mapping_settings_defaults_and_normal_form(settings, sso_settings):
    conf = get_settings()
    assert dict(conf.GROUP_MAP) == {} and dict(conf.ROLE_MAP) == {}
    assert conf.MIRROR_GROUPS is True and conf.SINGLE_LOGOUT is True
    assert conf.ALLOWED_GROUPS == () and conf.STAFF_ROLES == ()
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO,
                              "GROUP_MAP": {ENGINEERING: "Engineering"},
                              "ROLE_MAP": {"Editor": ["Editors", "Authors"]}}
    conf = get_settings()
    assert conf.GROUP_MAP[ENGINEERING] == ("Engineering",)
    assert conf.ROLE_MAP["Editor"] == ("Editors", "Authors")
    hash(conf)  # the settings object stays hashable (cached SP config keys on it)
