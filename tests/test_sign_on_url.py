"""Issue 12: the one Sign-on URL finds the customer by work email, and tells strangers nothing."""

# ruff: noqa: F811 - test functions take the imported fixtures by name

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from thoropass_sso.testing import EntraStandIn, EntraUser
from thoropass_sso.testing.commands import run_command
from thoropass_sso.testing.flows import post_response, response_for

from .tenants import FABRIKAM_DOMAIN, Tenants, fabrikam, two_tenants  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

NESTOR = EntraUser(upn=f"nestor@{FABRIKAM_DOMAIN}", email=f"nestor@{FABRIKAM_DOMAIN}")


def test_with_several_customers_the_sign_on_url_asks_for_the_work_email(two_tenants: Tenants):
    page = Client().get("/saml2/login/?next=/deep/link/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Sign in with your work email" in body
    # Works without JavaScript: a plain form posting back here, labelled for screen readers.
    assert re.search(r'<form method="post" action="/saml2/login/"', body)
    assert '<label for="sign-on-email">' in body and 'id="sign-on-email"' in body
    assert 'type="email"' in body and 'autocomplete="email"' in body
    assert 'name="next" value="/deep/link/"' in body
    assert '<html lang="en' in body


def test_the_email_finds_the_tenant_and_entra_gets_a_login_hint(two_tenants: Tenants):
    client = Client()
    to_entra = client.get(f"/saml2/login/?email=Nestor@{FABRIKAM_DOMAIN.upper()}&next=/deep/link/")
    assert to_entra.status_code == 302
    assert to_entra["Location"].startswith(f"{two_tenants.fabrikam.sso_url}?")
    query = parse_qs(urlsplit(to_entra["Location"]).query)
    assert query["login_hint"] == [f"Nestor@{FABRIKAM_DOMAIN.upper()}"]
    request = two_tenants.fabrikam.read_authn_request(to_entra["Location"])
    done = post_response(client, two_tenants.fabrikam.post_binding_value(
        response_for(two_tenants.fabrikam, NESTOR, request)))
    assert done.status_code == 302 and done["Location"] == "/deep/link/"


def test_the_form_posts_with_csrf_protection(two_tenants: Tenants):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/saml2/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    posted = client.post("/saml2/login/", {"csrfmiddlewaretoken": token,
                                           "email": f"nestor@{FABRIKAM_DOMAIN}", "next": "/home/"})
    assert posted.status_code == 302
    assert posted["Location"].startswith(two_tenants.fabrikam.sso_url)
    forged = Client(enforce_csrf_checks=True).post("/saml2/login/",
                                                   {"email": f"nestor@{FABRIKAM_DOMAIN}"})
    assert forged.status_code == 403


def _normalized(response) -> str:
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", body)
    return re.sub(r'name="email" id="sign-on-email" value="[^"]*"', "EMAIL", body)


def test_an_unknown_domain_goes_nowhere_and_reveals_nothing(two_tenants: Tenants, tmp_path):
    newcomer = EntraStandIn(tmp_path / "draft")
    assert two_tenants.add("northwind", newcomer, "--draft", "--domain", "northwind.example").exit_code == 0
    paused = EntraStandIn(tmp_path / "paused")
    assert two_tenants.add("paused", paused, "--domain", "paused.example").exit_code == 0
    assert run_command("entra_connection", "disable", "paused").exit_code == 0
    answers = {}
    for label, email in {
        "no customer at all": "x@nobody.example",
        "a sub-domain of a customer's": f"x@eu.{FABRIKAM_DOMAIN}",
        "a customer's domain as a sub-domain": f"x@{FABRIKAM_DOMAIN}.evil.example",
        "a draft's domain": "x@northwind.example",
        "a disabled connection's domain": "x@paused.example",
        "a consumer domain": "x@outlook.com",
    }.items():
        response = Client().get(f"/saml2/login/?email={email}")
        assert response.status_code == 200 and "Location" not in response, label
        answers[label] = _normalized(response)
    assert len(set(answers.values())) == 1, "the answers differ, so they tell customers apart"
    assert "Single sign-on is not set up for your organization" in next(iter(answers.values()))


def test_a_listed_sub_domain_is_its_own_entry(two_tenants: Tenants):
    assert run_command("entra_connection", "domains", "fabrikam",
                       "--add", f"eu.{FABRIKAM_DOMAIN}").exit_code == 0
    response = Client().get(f"/saml2/login/?email=x@eu.{FABRIKAM_DOMAIN}")
    assert response["Location"].startswith(two_tenants.fabrikam.sso_url)


def test_the_unknown_domain_answer_offers_the_password_login_when_the_site_has_one(
        two_tenants: Tenants, settings):
    assert b"password-sign-in" not in Client().get("/saml2/login/?email=x@nobody.example").content
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "PASSWORD_LOGIN_URL": "/accounts/login/"}
    page = Client().get("/saml2/login/?email=x@nobody.example").content.decode()
    assert 'href="/accounts/login/" id="password-sign-in"' in page


def test_not_an_address_is_asked_again(two_tenants: Tenants):
    response = Client().get("/saml2/login/?email=nestor")
    assert response.status_code == 400 and b"like name@company.com" in response.content


def test_a_named_connection_skips_discovery_and_an_unknown_name_is_a_404_page(two_tenants: Tenants):
    direct = Client().get("/saml2/login/?connection=fabrikam")
    assert direct["Location"].startswith(two_tenants.fabrikam.sso_url)
    for name in ("nope", "x" * 500):
        missing = Client().get(f"/saml2/login/?connection={name}")
        assert missing.status_code == 404 and b"That sign-in link is not valid" in missing.content
        assert b'name="email"' in missing.content  # and the way forward
