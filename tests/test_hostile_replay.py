"""Issue 3, items 5 and 6: replay (one sign-in per assertion id, across browsers)
and SP-initiated correlation (the response must answer a request this browser
made, once). Two real server processes: tests/test_hostile_replay_processes.py."""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.signing import dumps
from django.test import Client
from lxml import etree

from thoropass_sso.models import UsedMessageId
from thoropass_sso.pending import COOKIE_NAME
from thoropass_sso.reasons import Reason
from thoropass_sso.saml.timestamps import parse_instant

from .databases import REDIS_URL
from .hostile_helpers import (
    NS,
    Hostile,
    assertion_of,
    held_until,
    hostile,  # noqa: F401 - fixture
    override_sso,
)

pytestmark = pytest.mark.django_db

CONFIRMATION = "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"
SKEW = timedelta(seconds=180)  # default CLOCK_SKEW
MAX_AGE = timedelta(seconds=600)  # default MAX_RESPONSE_AGE


def test_same_response_twice_in_the_same_browser(hostile: Hostile) -> None:
    client, request = hostile.login()
    cookie = client.cookies[COOKIE_NAME].value
    xml = hostile.genuine(request)
    hostile.expect_signed_in(hostile.post(client, xml))
    # The browser's pending request was forgotten on success...
    hostile.expect_rejected(Reason.UNKNOWN_REQUEST, lambda: hostile.post(client, xml))
    # ...and an attacker who kept the old cookie as well is stopped by the shared cache.
    client.cookies[COOKIE_NAME] = cookie
    hostile.expect_rejected(Reason.REPLAY, lambda: hostile.post(client, xml))


def test_same_sp_initiated_response_from_another_browser(hostile: Hostile) -> None:
    client, request = hostile.login()
    cookie = client.cookies[COOKIE_NAME].value
    xml = hostile.genuine(request)
    hostile.expect_signed_in(hostile.post(client, xml))
    thief = Client()
    thief.cookies[COOKIE_NAME] = cookie  # even with the victim's cookie copied
    hostile.expect_rejected(Reason.REPLAY, lambda: hostile.post(thief, xml))


@pytest.mark.parametrize("where", ["same browser", "another browser"])
def test_unsolicited_replay(hostile: Hostile, where: str) -> None:
    xml = hostile.unsolicited()
    first = Client()
    hostile.expect_signed_in(hostile.post(first, xml))
    second = first if where == "same browser" else Client()
    hostile.expect_rejected(Reason.REPLAY, lambda: hostile.post(second, xml))


def test_response_made_for_another_browser(hostile: Hostile) -> None:
    victim, request = hostile.login()
    attacker, _ = hostile.login()  # has a pending request of its own
    xml = hostile.genuine(request)
    hostile.expect_rejected(Reason.UNKNOWN_REQUEST, lambda: hostile.post(attacker, xml))
    hostile.expect_rejected(Reason.UNKNOWN_REQUEST, lambda: hostile.post(Client(), xml))
    hostile.expect_signed_in(hostile.post(victim, xml))  # control: its own browser


def test_request_id_answered_twice(hostile: Hostile) -> None:
    """Two different, genuine assertions for one request id: the second is refused."""
    client, request = hostile.login()
    cookie = client.cookies[COOKIE_NAME].value
    first, second = hostile.genuine(request), hostile.genuine(request)
    hostile.expect_signed_in(hostile.post(client, first))
    client.cookies[COOKIE_NAME] = cookie
    hostile.expect_rejected(Reason.REPLAY, lambda: hostile.post(client, second))


def test_forged_pending_cookie(hostile: Hostile, settings) -> None:
    client, request = hostile.login()
    xml = hostile.genuine(request)
    forged = dumps(
        [[request.id, "/home/"]],
        key="not-the-site-secret",
        salt="thoropass_sso.pending",
        compress=True,
    )
    genuine_cookie = client.cookies[COOKIE_NAME].value
    client.cookies[COOKIE_NAME] = forged
    hostile.expect_rejected(Reason.UNKNOWN_REQUEST, lambda: hostile.post(client, xml))
    # Control: the same response with the site's own cookie signs in.
    client.cookies[COOKIE_NAME] = genuine_cookie
    hostile.expect_signed_in(hostile.post(client, xml))


def test_in_response_to_differs_between_response_and_assertion(hostile: Hostile) -> None:
    def other_request(root: etree._Element) -> None:
        root.set("InResponseTo", "_another-request")

    hostile.attack(Reason.UNKNOWN_REQUEST, mutate=other_request)


@pytest.fixture(params=["database", "database cache", *(["redis"] if REDIS_URL else [])],
                autouse=True)
def store(request, sso_settings) -> str:
    """Every test here on every replay store: the default table, a Django cache named by
    REPLAY_CACHE, and Django's RedisCache when the run has a Redis (the PostgreSQL
    sessions). After sso_settings, which writes THOROPASS_SSO afresh."""
    if request.param == "database cache":
        override_sso(sso_settings, REPLAY_CACHE="default")  # tests/settings.py: a DatabaseCache
    elif request.param == "redis":
        override_sso(sso_settings, REPLAY_CACHE="redis")  # tests/settings.py: a RedisCache
    return request.param


def confirmation_expiry(xml: bytes) -> datetime:
    data = assertion_of(etree.fromstring(xml)).find(CONFIRMATION, NS)
    return parse_instant(data.get("NotOnOrAfter"))


def test_replay_hold_covers_the_confirmation_window(hostile: Hostile, store, settings) -> None:
    xml = hostile.unsolicited()
    hostile.expect_signed_in(hostile.post(Client(), xml))
    hostile.expect_rejected(Reason.REPLAY, lambda: hostile.post(Client(), xml))
    assertion_id = assertion_of(etree.fromstring(xml)).get("ID")
    # Accepted until NotOnOrAfter + skew (exclusive): the id must be held at least that long.
    assert held_until("assertion", assertion_id) >= confirmation_expiry(xml) + SKEW
    # The id went to the store under test, and only there.
    assert UsedMessageId.objects.exists() == (store == "database")


def test_far_future_expiry_is_held_and_never_a_server_error(hostile: Hostile, store,
                                                            settings) -> None:
    """An assertion valid until year 9999 must not overflow the cache timeout (a 500). It can
    only be accepted until its IssueInstant goes stale, so that bounds the hold — and its
    replay is still refused."""

    def forever(root: etree._Element) -> None:
        assertion = assertion_of(root)
        assertion.find("saml:Conditions", NS).set("NotOnOrAfter", "9999-12-31T23:59:59Z")
        assertion.find(CONFIRMATION, NS).set("NotOnOrAfter", "9999-12-31T23:59:59Z")

    xml = hostile.unsolicited(mutate=forever)
    hostile.expect_signed_in(hostile.post(Client(), xml))
    hostile.expect_rejected(Reason.REPLAY, lambda: hostile.post(Client(), xml))
    assertion = assertion_of(etree.fromstring(xml))
    issued = parse_instant(assertion.get("IssueInstant"))
    held = held_until("assertion", assertion.get("ID"))
    # Stale after IssueInstant + MAX_RESPONSE_AGE + skew; held at least that long, not forever.
    assert issued + MAX_AGE + SKEW <= held
    assert held <= issued + MAX_AGE + 3 * SKEW


def test_idp_initiated_needs_a_shared_replay_cache(hostile: Hostile, settings) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    override_sso(settings, REPLAY_CACHE="local")
    xml = hostile.unsolicited()
    hostile.expect_rejected(Reason.UNSOLICITED_DISABLED, lambda: hostile.post(Client(), xml))
    # Control: the same response, with a replay store every process shares, signs in.
    override_sso(settings, REPLAY_CACHE="")
    hostile.expect_signed_in(hostile.post(Client(), xml))


def test_idp_initiated_can_be_switched_off(hostile: Hostile, settings) -> None:
    override_sso(settings, ALLOW_IDP_INITIATED=False)
    xml = hostile.unsolicited()
    hostile.expect_rejected(Reason.UNSOLICITED_DISABLED, lambda: hostile.post(Client(), xml))
    client, request = hostile.login()  # SP-initiated still works
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request)))
    override_sso(settings, ALLOW_IDP_INITIATED=True)  # control: the same response, allowed
    hostile.expect_signed_in(hostile.post(Client(), xml))
