"""The admin pages, driven as a superuser (force_login: the admin is not the SAML path)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from thoropass_sso.models import Connection, EntraIdentity
from thoropass_sso.testing.flows import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada_user(entra, ada, stored_metadata):
    assert sign_in(Client(), entra, ada).status_code == 302
    return EntraIdentity.objects.select_related("user").get().user


@pytest.fixture
def admin_client(client):
    boss = get_user_model().objects.create_superuser("boss", "boss@example.com", "x")
    client.force_login(boss)
    return client


def test_identity_list_shows_the_entra_key_read_only(admin_client, ada_user, ada, entra):
    page = admin_client.get("/admin/thoropass_sso/entraidentity/")
    assert page.status_code == 200
    body = page.content.decode()
    assert ada.upn in body and ada.object_id in body and entra.tenant_id in body

    identity = EntraIdentity.objects.get()
    assert admin_client.get("/admin/thoropass_sso/entraidentity/add/").status_code == 403
    detail = admin_client.get(f"/admin/thoropass_sso/entraidentity/{identity.pk}/change/")
    assert detail.status_code == 200
    assert 'name="upn"' not in detail.content.decode()  # no input: read-only
    changed = admin_client.post(f"/admin/thoropass_sso/entraidentity/{identity.pk}/change/",
                                {"upn": "mallory@contoso.example", "object_id": "x"})
    assert changed.status_code == 403
    identity.refresh_from_db()
    assert identity.upn == ada.upn


def test_user_page_shows_the_identity_inline_read_only(admin_client, ada_user, ada):
    page = admin_client.get(f"/admin/auth/user/{ada_user.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Entra identities (read-only)" in body
    assert ada.object_id in body
    assert "entra_identities-0-upn" not in body  # no editable inline field
    assert "entra_identities-0-DELETE" not in body


def test_deleting_a_user_in_the_admin_deletes_its_identity(admin_client, ada_user):
    url = f"/admin/auth/user/{ada_user.pk}/delete/"
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert b"Entra identit" in confirm.content
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not EntraIdentity.objects.exists()


def test_the_connection_pages_never_dump_the_metadata_and_keep_a_connection_with_users(
        admin_client, stored_metadata, entra, ada_user):
    connection = Connection.objects.get()
    assert "<EntityDescriptor" in connection.metadata_xml
    listing = admin_client.get("/admin/thoropass_sso/connection/")
    assert listing.status_code == 200
    body = listing.content.decode()
    assert entra.tenant_id in body
    assert "EntityDescriptor" not in body and "X509Certificate" not in body
    detail = admin_client.get(f"/admin/thoropass_sso/connection/{connection.pk}/change/")
    assert detail.status_code == 200
    assert connection.metadata_sha256 in detail.content.decode()
    assert "X509Certificate" not in detail.content.decode()
    # Users signed in through it (ada_user's identity): deleting it is refused.
    assert connection.identities.exists()
    assert admin_client.post(
        f"/admin/thoropass_sso/connection/{connection.pk}/delete/", {"post": "yes"}
    ).status_code == 403
    assert Connection.objects.exists()


def test_staff_without_permissions_sees_nothing(client, ada_user):
    clerk = get_user_model().objects.create_user("clerk", "c@example.com", "x", is_staff=True)
    client.force_login(clerk)
    assert client.get("/admin/thoropass_sso/entraidentity/").status_code == 403
