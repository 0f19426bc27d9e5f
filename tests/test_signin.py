"""Sign-in through the real SAML path: SP- and IdP-initiated, Entra's signing options, users."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed

from thoropass_sso.claims import CLAIM_TENANT_ID
from thoropass_sso.models import EntraIdentity
from thoropass_sso.testing import EntraUser
from thoropass_sso.testing.flows import idp_initiated, post_response, sign_in, start_login

from .conftest import ACS_URL, SP_ENTITY_ID

pytestmark = pytest.mark.django_db


def whoami(client) -> User | None:
    user = client.get("/home/").wsgi_request.user
    return user if user.is_authenticated else None


@pytest.mark.every_signature_backend
def test_sp_initiated_returns_to_the_deep_link_and_creates_the_user(client, entra, ada, stored_metadata):
    response = sign_in(client, entra, ada, next_path="/deep/link/?tab=2")

    assert response.status_code == 302
    assert response["Location"] == "/deep/link/?tab=2"
    user = whoami(client)
    assert user is not None
    assert (user.email, user.first_name, user.last_name) == (
        "ada.lovelace@contoso.example", "Ada", "Lovelace")
    assert not user.has_usable_password()
    identity = EntraIdentity.objects.get(user=user)
    assert (identity.tenant_id, identity.object_id, identity.upn) == (
        entra.tenant_id, ada.object_id, ada.upn)
    assert identity.last_sign_in is not None


def test_sp_initiated_without_next_goes_to_login_redirect_url(client, entra, ada, stored_metadata):
    response = sign_in(client, entra, ada)
    assert response["Location"] == "/home/"


@pytest.mark.every_signature_backend  # both THOROPASS_SSO['SIGNATURE_BACKEND'] values
@pytest.mark.parametrize(
    ("sign_assertion", "sign_response"),
    [(True, False), (False, True), (True, True)],
    ids=["entra-default-assertion-signed", "sign-response", "sign-both"],
)
def test_every_entra_signing_option_signs_in(client, entra, ada, stored_metadata,
                                             sign_assertion, sign_response):
    response = sign_in(client, entra, ada, sign_assertion=sign_assertion, sign_response=sign_response)
    assert response.status_code == 302
    assert whoami(client).email == ada.email


@pytest.mark.every_signature_backend
def test_idp_initiated_honours_a_relative_relay_state(client, entra, ada, stored_metadata):
    response = idp_initiated(client, entra, ada, acs_url=ACS_URL, audience=SP_ENTITY_ID,
                             relay_state="/deep/link/")
    assert response.status_code == 302
    assert response["Location"] == "/deep/link/"
    assert whoami(client).email == ada.email


@pytest.mark.parametrize("relay_state", [None, "", "https://evil.example/", "//evil.example/x"])
def test_idp_initiated_ignores_missing_or_foreign_relay_state(client, entra, ada, stored_metadata,
                                                              relay_state):
    response = idp_initiated(client, entra, ada, acs_url=ACS_URL, audience=SP_ENTITY_ID,
                             relay_state=relay_state)
    assert response.status_code == 302
    assert response["Location"] == "/home/"


def test_authn_request_is_shaped_the_way_entra_accepts(client, entra, stored_metadata):
    response, request = start_login(client, "/deep/link/", entra)
    assert response["Location"].startswith(f"{entra.sso_url}?")
    assert not request.id[0].isdigit()
    assert request.issuer == SP_ENTITY_ID
    assert request.acs_url == ACS_URL
    assert request.relay_state == ""  # next stays in our signed cookie, not at Entra
    xml = request.xml.decode()
    assert "RequestedAuthnContext" not in xml
    assert "Subject" not in xml
    assert 'Destination="' + entra.sso_url + '"' in xml


def test_login_hint_is_passed_to_entra(client, stored_metadata):
    response = client.get("/saml2/login/?login_hint=ada%40contoso.example")
    assert "login_hint=ada%40contoso.example" in response["Location"]


def test_signed_in_user_visiting_login_goes_straight_to_next(client, entra, ada, stored_metadata):
    sign_in(client, entra, ada)
    response = client.get("/saml2/login/?next=/deep/link/")
    assert response.status_code == 302
    assert response["Location"] == "/deep/link/"


def test_fields_follow_entra_and_the_account_survives_upn_and_email_changes(
        client, entra, ada, stored_metadata):
    sign_in(client, entra, ada)
    first = whoami(client)
    client.logout()
    renamed = EntraUser(upn="ada.king@contoso.example", given_name="Ada", surname="King",
                        email="ada.king@contoso.example", object_id=ada.object_id)

    sign_in(client, entra, renamed)

    again = whoami(client)
    assert again.pk == first.pk
    assert (again.email, again.last_name) == ("ada.king@contoso.example", "King")
    assert again.username == first.username  # display only; never re-keyed
    assert EntraIdentity.objects.get().upn == "ada.king@contoso.example"
    assert get_user_model().objects.count() == 1


def test_an_existing_account_with_the_same_email_or_username_is_not_taken_over(
        client, entra, ada, stored_metadata):
    victim = get_user_model().objects.create_user(
        username=ada.upn, email=ada.email, password="correct horse battery staple")

    sign_in(client, entra, ada)

    user = whoami(client)
    assert user.pk != victim.pk
    assert user.username != victim.username
    victim.refresh_from_db()
    assert victim.check_password("correct horse battery staple")
    assert not EntraIdentity.objects.filter(user=victim).exists()


def test_a_reused_upn_with_a_new_object_id_is_a_new_person(client, entra, ada, stored_metadata):
    sign_in(client, entra, ada)
    first = whoami(client)
    client.logout()
    newcomer = EntraUser(upn=ada.upn, email=ada.email, given_name="Another", surname="Ada")

    sign_in(client, entra, newcomer)

    assert whoami(client).pk != first.pk
    assert EntraIdentity.objects.count() == 2


def test_create_users_off_refuses_unknown_identities_and_keeps_known_ones(
        client, entra, ada, stored_metadata, settings, caplog):
    sign_in(client, entra, ada)
    client.logout()
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "CREATE_USERS": False}

    stranger = EntraUser(upn="mallory@contoso.example", email="mallory@contoso.example")
    with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
        refused = sign_in(client, entra, stranger)
    assert refused.status_code == 403
    assert "reason=unknown_user" in caplog.text
    assert get_user_model().objects.count() == 1

    assert sign_in(client, entra, ada).status_code == 302


def test_an_inactive_user_is_refused(client, entra, ada, stored_metadata):
    sign_in(client, entra, ada)
    user = whoami(client)
    client.logout()
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)

    response = sign_in(client, entra, ada)

    assert response.status_code == 403
    assert whoami(client) is None


def test_a_refusal_leaves_the_transaction_usable_for_login_failed_receivers(
        client, entra, ada, stored_metadata):
    """Sites log failed logins to the database (django-axes and the like) from Django's
    user_login_failed signal, sent while the sign-in's transaction is still open."""
    sign_in(client, entra, ada)
    user = whoami(client)
    client.logout()
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    seen = []

    def audit(sender, credentials, request, **kwargs):
        seen.append(get_user_model().objects.count())  # a query in the open transaction

    user_login_failed.connect(audit)
    try:
        response = sign_in(client, entra, ada)
    finally:
        user_login_failed.disconnect(audit)
    assert response.status_code == 403
    assert seen == [1]


def test_another_tenants_tenantid_claim_is_refused(client, entra, stored_metadata):
    intruder = EntraUser(upn="eve@fabrikam.example",
                         extra_claims={CLAIM_TENANT_ID: ["9188040d-6c67-4c5b-b112-36a304b66dad"]})
    response = sign_in(client, entra, intruder)
    assert response.status_code == 403
    assert b"wrong_tenant" in response.content
    assert not get_user_model().objects.exists()


def test_a_response_from_another_tenant_is_refused(client, entra, ada, stored_metadata, tmp_path):
    from thoropass_sso.testing import EntraStandIn

    other = EntraStandIn(tmp_path)
    _, request = start_login(client, None, entra)
    xml = other.response_xml(ada, acs_url=ACS_URL, audience=SP_ENTITY_ID, in_response_to=request.id)
    response = post_response(client, other.post_binding_value(xml))
    assert response.status_code == 403
    assert b"unknown_issuer" in response.content  # no connection has that tenant
    assert not get_user_model().objects.exists()


def test_without_stored_metadata_sign_in_names_the_command(client, entra, ada, sso_settings, db,
                                                          caplog):
    with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
        response = client.get("/saml2/login/")
    assert response.status_code == 503
    assert b"refresh_entra_metadata" in response.content
    assert "reason=metadata_not_stored" in caplog.text

    # A genuine response from the configured tenant: the site is what is missing, not the user.
    response = idp_initiated(client, entra, ada, acs_url=ACS_URL, audience=SP_ENTITY_ID)
    assert response.status_code == 503
    assert b"refresh_entra_metadata" in response.content


def test_rejection_page_has_a_reference_that_matches_the_log(client, stored_metadata, caplog):
    with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
        response = client.post("/saml2/acs/", {"SAMLResponse": "not base64 at all!"})
    assert response.status_code == 400
    reference = response.content.decode().split('class="reference"')[1].split(">")[1].split("<")[0]
    assert len(reference) == 8
    assert f"reference={reference}" in caplog.text


def test_acs_answers_get_with_405(client, stored_metadata):
    assert client.get("/saml2/acs/").status_code == 405


def test_logout_ends_the_session(client, entra, ada, stored_metadata):
    sign_in(client, entra, ada)
    response = client.post("/saml2/logout/")
    assert response.status_code == 302
    assert whoami(client) is None


def test_sp_metadata_describes_this_site(client, sso_settings):
    response = client.get("/saml2/metadata/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'entityID="{SP_ENTITY_ID}"' in body
    assert f'Location="{ACS_URL}"' in body
    assert 'WantAssertionsSigned="true"' in body


def test_a_newer_sign_in_does_not_extend_an_older_requests_lifetime(
        client, entra, ada, stored_metadata, settings):
    """Each pending request keeps its own start time when the cookie is re-signed.

    Timed with an injected clock, not sleeps. Regression (issue 16): two 2.1 s sleeps against
    a 4 s timeout, with start times in whole seconds, failed on a loaded machine. Mutation
    that must fail this: stamp every pending entry with the time of the last write.
    """
    from datetime import UTC, datetime, timedelta

    from thoropass_sso import clock
    from thoropass_sso.testing.flows import response_for

    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "REQUEST_TIMEOUT": 600}
    moment = [datetime.now(UTC).replace(microsecond=0)]
    with clock.use(now=lambda: moment[0]):
        _, older = start_login(client, "/deep/link/", entra)
        moment[0] += timedelta(seconds=400)
        _, newer = start_login(client, "/home/", entra)  # re-signs the pending cookie
        moment[0] += timedelta(seconds=300)
        stale_xml, fresh_xml = (response_for(entra, ada, r, issued_at=moment[0])
                                for r in (older, newer))
        # The cookie as a whole was written 300 s ago, but the older request is 700 s old.
        stale = post_response(client, entra.post_binding_value(stale_xml))
        assert stale.status_code == 403
        assert b"unknown_request" in stale.content
        fresh = post_response(client, entra.post_binding_value(fresh_xml))
        assert fresh.status_code == 302


def test_a_configuration_mistake_found_at_sign_in_is_a_503_page_not_a_500(
        client, entra, ada, stored_metadata, settings, caplog):
    # The stored metadata is for the stand-in's tenant; the settings now name another.
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO,
                              "TENANT_ID": "9188040d-6c67-4c5b-b112-36a304b66dad"}
    with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
        response = client.get("/saml2/login/")
    assert response.status_code == 503
    assert b"manage.py check" in response.content
    assert "reason=misconfigured" in caplog.text
    assert idp_initiated(client, entra, ada, acs_url=ACS_URL,
                         audience=SP_ENTITY_ID).status_code == 503


@pytest.mark.django_db
def test_a_sign_in_without_a_session_index_keeps_none_for_logout(client, entra, ada, stored_metadata):
    # SessionIndex is optional in the schema: the logout request then names none, rather
    # than an index Entra never issued. Mutation: the "" default replaced ("XXXX").
    from lxml import etree

    from thoropass_sso.slo import SESSION_KEY

    def without_session_index(root: etree._Element) -> None:
        statement = root.find(".//{urn:oasis:names:tc:SAML:2.0:assertion}AuthnStatement")
        del statement.attrib["SessionIndex"]

    assert sign_in(client, entra, ada, mutate=without_session_index).status_code == 302
    assert client.session[SESSION_KEY]["session_index"] == ""
    other = type(client)()
    assert sign_in(other, entra, ada).status_code == 302
    assert other.session[SESSION_KEY]["session_index"]  # the control: Entra's index is kept


@pytest.mark.django_db
def test_the_name_id_format_is_kept_for_the_logout_request(client, entra, ada, stored_metadata):
    # Entra matches a LogoutRequest's NameID by value and Format, so the Format of the
    # sign-in's NameID is what the session keeps; none sent is none kept. Mutations: the
    # attribute name or the "" default of NameID@Format changed, or None passed instead.
    from lxml import etree

    from thoropass_sso.slo import SESSION_KEY

    saml = "urn:oasis:names:tc:SAML:2.0:assertion"
    assert sign_in(client, entra, ada).status_code == 302
    format_sent = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert client.session[SESSION_KEY]["name_id_format"] == format_sent

    def without_format(root: etree._Element) -> None:
        del root.find(f".//{{{saml}}}Subject/{{{saml}}}NameID").attrib["Format"]

    other = type(client)()
    assert sign_in(other, entra, ada, mutate=without_format).status_code == 302
    assert other.session[SESSION_KEY]["name_id_format"] == ""


@pytest.mark.django_db
def test_the_claims_a_receiver_gets_are_what_entra_sent(client, entra, stored_metadata):
    # user_signed_in's ``claims`` is what adapters and receivers decide from: every claim
    # read, each from its own attribute. Mutations: a field of EntraClaims.from_attributes
    # dropped, set to None, or read from another attribute; its defaults changed.
    from thoropass_sso.entra import CLAIM_WIDS
    from thoropass_sso.signals import user_signed_in

    wids = ["62e90394-69f5-4237-9190-012177145e10"]
    user = EntraUser(upn="claims@contoso.example", display_name="Claims Person",
                     extra_claims={CLAIM_WIDS: wids})
    received = []

    def receiver(sender, claims, **kwargs):
        received.append(claims)

    user_signed_in.connect(receiver)
    try:
        assert sign_in(client, entra, user).status_code == 302
    finally:
        user_signed_in.disconnect(receiver)
    (claims,) = received
    assert claims.upn == user.upn
    assert claims.display_name == "Claims Person"
    assert claims.auth_methods == (
        "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",)
    assert tuple(claims.directory_roles) == tuple(wids)
    assert tuple(claims.attributes[CLAIM_WIDS]) == tuple(wids)
    assert claims.name_id_format == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert claims.session_index


@pytest.mark.django_db
def test_the_upn_is_the_name_claim_and_only_without_one_the_name_id(client, entra, stored_metadata):
    # Mutations: ``or`` -> ``and`` (the NameID would win over the name claim), the name
    # claim read from another attribute.
    from lxml import etree

    from thoropass_sso.entra import CLAIM_NAME
    from thoropass_sso.signals import user_signed_in

    saml = "urn:oasis:names:tc:SAML:2.0:assertion"

    def name_id_of_its_own(root: etree._Element) -> None:
        root.find(f".//{{{saml}}}Subject/{{{saml}}}NameID").text = "other.nameid@contoso.example"

    def and_no_name_claim(root: etree._Element) -> None:
        name_id_of_its_own(root)
        attribute = root.find(f".//{{{saml}}}Attribute[@Name='{CLAIM_NAME}']")
        attribute.getparent().remove(attribute)

    received = []

    def receiver(sender, claims, **kwargs):
        received.append(claims.upn)

    user = EntraUser(upn="named@contoso.example")
    user_signed_in.connect(receiver)
    try:
        for mutate in (name_id_of_its_own, and_no_name_claim):
            assert sign_in(type(client)(), entra, user, mutate=mutate).status_code == 302
    finally:
        user_signed_in.disconnect(receiver)
    assert received == ["named@contoso.example", "other.nameid@contoso.example"]
