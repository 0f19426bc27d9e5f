"""The pytest plugin sites use, exercised the way a site would use it."""

import pytest

from thoropass_sso.models import EntraIdentity

pytest_plugins = ["thoropass_sso.testing.pytest_plugin"]


def test_a_site_signs_a_user_in_with_chosen_claims(client, entra_sso):
    response = entra_sso.sign_in(client, upn="grace@contoso.example", given_name="Grace",
                                 groups=["6b1c0e6a-0000-4000-8000-000000000001"],
                                 next_path="/deep/link/")
    assert response.status_code == 302
    assert response["Location"] == "/deep/link/"
    assert client.get("/home/").content == b"home of grace@contoso.example"
    assert EntraIdentity.objects.get().tenant_id == entra_sso.standin.tenant_id


def test_a_site_launches_from_my_apps(client, entra_sso):
    response = entra_sso.launch(client, upn="lin@contoso.example", relay_state="/deep/link/")
    assert response["Location"] == "/deep/link/"


@pytest.fixture
def site_policy(settings):
    """The site's own THOROPASS_SSO keys, set BEFORE entra_sso (fixtures run in argument order)."""
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "CREATE_USERS": False,
                              "LOGIN_REDIRECT_URL": "/deep/link/"}


def test_the_plugin_keeps_the_sites_other_settings(site_policy, settings, client, entra_sso):
    # Regression (issue 16): this used to set CREATE_USERS after the fixture had run, so it
    # passed when the plugin dropped every site key. Mutation that must fail this: build
    # THOROPASS_SSO from scratch in the entra_sso fixture.
    assert settings.THOROPASS_SSO["CREATE_USERS"] is False
    refused = entra_sso.sign_in(client, upn="nobody@contoso.example")
    assert refused.status_code == 403 and b'data-reason="unknown_user"' in refused.content
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "CREATE_USERS": True}
    assert entra_sso.sign_in(client, upn="nobody@contoso.example")["Location"] == "/deep/link/"


@pytest.mark.django_db
def test_without_entra_sso_the_site_has_no_metadata(client):
    assert client.get("/saml2/login/").status_code == 503
