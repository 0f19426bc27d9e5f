"""The pending-request cookie: what it binds, how long, and the attributes browsers need.

These drive thoropass_sso.pending directly (a request in, a response out) because what
is checked is the cookie itself: the attributes Entra's cross-site POST depends on, and
what a cookie written by one sign-in says when the response comes back. Sign-ins through
the cookie, end to end, are in test_signin.py and test_hostile_replay.py. Time is the
injected clock, never a sleep.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from http.cookies import Morsel

import pytest
from django.core import signing
from django.http import HttpResponse
from django.test import RequestFactory

from thoropass_sso import clock
from thoropass_sso.conf import get_settings
from thoropass_sso.pending import (
    _SALT,
    COOKIE_NAME,
    PURPOSE_TEST,
    PendingRequest,
    forget_request,
    read_pending,
    remember_request,
)

# sso_settings empties the cache table (tests/conftest.py).
pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 2, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def at(sso_settings):
    """Run the block with clock.now() at START + ``seconds``."""
    def at(seconds: float = 0):
        moment = START + timedelta(seconds=seconds)
        return clock.use(now=lambda: moment)
    return at


def remembered(request_id: str = "id-1", next_path: str = "/reports/", *, cookie: str = "",
               **options) -> tuple[str, Morsel]:
    request = RequestFactory().get("/saml2/login/")
    if cookie:
        request.COOKIES[COOKIE_NAME] = cookie
    response = HttpResponse()
    options.setdefault("connection", "fabrikam")
    remember_request(request, response, request_id, next_path, **options)
    morsel = response.cookies[COOKIE_NAME]
    return morsel.value, morsel


def read(cookie: str | None) -> dict[str, PendingRequest]:
    request = RequestFactory().post("/saml2/acs/")
    if cookie is not None:
        request.COOKIES[COOKIE_NAME] = cookie
    return read_pending(request)


def forgotten(cookie: str | None, request_id: str) -> HttpResponse:
    request = RequestFactory().post("/saml2/acs/")
    if cookie is not None:
        request.COOKIES[COOKIE_NAME] = cookie
    response = HttpResponse()
    forget_request(request, response, request_id)
    return response


def with_base_url(settings, url: str) -> None:
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "BASE_URL": url}


# -- attributes -----------------------------------------------------------------------


def test_on_https_the_cookie_survives_entras_cross_site_post(settings, at):
    # Mutations: httponly False, secure None, SameSite spelled otherwise or dropped, path
    # changed, max_age dropped -> the attribute below differs.
    with_base_url(settings, "https://app.example/")
    with at():
        _, morsel = remembered()
    assert morsel["httponly"] is True
    assert morsel["secure"] is True
    assert morsel["samesite"] == "None"  # exactly what browsers accept for cross-site
    assert morsel["path"] == "/"
    assert morsel["max-age"] == get_settings().REQUEST_TIMEOUT


def test_on_http_the_cookie_is_neither_secure_nor_samesite_none(settings, at):
    # Browsers refuse SameSite=None without Secure, so on http no SameSite is sent at all.
    # Mutation: ``"None" if (secure) or True`` -> SameSite=None on http.
    with_base_url(settings, "http://localhost:8000/")
    with at():
        _, morsel = remembered()
    assert morsel["httponly"] is True
    assert not morsel["secure"]
    assert not morsel["samesite"]
    assert morsel["path"] == "/"


def test_the_last_answered_request_deletes_the_cookie_with_the_same_attributes(settings, at):
    # A deletion only replaces the cookie when path and SameSite match the one set.
    # Mutations: delete_cookie without path / samesite -> a different cookie is "deleted".
    with_base_url(settings, "https://app.example/")
    with at():
        cookie, _ = remembered("id-1")
        response = forgotten(cookie, "id-1")
    deletion = response.cookies[COOKIE_NAME]
    assert deletion.value == ""
    assert deletion["max-age"] == 0
    assert deletion["path"] == "/"
    assert deletion["samesite"] == "None"
    assert deletion["secure"] is True


def test_five_sign_ins_to_one_long_page_fit_in_a_browsers_cookie(sso_settings, at):
    # Browsers drop a cookie over 4096 bytes: the pending requests would then all be lost.
    # A person who clicks "sign in" again and again on a deep link repeats the same path.
    # Mutation: signing.dumps(..., compress=False) -> about 10 kB, over the limit.
    next_path = "/reports/?q=" + secrets.token_urlsafe(1100)
    cookie = ""
    with at():
        for number in range(5):
            cookie, _ = remembered(f"id-{number}", next_path, cookie=cookie)
        assert len(read(cookie)) == 5
    assert len(f"{COOKIE_NAME}={cookie}") < 4096


# -- what it binds ------------------------------------------------------------------------


def test_each_request_comes_back_with_its_connection_purpose_and_actor(sso_settings, at):
    # Mutations: the purpose or the actor dropped when writing or reading an entry.
    with at():
        cookie, _ = remembered("id-1", "/a/", connection="fabrikam")
        cookie, _ = remembered("id-2", "/b/", cookie=cookie, connection="contoso",
                               purpose=PURPOSE_TEST, actor_id="42")
        pending = read(cookie)
    started = int(START.timestamp())
    assert pending == {
        "id-1": PendingRequest("/a/", started, "fabrikam"),
        "id-2": PendingRequest("/b/", started, "contoso", PURPOSE_TEST, "42"),
    }


def test_a_cookie_from_before_connections_were_recorded_means_the_default(sso_settings, at):
    # Three-item entries were written by 0.x (no connection, a sign-in, no actor).
    # Mutations: the accepted lengths or the defaults changed.
    with at():
        cookie = signing.dumps([["id-1", "/old/", int(START.timestamp())]], salt=_SALT,
                               compress=True)
        assert read(cookie) == {"id-1": PendingRequest("/old/", int(START.timestamp()), "")}


@pytest.mark.parametrize("item", [
    ["id", "/", "not-an-int", "c", "sign-in", ""],
    ["id", "/", "1"],
    ("id", "/", 1),  # only JSON lists come out of the cookie, but the parser takes any object
    ["id", "/", 1, "c"],
    ["id", "/", 1, "c", "sign-in", 7],
    {"id": "/"},
])
def test_an_entry_of_any_other_shape_is_ignored(item):
    # Mutations: the ``or``s of from_item's shape test turned into ``and``s.
    assert PendingRequest.from_item(item) is None


def test_a_request_is_answerable_for_exactly_the_request_timeout(sso_settings, at):
    # Mutation: ``<=`` -> ``<`` -> a request is refused exactly at REQUEST_TIMEOUT.
    timeout = get_settings().REQUEST_TIMEOUT
    with at():
        cookie, _ = remembered()
    with at(timeout):
        assert "id-1" in read(cookie)
    with at(timeout + 1):
        assert read(cookie) == {}


def test_a_tampered_or_foreign_cookie_is_no_pending_request(sso_settings, at):
    with at():
        cookie, _ = remembered()
        assert read(cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")) == {}
        assert read(signing.dumps([["id-1", "/", int(START.timestamp())]], salt="other")) == {}
        assert read(signing.dumps({"id-1": "/"}, salt=_SALT)) == {}
        assert read(None) == {}


# -- forgetting -----------------------------------------------------------------------------


def test_answering_one_request_keeps_the_others(sso_settings, at):
    # Mutation: _write(response, None) -> the whole cookie deleted.
    with at():
        cookie, _ = remembered("id-1")
        cookie, _ = remembered("id-2", cookie=cookie)
        response = forgotten(cookie, "id-1")
        assert list(read(response.cookies[COOKIE_NAME].value)) == ["id-2"]


def test_forgetting_without_a_cookie_sets_no_cookie(sso_settings, at):
    # An IdP-initiated sign-in has no pending request; its response must not gain a
    # Set-Cookie. Mutations: ``is not None`` -> ``is None``; pop() without its default.
    with at():
        response = forgotten(None, "id-1")
    assert COOKIE_NAME not in response.cookies


def test_a_cookie_left_with_only_expired_requests_is_cleared(sso_settings, at):
    # Mutations: ``or`` -> ``and``; COOKIES.get(None) -> a stale cookie is left behind.
    with at():
        cookie, _ = remembered("id-1")
    with at(get_settings().REQUEST_TIMEOUT + 5):
        response = forgotten(cookie, "id-2")
    assert response.cookies[COOKIE_NAME].value == ""
    assert response.cookies[COOKIE_NAME]["max-age"] == 0
