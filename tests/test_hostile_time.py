"""Issue 3, items 3 and 4: time windows with the configured skew, stale responses,
and weak algorithms (SHA-1 refused unless the site allows it)."""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from lxml import etree
from saml2.xmldsig import DIGEST_SHA1, SIG_RSA_SHA256

from thoropass_sso.reasons import Reason
from thoropass_sso.saml.timestamps import format_instant, parse_instant

from .hostile_helpers import (
    NS,
    Hostile,
    assertion_of,
    hostile,  # noqa: F401 - fixture
    override_sso,
    parse,
    serialize,
    signature_of,
)

pytestmark = pytest.mark.django_db

SKEW = timedelta(seconds=180)  # the default CLOCK_SKEW
MINUTE = timedelta(minutes=1)


def at(path: str, attribute: str, offset: timedelta | None):
    """Set (or with None remove) ``attribute`` of the assertion's ``path`` to now + offset."""

    def mutate(root: etree._Element) -> None:
        element = assertion_of(root) if path == "." else assertion_of(root).find(path, NS)
        if offset is None:
            del element.attrib[attribute]
        else:
            element.set(attribute, format_instant(datetime.now(UTC) + offset))

    return mutate


def raw(path: str, attribute: str, value: str):
    def mutate(root: etree._Element) -> None:
        assertion_of(root).find(path, NS).set(attribute, value)

    return mutate


CONFIRMATION = "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData"

REFUSED = {
    "Conditions NotBefore beyond the skew": (
        at("saml:Conditions", "NotBefore", SKEW + MINUTE),
        Reason.NOT_YET_VALID,
    ),
    "Conditions NotOnOrAfter passed beyond the skew": (
        at("saml:Conditions", "NotOnOrAfter", -(SKEW + MINUTE)),
        Reason.EXPIRED,
    ),
    "SubjectConfirmationData NotOnOrAfter passed beyond the skew": (
        at(CONFIRMATION, "NotOnOrAfter", -(SKEW + MINUTE)),
        Reason.EXPIRED,
    ),
    "SubjectConfirmationData NotOnOrAfter missing": (
        at(CONFIRMATION, "NotOnOrAfter", None),
        Reason.NO_BEARER_CONFIRMATION,
    ),
    "SubjectConfirmationData NotBefore beyond the skew": (
        at(CONFIRMATION, "NotBefore", SKEW + MINUTE),
        Reason.NOT_YET_VALID,
    ),
    "Assertion IssueInstant in the future": (
        at(".", "IssueInstant", SKEW + MINUTE),
        Reason.NOT_YET_VALID,
    ),
    "Assertion IssueInstant missing": (at(".", "IssueInstant", None), Reason.MALFORMED),
    "NotOnOrAfter not a date": (
        raw("saml:Conditions", "NotOnOrAfter", "tomorrow"),
        Reason.MALFORMED,
    ),
    "NotOnOrAfter month 13": (
        raw("saml:Conditions", "NotOnOrAfter", "2030-13-01T00:00:00Z"),
        Reason.MALFORMED,
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_time_window_refused(hostile: Hostile, case: str) -> None:
    mutate, reason = REFUSED[case]
    hostile.attack(reason, mutate=mutate)


WITHIN_SKEW = {
    "Conditions NotBefore inside the skew": at("saml:Conditions", "NotBefore", SKEW - MINUTE),
    "Conditions NotOnOrAfter passed inside the skew": at(
        "saml:Conditions", "NotOnOrAfter", -(SKEW - MINUTE)
    ),
    "SubjectConfirmationData NotOnOrAfter passed inside the skew": at(
        CONFIRMATION, "NotOnOrAfter", -(SKEW - MINUTE)
    ),
}


@pytest.mark.parametrize("case", WITHIN_SKEW, ids=list(WITHIN_SKEW))
def test_clock_skew_is_tolerated(hostile: Hostile, case: str) -> None:
    client, request = hostile.login()
    hostile.expect_signed_in(
        hostile.post(client, hostile.genuine(request, mutate=WITHIN_SKEW[case]))
    )


def test_clock_skew_is_configurable(hostile: Hostile, settings) -> None:
    """Four minutes early is refused with the default skew and accepted with a ten-minute one."""
    early = at("saml:Conditions", "NotBefore", 4 * MINUTE)
    client, request = hostile.login()
    hostile.expect_rejected(
        Reason.NOT_YET_VALID, lambda: hostile.post(client, hostile.genuine(request, mutate=early))
    )
    override_sso(settings, CLOCK_SKEW=600)
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request, mutate=early)))


@pytest.mark.parametrize(
    "age", [timedelta(minutes=14), timedelta(days=3)], ids=["14 minutes", "3 days"]
)
def test_stale_issue_instant(hostile: Hostile, age: timedelta) -> None:
    """Older than MAX_RESPONSE_AGE (600 s) + skew; the whole response is consistently old."""
    client, request = hostile.login()
    stale = hostile.genuine(request, issued_at=datetime.now(UTC) - age)
    hostile.expect_rejected(Reason.STALE, lambda: hostile.post(client, stale))
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request)))


def test_stale_response_issue_instant_with_fresh_assertion(hostile: Hostile) -> None:
    def old_response(root: etree._Element) -> None:
        root.set("IssueInstant", format_instant(datetime.now(UTC) - timedelta(days=3)))

    hostile.attack(Reason.STALE, mutate=old_response)


def test_unsolicited_response_older_than_the_idp_initiated_window(hostile: Hostile) -> None:
    """Nine minutes: inside MAX_RESPONSE_AGE, outside IDP_INITIATED_MAX_AGE (300 s) + skew."""
    issued = datetime.now(UTC) - timedelta(minutes=9)

    def still_confirmable(root: etree._Element) -> None:
        # Keep the bearer confirmation open so only the unsolicited-age rule can refuse it.
        assertion_of(root).find(CONFIRMATION, NS).set(
            "NotOnOrAfter", format_instant(datetime.now(UTC) + timedelta(minutes=5))
        )

    old = hostile.unsolicited(mutate=still_confirmable, issued_at=issued)
    hostile.expect_rejected(Reason.STALE, lambda: hostile.post(Client(), old))
    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited(mutate=still_confirmable)))


# -- algorithms ------------------------------------------------------------------
def test_rsa_sha1_refused_by_default(hostile: Hostile) -> None:
    client, request = hostile.login()
    sha1 = hostile.genuine(request, sha1=True)
    hostile.expect_rejected(Reason.WEAK_ALGORITHM, lambda: hostile.post(client, sha1))
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request)))


def test_rsa_sha1_accepted_when_allowed(hostile: Hostile, settings) -> None:
    override_sso(settings, ALLOW_SHA1=True)
    client, request = hostile.login()
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request, sha1=True)))


def _sha1_digest(hostile: Hostile, xml: bytes) -> bytes:
    """RSA-SHA256 over a SHA-1 digest of the assertion: the digest is the weak link."""
    root = parse(xml)
    assertion = assertion_of(root)
    assertion.remove(signature_of(assertion))
    return hostile.entra.sign(
        serialize(root), "Assertion", sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA1
    )


def test_sha1_digest_refused_by_default(hostile: Hostile) -> None:
    hostile.attack(Reason.WEAK_ALGORITHM, forge=lambda xml: _sha1_digest(hostile, xml))


def test_sha1_digest_accepted_when_allowed(hostile: Hostile, settings) -> None:
    override_sso(settings, ALLOW_SHA1=True)
    client, request = hostile.login()
    hostile.expect_signed_in(hostile.post(client, _sha1_digest(hostile, hostile.genuine(request))))


@pytest.mark.parametrize("instant", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+01:00"])
def test_off_calendar_issue_instant_on_the_unsigned_response_is_a_4xx(hostile: Hostile, instant):
    """Entra signs only the assertion: the Response's IssueInstant is the attacker's to choose."""

    def tamper(root: etree._Element) -> None:
        root.set("IssueInstant", instant)

    hostile.attack(Reason.MALFORMED, tamper=tamper)


@pytest.mark.parametrize("offset", ["ahead by the skew", "old by the age and the skew"])
def test_an_issue_instant_exactly_at_a_bound_is_accepted(hostile: Hostile, offset: str) -> None:
    """An IssueInstant is refused only when more than the skew ahead, or older than
    MAX_RESPONSE_AGE + skew: at either bound exactly, it signs in.

    Mutations: ``>`` -> ``>=`` and ``<`` -> ``<=`` in the IssueInstant checks."""
    from thoropass_sso import clock

    now = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)
    issued = now + SKEW if offset == "ahead by the skew" else now - timedelta(seconds=600) - SKEW

    def open_confirmation(root: etree._Element) -> None:
        # Only the IssueInstant rule is at its bound; the confirmation stays open.
        assertion_of(root).find(CONFIRMATION, NS).set(
            "NotOnOrAfter", format_instant(now + timedelta(minutes=5)))

    with clock.use(now=lambda: now):
        client, request = hostile.login()
        at_bound = hostile.genuine(request, issued_at=issued, mutate=open_confirmation)
        hostile.expect_signed_in(hostile.post(client, at_bound))
        # One second further is refused (the control of the bound, the other way).
        client, request = hostile.login()
        beyond = issued + timedelta(seconds=1) if offset == "ahead by the skew" else (
            issued - timedelta(seconds=1))
        hostile.expect_rejected(
            Reason.NOT_YET_VALID if offset == "ahead by the skew" else Reason.STALE,
            lambda: hostile.post(client, hostile.genuine(request, issued_at=beyond,
                                                         mutate=open_confirmation)))


# Each window bound, exactly: (the element, the attribute, its offset from now that is still
# accepted, the reason one second further). NotBefore may be up to the skew ahead; a
# NotOnOrAfter must be more than the skew ago to be refused (it is exclusive: at it, the
# assertion is over). Mutations: each ``<``/``>=`` of those checks flipped to ``<=``/``>``, and
# ``now + skew`` -> ``now - skew`` for the confirmation's NotBefore and ``now - skew`` ->
# ``now + skew`` for SessionNotOnOrAfter.
WINDOW_BOUNDS = {
    "Conditions NotBefore": ("saml:Conditions", "NotBefore", SKEW, +1, Reason.NOT_YET_VALID),
    "Conditions NotOnOrAfter": ("saml:Conditions", "NotOnOrAfter", -SKEW + timedelta(seconds=1),
                                -1, Reason.EXPIRED),
    "SubjectConfirmationData NotBefore": (CONFIRMATION, "NotBefore", SKEW, +1,
                                          Reason.NOT_YET_VALID),
    "SubjectConfirmationData NotOnOrAfter": (CONFIRMATION, "NotOnOrAfter",
                                             -SKEW + timedelta(seconds=1), -1, Reason.EXPIRED),
    "AuthnStatement SessionNotOnOrAfter": ("saml:AuthnStatement", "SessionNotOnOrAfter",
                                           -SKEW + timedelta(seconds=1), -1, Reason.EXPIRED),
}


@pytest.mark.parametrize("case", WINDOW_BOUNDS, ids=list(WINDOW_BOUNDS))
def test_each_window_bound_exactly(hostile: Hostile, case: str) -> None:
    """At each bound of the validity windows, exactly, a response signs in; a second beyond
    it, it is refused."""
    from thoropass_sso import clock

    path, attribute, accepted, step, reason = WINDOW_BOUNDS[case]
    now = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)

    def set_to(offset: timedelta):
        def mutate(root: etree._Element) -> None:
            assertion_of(root).find(path, NS).set(attribute, format_instant(now + offset))
        return mutate

    with clock.use(now=lambda: now):
        client, request = hostile.login()
        hostile.expect_signed_in(hostile.post(
            client, hostile.genuine(request, issued_at=now, mutate=set_to(accepted))))
        client, request = hostile.login()
        beyond = set_to(accepted + timedelta(seconds=step))
        hostile.expect_rejected(reason, lambda: hostile.post(
            client, hostile.genuine(request, issued_at=now, mutate=beyond)))


# -- parse_instant alone ------------------------------------------------------------------
# The responses above carry whole-second UTC instants (what format_instant writes); Entra
# sends up to seven fractional digits, and the schema allows any zone. Each case names the
# mutation of thoropass_sso/saml/timestamps.py it fails.


@pytest.mark.parametrize("value, expected", [
    # Fractions: read to the microsecond, padded on the right, cut after six digits
    # (mutations: the padding dropped or on the left, the cut or the width moved, the
    # microseconds not passed on).
    ("2030-01-02T03:04:05.123Z", datetime(2030, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)),
    ("2030-01-02T03:04:05.1234567Z", datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
    ("2030-01-02T03:04:05Z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    # No zone is UTC, as SAML requires.
    ("2030-01-02T03:04:05", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    # Zones, hours and minutes both read, east and west (mutations: the sign's values, the
    # hour or minute slices moved, the minutes dropped).
    ("2030-01-02T13:34:05+10:30", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2030-01-01T16:34:05-10:30", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("  2030-01-02T03:04:05Z ", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
])
def test_an_instant_is_read_exactly(value, expected):
    assert parse_instant(value) == expected


@pytest.mark.parametrize("value", [
    "2030-01-02 03:04:05Z",
    "2030-13-01T00:00:00Z",
    "2030-01-02T03:04:05+1030",
    "9999-12-31T23:59:59-14:00",  # past the calendar's end once in UTC
    "0001-01-01T00:00:00+01:00",  # before its start
    "",
])
def test_anything_else_is_not_an_instant(value):
    with pytest.raises(ValueError):
        parse_instant(value)


def test_an_instant_written_is_read_back():
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_instant(format_instant(moment)) == moment
