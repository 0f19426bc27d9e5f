"""Single logout with the stand-in: SP- and IdP-initiated, Redirect binding, signatures on the raw query."""

from __future__ import annotations

import base64
import copy
import logging
import re
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from thoropass_sso.reasons import Reason
from thoropass_sso.saml.timestamps import parse_instant
from thoropass_sso.signals import sign_in_rejected
from thoropass_sso.slo import SESSION_KEY
from thoropass_sso.testing import EntraStandIn
from thoropass_sso.testing.entra import EntraUser, entra_quote
from thoropass_sso.testing.flows import sign_in

from .conftest import BASE_URL, SP_ENTITY_ID
from .hostile_helpers import held_until

pytestmark = pytest.mark.django_db

LOGOUT_URL = f"{BASE_URL}/saml2/logout/"


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def signed_in(client) -> bool:
    return client.get("/home/").wsgi_request.user.is_authenticated


def reason_of(response) -> str:
    return response.content.decode().split('data-reason="')[1].split('"')[0]


@pytest.fixture
def session(client, entra, ada, stored_metadata):
    """Ada signed in through Entra; returns what the session keeps for single logout."""
    assert sign_in(client, entra, ada).status_code == 302
    return dict(client.session[SESSION_KEY])


# -- SP-initiated --------------------------------------------------------------

@pytest.mark.parametrize("method", ["get", "post"])
def test_sp_initiated_logout_ends_the_session_and_asks_entra(client, entra, ada, session, method):
    assert session["name_id"] == ada.upn and session["session_index"]

    response = getattr(client, method)("/saml2/logout/")

    assert response.status_code == 302
    assert response["Location"].startswith(f"{entra.sso_url}?SAMLRequest=")  # Entra's SLO URL
    assert not signed_in(client)
    sent = entra.read_logout_message(response["Location"])
    assert sent.kind == "LogoutRequest"
    assert (sent.issuer, sent.destination) == (SP_ENTITY_ID, entra.sso_url)
    assert sent.name_id == ada.upn
    assert sent.session_indexes == (session["session_index"],)
    assert not sent.id[0].isdigit()

    # Entra answers; the browser comes back with a signed, lower-case-encoded LogoutResponse.
    answer = entra.logout_response_url(LOGOUT_URL, in_response_to=sent.id, relay_state="/")
    assert re.search(r"%[0-9a-f][a-f]|%[a-f][0-9a-f]", answer)  # lower-case escapes...
    assert not re.search(r"%[0-9A-F][A-F]|%[A-F][0-9A-F]", answer)  # ...only
    back = client.get(local(answer))
    assert back.status_code == 302
    assert back["Location"] == "/"
    assert not signed_in(client)

    # The same LogoutResponse cannot be used twice.
    again = client.get(local(answer))
    assert again.status_code == 403
    assert reason_of(again) == "unknown_request"


def test_logout_response_answering_another_request_is_refused(client, entra, session):
    client.get("/saml2/logout/")
    answer = entra.logout_response_url(LOGOUT_URL, in_response_to="_someone-elses-request")
    response = client.get(local(answer))
    assert response.status_code == 403
    assert reason_of(response) == "unknown_request"


def test_unsolicited_logout_response_is_refused(client, entra, stored_metadata):
    answer = entra.logout_response_url(LOGOUT_URL, in_response_to="_never-sent")
    response = client.get(local(answer))
    assert reason_of(response) == "unknown_request"


def test_single_logout_off_means_local_logout_only(client, settings, session):
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "SINGLE_LOGOUT": False}
    response = client.get("/saml2/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not signed_in(client)


def test_sessions_not_from_entra_and_anonymous_visitors_log_out_locally(client, stored_metadata):
    user = get_user_model().objects.create_user("local", password="x")
    client.force_login(user)
    response = client.post("/saml2/logout/")
    assert (response.status_code, response["Location"]) == (302, "/")
    assert not signed_in(client)
    response = client.get("/saml2/logout/")
    assert (response.status_code, response["Location"]) == (302, "/")


# -- IdP-initiated -------------------------------------------------------------

def test_entra_logout_request_ends_the_session_and_gets_a_logout_response(
        client, entra, ada, session):
    request_url = entra.logout_request_url(LOGOUT_URL, name_id=ada.upn,
                                           session_index=session["session_index"],
                                           relay_state="state/with+odd=chars")

    response = client.get(local(request_url))

    assert response.status_code == 302
    assert not signed_in(client)
    assert response["Location"].startswith(f"{entra.sso_url}?SAMLResponse=")
    answer = entra.read_logout_message(response["Location"])
    request_id = re.search(r'ID="([^"]+)"', zlib.decompress(base64.b64decode(
        _param(request_url, "SAMLRequest")), -15).decode()).group(1)
    assert answer.kind == "LogoutResponse"
    assert answer.in_response_to == request_id
    assert answer.status == "urn:oasis:names:tc:SAML:2.0:status:Success"
    assert (answer.issuer, answer.destination) == (SP_ENTITY_ID, entra.sso_url)
    assert answer.relay_state == "state/with+odd=chars"


def test_entra_logout_request_without_a_local_session_is_still_answered(client, entra,
                                                                        stored_metadata):
    response = client.get(local(entra.logout_request_url(LOGOUT_URL)))
    assert response.status_code == 302
    assert entra.read_logout_message(response["Location"]).kind == "LogoutResponse"


def test_sha1_is_accepted_only_when_allowed(client, entra, ada, session, settings):
    refused = client.get(local(entra.logout_request_url(LOGOUT_URL, sha1=True)))
    assert reason_of(refused) == "weak_algorithm"
    assert signed_in(client)

    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "ALLOW_SHA1": True}
    accepted = client.get(local(entra.logout_request_url(LOGOUT_URL, sha1=True)))
    assert accepted.status_code == 302
    assert not signed_in(client)


def _param(url: str, name: str) -> str:
    from urllib.parse import unquote

    return unquote(re.search(rf"[?&]{name}=([^&]*)", url).group(1))


def _upper_escapes(url: str) -> str:
    return re.sub(r"%[0-9a-f]{2}", lambda m: m.group(0).upper(), url)


def _other_key(entra: EntraStandIn, tmp_path) -> EntraStandIn:
    return EntraStandIn(tmp_path, tenant_id=entra.tenant_id, base_url=entra.base_url)


def _bomb() -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(b"<" + b"a" * 20_000_000) + compressor.flush()
    return entra_quote(base64.b64encode(data).decode())


HOSTILE = {
    "unsigned": (lambda e, t: e.logout_request_url(LOGOUT_URL, sign=False), "unsigned", 403),
    # Signed by this tenant's key but naming another tenant: no connection has that
    # tenant, so no key is even tried (tests/test_many_tenants.py covers a registered one).
    "unknown-issuer": (lambda e, t: e.logout_request_url(
        LOGOUT_URL, issuer="https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/"),
        "unknown_issuer", 403),
    "foreign-key": (lambda e, t: _other_key(e, t).logout_request_url(LOGOUT_URL),
                    "signature_invalid", 403),
    "wrong-destination": (lambda e, t: e.logout_request_url(
        LOGOUT_URL, destination="https://other-app.example/saml2/logout/"), "wrong_destination", 403),
    "stale": (lambda e, t: e.logout_request_url(
        LOGOUT_URL, issued_at=datetime.now(UTC) - timedelta(hours=2)), "stale", 403),
    "future": (lambda e, t: e.logout_request_url(
        LOGOUT_URL, issued_at=datetime.now(UTC) + timedelta(hours=2)), "not_yet_valid", 403),
    "re-encoded-upper-case": (lambda e, t: _upper_escapes(e.logout_request_url(
        LOGOUT_URL, relay_state="/x")), "signature_invalid", 403),
    "relay-state-swapped": (lambda e, t: e.logout_request_url(
        LOGOUT_URL, relay_state="/a").replace("RelayState=%2fa", "RelayState=%2fb"),
        "signature_invalid", 403),
    "signature-stripped-sigalg-kept": (lambda e, t: re.sub(
        r"&Signature=[^&]*", "", e.logout_request_url(LOGOUT_URL)), "unsigned", 403),
    "duplicate-message": (lambda e, t: e.logout_request_url(LOGOUT_URL) + "&SAMLRequest=eA%3d%3d",
                          "logout_malformed", 400),
    "response-as-request": (lambda e, t: e.logout_request_url(
        LOGOUT_URL, mutate=lambda root: setattr(root, "tag", root.tag.replace(
            "LogoutRequest", "LogoutResponse"))), "logout_malformed", 400),
    "garbled-base64": (lambda e, t: e.logout_request_url(LOGOUT_URL).replace(
        "SAMLRequest=", "SAMLRequest=" + "x", 1), "logout_malformed", 400),
    "inflation-bomb": (lambda e, t: f"{LOGOUT_URL}?SAMLRequest={_bomb()}", "response_too_large", 413),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_logout_requests_are_refused_and_the_session_survives(
        client, entra, session, tmp_path, case):
    make, reason, status = HOSTILE[case]
    seen = []
    sign_in_rejected.connect(lambda **kw: seen.append(kw["reason"]), weak=False, dispatch_uid="t")
    try:
        response = client.get(local(make(entra, tmp_path)))
    finally:
        sign_in_rejected.disconnect(dispatch_uid="t")
    assert response.status_code == status
    assert reason_of(response) == reason
    assert seen == [Reason.by_code(reason)]
    assert signed_in(client)


def test_a_replayed_logout_request_is_refused(client, entra, ada, session):
    url = local(entra.logout_request_url(LOGOUT_URL))
    assert client.get(url).status_code == 302
    assert sign_in(client, entra, ada).status_code == 302

    replayed = client.get(url)

    assert replayed.status_code == 403
    assert reason_of(replayed) == "replay"
    assert signed_in(client)


def test_posted_logout_messages_are_refused(client, entra, session):
    url = entra.logout_request_url(LOGOUT_URL)
    response = client.post("/saml2/logout/", {"SAMLRequest": _param(url, "SAMLRequest")})
    assert response.status_code == 400
    assert reason_of(response) == "logout_unsupported_binding"
    assert signed_in(client)


def test_an_unconfigured_site_refuses_logout_messages(client, entra, sso_settings, db):
    response = client.get(local(entra.logout_request_url(LOGOUT_URL)))
    assert response.status_code == 503


# -- cross-site GET: confirm first (a link or image on another site must not sign users out) --

def test_cross_site_get_does_not_log_out_but_asks_to_confirm(client, entra, session):
    response = client.get("/saml2/logout/", HTTP_SEC_FETCH_SITE="cross-site")

    assert response.status_code == 200
    assert signed_in(client)
    assert [t.name for t in response.templates][:2] == [
        "thoropass_sso/logout_confirm.html", "thoropass_sso/base.html"]
    page = response.content.decode()
    assert re.search(r'<form method="post" action="/saml2/logout/">', page)
    assert 'name="csrfmiddlewaretoken"' in page
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "Sec-Fetch-Site" in response["Vary"]
    assert "no-store" in response["Cache-Control"]


def test_the_confirmation_form_logs_out_and_is_csrf_protected(entra, ada, stored_metadata):
    browser = Client(enforce_csrf_checks=True)
    assert sign_in(browser, entra, ada).status_code == 302
    page = browser.get("/saml2/logout/", HTTP_SEC_FETCH_SITE="cross-site")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)

    forged = browser.post("/saml2/logout/")  # another site's auto-submitted form: no token
    assert forged.status_code == 403
    assert signed_in(browser)

    confirmed = browser.post("/saml2/logout/", {"csrfmiddlewaretoken": token},
                             HTTP_SEC_FETCH_SITE="same-origin")
    assert confirmed.status_code == 302
    assert confirmed["Location"].startswith(f"{entra.sso_url}?SAMLRequest=")
    assert not signed_in(browser)


@pytest.mark.parametrize("fetch_site", [None, "same-origin", "same-site", "none"])
def test_same_site_navigation_and_plain_http_clients_still_log_out_with_get(
        client, entra, session, fetch_site):
    headers = {} if fetch_site is None else {"HTTP_SEC_FETCH_SITE": fetch_site}
    response = client.get("/saml2/logout/", **headers)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{entra.sso_url}?SAMLRequest=")
    assert not signed_in(client)


def test_cross_site_get_for_an_anonymous_visitor_just_redirects(client, stored_metadata):
    client.get("/home/")
    response = client.get("/saml2/logout/", HTTP_SEC_FETCH_SITE="cross-site")
    assert (response.status_code, response["Location"]) == (302, "/")


def test_signed_logout_messages_are_processed_even_when_cross_site(client, entra, ada, session):
    url = entra.logout_request_url(LOGOUT_URL, session_index=session["session_index"])
    response = client.get(local(url), HTTP_SEC_FETCH_SITE="cross-site")
    assert response.status_code == 302
    assert entra.read_logout_message(response["Location"]).kind == "LogoutResponse"
    assert not signed_in(client)


# -- IdP-initiated LogoutRequest naming other sessions ----------------------------------------

def test_a_logout_request_for_another_entra_session_keeps_this_one(client, entra, ada, session):
    """An attacker signs in, captures the signed LogoutRequest Entra sends for THEIR session
    and gets it into the victim's browser: the victim stays signed in."""
    attacker = Client()
    mallory = EntraUser(upn="mallory@contoso.example", given_name="Mallory", surname="M",
                        email="mallory@contoso.example")
    assert sign_in(attacker, entra, mallory).status_code == 302
    attackers_index = attacker.session[SESSION_KEY]["session_index"]
    assert attackers_index != session["session_index"]
    captured = entra.logout_request_url(LOGOUT_URL, name_id=ada.upn, session_index=attackers_index)

    response = client.get(local(captured))

    assert signed_in(client)
    assert response.status_code == 302
    answer = entra.read_logout_message(response["Location"])
    assert answer.kind == "LogoutResponse"
    assert answer.status == "urn:oasis:names:tc:SAML:2.0:status:Success"
    # The same kind of message does end the session it names.
    mine = entra.logout_request_url(LOGOUT_URL, session_index=attackers_index)
    assert attacker.get(local(mine)).status_code == 302
    assert not signed_in(attacker)


def test_a_logout_request_naming_this_session_among_others_ends_it(client, entra, session):
    def add_other_index(root):
        other = copy.deepcopy(root.find("{urn:oasis:names:tc:SAML:2.0:protocol}SessionIndex"))
        other.text = "_some-other-session"
        root.insert(list(root).index(root[-1]), other)

    url = entra.logout_request_url(LOGOUT_URL, session_index=session["session_index"],
                                   mutate=add_other_index)
    assert "_some-other-session" in zlib.decompress(base64.b64decode(
        _param(url, "SAMLRequest")), -15).decode()
    assert client.get(local(url)).status_code == 302
    assert not signed_in(client)


# -- Entra's LogoutResponse with an error status ------------------------------------------------

def test_a_logout_response_with_an_error_status_redirects_and_warns(client, entra, session, caplog):
    sent = entra.read_logout_message(client.get("/saml2/logout/")["Location"])
    answer = entra.logout_response_url(LOGOUT_URL, in_response_to=sent.id,
                                       status="urn:oasis:names:tc:SAML:2.0:status:Requester")
    seen = []
    sign_in_rejected.connect(lambda **kw: seen.append(kw["reason"]), weak=False, dispatch_uid="t")
    try:
        with caplog.at_level(logging.INFO, logger="thoropass_sso"):
            back = client.get(local(answer))
    finally:
        sign_in_rejected.disconnect(dispatch_uid="t")

    assert (back.status_code, back["Location"]) == (302, "/")
    assert not signed_in(client)
    assert seen == []  # not a refused message: the user is signed out of this site
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["single logout not confirmed by Entra reason=logout_not_confirmed "
                        "status=Requester"]
    assert Reason.by_code("logout_not_confirmed") is Reason.LOGOUT_NOT_CONFIRMED


def test_a_successful_logout_response_logs_no_warning(client, entra, session, caplog):
    sent = entra.read_logout_message(client.get("/saml2/logout/")["Location"])
    answer = entra.logout_response_url(LOGOUT_URL, in_response_to=sent.id)
    with caplog.at_level(logging.INFO, logger="thoropass_sso"):
        assert client.get(local(answer)).status_code == 302
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "single logout finished status=Success" in caplog.messages


# -- how long a logout message id is held -------------------------------------------------------

SKEW = timedelta(seconds=180)  # default CLOCK_SKEW
MAX_AGE = timedelta(seconds=600)  # default MAX_RESPONSE_AGE


def test_a_logout_message_id_is_held_for_its_acceptance_window_plus_skew_once(client, entra, session):
    url = entra.logout_request_url(LOGOUT_URL, message_id="_held-once")
    issued = parse_instant(re.search(r'IssueInstant="([^"]+)"', zlib.decompress(base64.b64decode(
        _param(url, "SAMLRequest")), -15).decode()).group(1))
    assert client.get(local(url)).status_code == 302

    held = held_until("logout", "_held-once")
    # Accepted until IssueInstant + MAX_RESPONSE_AGE + skew: held at least that long...
    assert held >= issued + MAX_AGE + SKEW
    # ...plus rounding, but not a second skew.
    assert held <= issued + MAX_AGE + SKEW + timedelta(seconds=3)


def test_a_logout_request_replayed_at_the_end_of_its_window_is_refused(client, entra, ada, session):
    issued = datetime.now(UTC) - MAX_AGE - SKEW + timedelta(seconds=20)
    url = local(entra.logout_request_url(LOGOUT_URL, issued_at=issued))
    assert client.get(url).status_code == 302  # still fresh (within the skew)
    assert sign_in(client, entra, ada).status_code == 302
    replayed = client.get(url)
    assert reason_of(replayed) == "replay"
    assert signed_in(client)
