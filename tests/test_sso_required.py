"""Issue 12: SSO-required domains -- the site's password login refuses them and points to SSO."""

# ruff: noqa: F811 - test functions take the imported fixtures by name

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import Client

from thoropass_sso.sso_required import SSORequired, check_password_login
from thoropass_sso.testing.commands import run_command

from .tenants import FABRIKAM_DOMAIN, Tenants, fabrikam, two_tenants  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

BACKENDS = ["thoropass_sso.sso_required.SSORequiredBackend",
            "thoropass_sso.backends.EntraBackend",
            "django.contrib.auth.backends.ModelBackend"]


@pytest.fixture
def site(two_tenants: Tenants, settings):
    settings.AUTHENTICATION_BACKENDS = BACKENDS
    get_user_model().objects.create_user("nestor", f"nestor@{FABRIKAM_DOMAIN}", "pw-123")
    get_user_model().objects.create_user("olga", "olga@elsewhere.example", "pw-123")
    return two_tenants


def require_sso(on: bool) -> None:
    assert run_command("entra_connection", "set", "fabrikam",
                       f"sso_required={'true' if on else 'false'}").exit_code == 0


def log_in(username: str) -> tuple[Client, str]:
    client = Client()
    page = client.post("/accounts/login/", {"username": username, "password": "pw-123"})
    return client, page.content.decode() if page.status_code == 200 else ""


@pytest.mark.parametrize("username", ["nestor", f"nestor@{FABRIKAM_DOMAIN}"])
def test_the_password_login_refuses_an_sso_required_domain_and_says_where_to_go(site, username):
    require_sso(True)
    client, page = log_in(username)
    assert "Fabrikam signs in with Microsoft" in page
    assert "/saml2/login/?email=nestor%40fabrikam.example" in page
    assert not client.get("/home/").wsgi_request.user.is_authenticated
    # The backend alone refuses it too (the admin's login form, any authenticate() call).
    assert authenticate(username="nestor", password="pw-123") is None


def test_without_sso_required_and_for_other_domains_passwords_work(site):
    require_sso(False)
    client, _ = log_in("nestor")
    assert client.get("/home/").wsgi_request.user.is_authenticated
    require_sso(True)
    client, _ = log_in("olga")
    assert client.get("/home/").wsgi_request.user.is_authenticated


def test_a_paused_connection_does_not_lock_its_users_out_of_passwords(site):
    require_sso(True)
    assert run_command("entra_connection", "disable", "fabrikam").exit_code == 0
    client, _ = log_in("nestor")
    assert client.get("/home/").wsgi_request.user.is_authenticated


def test_the_hook_for_a_sites_own_login_view(site):
    require_sso(True)
    with pytest.raises(SSORequired) as refused:
        check_password_login(f"NESTOR@{FABRIKAM_DOMAIN.upper()}")
    assert refused.value.connection.name == "fabrikam"
    assert refused.value.sign_on_url.endswith("/saml2/login/?email=NESTOR%40FABRIKAM.EXAMPLE")
    check_password_login("olga")  # no exception
