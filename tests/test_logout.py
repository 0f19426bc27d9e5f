"""Single logout with the stand-in: SP- and IdP-initiated, Redirect binding, signatures on the raw query."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from thoropass_sso.reasons import Reason
from thoropass_sso.signals import sign_in_rejected
from thoropass_sso.slo import SESSION_KEY
from thoropass_sso.testing import EntraStandIn
from thoropass_sso.testing.entra import entra_quote
from thoropass_sso.testing.flows import sign_in

from .conftest import BASE_URL, SP_ENTITY_ID

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
    "wrong-issuer": (lambda e, t: e.logout_request_url(
        LOGOUT_URL, issuer="https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/"),
        "wrong_issuer", 403),
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
