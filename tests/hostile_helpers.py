"""Shared machinery for the hostile-input suite (tests/test_hostile_*.py).

Every case follows one shape: start a real sign-in, have the stand-in really
sign a genuine response, derive the attack from it, post the attack to the
real ACS and prove it was refused *for the stated reason* — 4xx status, a
reference id on the page, one log line with ``reason=<code>``, the
``sign_in_rejected`` signal with that reason, and the user tables unchanged.
Then the genuine response is posted and must sign in: a control proving the
attack was refused for what the attacker changed, not because the fixture
was broken.

Modules import the ``hostile`` fixture from here (``from tests.hostile_helpers
import hostile``) so the shared conftest stays untouched.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from lxml import etree

from thoropass_sso.claims import CLAIM_OBJECT_ID
from thoropass_sso.models import Connection, EntraIdentity, UsedMessageId
from thoropass_sso.reasons import Reason
from thoropass_sso.replay import _digest
from thoropass_sso.signals import sign_in_rejected, user_signed_in
from thoropass_sso.testing import EntraStandIn, EntraUser
from thoropass_sso.testing.entra import AuthnRequestInfo
from thoropass_sso.testing.flows import post_response, response_for, start_login

from .conftest import ACS_URL, SP_ENTITY_ID
from .security_doc import RECORD, Proof

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
SAMLP = f"{{{NS['samlp']}}}"
SAML = f"{{{NS['saml']}}}"
DS = f"{{{NS['ds']}}}"

Tamper = Callable[[etree._Element], None]



# -- XML surgery on a (signed) response ------------------------------------
def parse(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root)


def assertion_of(root: etree._Element) -> etree._Element:
    return root.find("saml:Assertion", NS)


def signature_of(element: etree._Element) -> etree._Element | None:
    return element.find("ds:Signature", NS)


def attribute_value(assertion: etree._Element, claim: str) -> etree._Element:
    return assertion.find(
        f"saml:AttributeStatement/saml:Attribute[@Name='{claim}']/saml:AttributeValue", NS
    )


def evil_copy(assertion: etree._Element, *, new_id: bool = True) -> etree._Element:
    """An unsigned copy of ``assertion`` naming another user (the attacker's goal)."""
    evil = copy.deepcopy(assertion)
    signature = signature_of(evil)
    if signature is not None:
        evil.remove(signature)
    if new_id:
        evil.set("ID", f"_{uuid.uuid4()}")
    attribute_value(evil, CLAIM_OBJECT_ID).text = str(uuid.uuid4())
    evil.find("saml:Subject/saml:NameID", NS).text = "mallory@contoso.example"
    return evil


def after_issuer(parent: etree._Element) -> int:
    issuer = parent.find("saml:Issuer", NS)
    return list(parent).index(issuer) + 1 if issuer is not None else 0


def tampered(xml: bytes, tamper: Tamper) -> bytes:
    root = parse(xml)
    tamper(root)
    return serialize(root)


# -- recording what the site did -------------------------------------------
def db_snapshot() -> dict[str, tuple]:
    """Every row a sign-in can write, all columns: users, identities, groups and memberships,
    used message ids, sessions. Any create, change or delete alters it.

    (A used id recorded in a cache rather than the table -- REPLAY_CACHE -- is outside it:
    a refused response's ids stay used there, which is the safe direction.)"""
    from django.contrib.auth.models import Group
    from django.contrib.sessions.models import Session

    user_model = get_user_model()
    tables = {
        "users": user_model.objects.order_by("pk"),
        "identities": EntraIdentity.objects.order_by("pk"),
        "groups": Group.objects.order_by("pk"),
        "memberships": user_model.groups.through.objects.order_by("pk"),
        "used ids": UsedMessageId.objects.order_by("key"),
        "sessions": Session.objects.order_by("session_key"),
    }
    return {name: tuple(rows.values_list()) for name, rows in tables.items()}


def claim_values(xml: bytes | None) -> set[str]:
    """Every value a response says about any user in it (NameIDs, attribute values)."""
    if not xml:
        return set()
    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError:
        return set()
    values = set()
    for element in root.iter(f"{SAML}NameID", f"{SAML}AttributeValue"):
        text = "".join(element.itertext()).strip()
        # Short values ("0", "true", a role name) would match unrelated log text.
        if len(text) >= 6 and not text.startswith("http"):
            values.add(text)
    return values


def flow_of(xml: bytes | None) -> str:
    """"sp" for a response to a request, "idp" for an unsolicited one, "other" when unreadable."""
    if not xml:
        return "other"
    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError:
        return "other"
    if root.get("InResponseTo"):  # readable even when the assertion is encrypted
        return "sp"
    if root.find(".//saml:EncryptedAssertion", NS) is not None:
        return "idp"
    data = root.find(".//saml:SubjectConfirmationData", NS)
    if data is None:
        return "other"
    return "sp" if data.get("InResponseTo") else "idp"


@dataclass
class Recorder:
    rejections: list[dict[str, Any]] = field(default_factory=list)
    sign_ins: list[dict[str, Any]] = field(default_factory=list)

    def on_rejected(self, sender: Any, **kwargs: Any) -> None:
        self.rejections.append(kwargs)

    def on_signed_in(self, sender: Any, **kwargs: Any) -> None:
        self.sign_ins.append(kwargs)


class Hostile:
    """Drives one test's attacks; see the module docstring for what each assertion proves."""

    def __init__(
        self,
        entra: EntraStandIn,
        user: EntraUser,
        caplog: pytest.LogCaptureFixture,
        recorder: Recorder,
    ) -> None:
        self.entra = entra
        self.user = user
        self.caplog = caplog
        self.recorder = recorder
        # With several active connections, login() must name one (?connection=).
        self.connection: str | None = None
        self.posted: bytes | None = None
        # What this test proved, for the meta-checks at teardown and docs/security-tests.md.
        self.refusals: list[tuple[str, str]] = []  # (reason code, flow)
        self.controls: list[str] = []  # flows of genuine sign-ins

    # -- building blocks ---------------------------------------------------
    def login(
        self, client: Client | None = None, next_path: str | None = None
    ) -> tuple[Client, AuthnRequestInfo]:
        client = client or Client()
        response, request = start_login(client, next_path, self.entra, connection=self.connection)
        assert response.status_code == 302 and request is not None
        return client, request

    def genuine(
        self, request: AuthnRequestInfo, user: EntraUser | None = None, **options: Any
    ) -> bytes:
        return response_for(self.entra, user or self.user, request, **options)

    def unsolicited(self, user: EntraUser | None = None, **options: Any) -> bytes:
        options.setdefault("acs_url", ACS_URL)
        options.setdefault("audience", SP_ENTITY_ID)
        return self.entra.response_xml(user or self.user, **options)

    def post(self, client: Client, xml: bytes, relay_state: str | None = None) -> HttpResponse:
        self.posted = xml  # what expect_rejected checks the logs against
        return post_response(client, self.entra.post_binding_value(xml), relay_state)

    def post_value(self, client: Client, value: str, **extra: Any) -> HttpResponse:
        self.posted = None
        return client.post("/saml2/acs/", {"SAMLResponse": value}, **extra)

    def missing_controls(self) -> list[str]:
        """Refusals with no genuine sign-in of the same flow in the same test."""
        return sorted({f"{code} ({flow})" for code, flow in self.refusals
                       if flow not in self.controls and not (flow == "other" and self.controls)})

    # -- assertions --------------------------------------------------------
    def expect_rejected(self, reason: Reason, send: Callable[[], HttpResponse]) -> HttpResponse:
        """Call ``send`` (one POST) and prove the hostile contract for it.

        The reason's 4xx status and code on the page with a reference; the
        ``sign_in_rejected`` signal with that reason; one log line with the code and the
        reference; no claim value of any user the response names in any log line; the
        whole database as it was; the browser still anonymous.
        """
        before = db_snapshot()
        seen = len(self.recorder.rejections)
        self.caplog.clear()
        self.posted = None
        response = send()
        assert response.status_code == reason.status, (
            f"expected {reason.code} ({reason.status}), got {response.status_code}: "
            f"{self._reason_on_page(response)}"
        )
        assert 400 <= response.status_code < 500
        signals = self.recorder.rejections[seen:]
        assert [s["reason"] for s in signals] == [reason], (
            f"refused as {signals}, not {reason.code}"
        )
        reference = signals[0]["reference"]
        page = response.content.decode()
        assert reference in page and f'data-reason="{reason.code}"' in page
        lines = [
            r.getMessage() for r in self.caplog.records if "sign-in rejected" in r.getMessage()
        ]
        assert len(lines) == 1 and f"reason={reason.code} " in lines[0]
        assert f"reference={reference}" in lines[0]
        # Observability without leaks: no claim value of any user of the response, nor of
        # the fixture's user, reaches the log.
        logged = " ".join(r.getMessage() for r in self.caplog.records)
        for value in {self.user.object_id, self.user.upn} | claim_values(self.posted):
            assert value not in logged, "a claim value reached the log"
        after = db_snapshot()
        changed = [name for name in before if before[name] != after[name]]
        assert not changed, f"a refused response changed the database: {changed}"
        # Nobody signed in by it: Django's login() would have cycled the session key and set
        # a new session cookie (a browser that was signed in before stays as it was).
        assert django_settings.SESSION_COOKIE_NAME not in response.cookies, \
            "the refused request signed the browser in"
        self.refusals.append((reason.code, flow_of(self.posted)))
        return response

    def expect_signed_in(self, response: HttpResponse, location: str | None = None) -> HttpResponse:
        assert response.status_code == 302, (
            f"genuine response refused: {self._reason_on_page(response)}"
        )
        if location is not None:
            assert response["Location"] == location
        assert response.wsgi_request.session.get("_auth_user_id")
        self.controls.append(flow_of(self.posted))
        return response

    @staticmethod
    def _reason_on_page(response: HttpResponse) -> str:
        page = response.content.decode(errors="replace")
        marker = 'data-reason="'
        return page.split(marker, 1)[1].split('"', 1)[0] if marker in page else page[:200]

    # -- the common case: one attack and its control ------------------------
    def attack(
        self,
        reason: Reason,
        *,
        tamper: Tamper | None = None,
        mutate: Tamper | None = None,
        forge: Callable[[bytes], bytes] | None = None,
        relay_state: str | None = None,
        **options: Any,
    ) -> HttpResponse:
        """Refuse an attack derived from a genuine SP-initiated response; then the control.

        ``tamper`` edits the genuine response AFTER it was signed (signature
        wrapping, stripping, changed content); ``forge`` does the same on the
        serialized bytes (re-signing with another key); ``mutate`` edits it
        BEFORE the stand-in signs it, so the attack carries a valid signature
        and only the intended check can refuse it.
        """
        assert sum(x is not None for x in (tamper, mutate, forge)) == 1
        client, request = self.login()
        genuine = self.genuine(request, **options)
        if tamper is not None:
            attack_xml = tampered(genuine, tamper)
        elif forge is not None:
            attack_xml = forge(genuine)
        else:
            attack_xml = self.genuine(request, mutate=mutate, **options)
        assert attack_xml != genuine
        refused = self.expect_rejected(reason, lambda: self.post(client, attack_xml, relay_state))
        # The control: the response the attack was built from signs in, with
        # the same browser and request (the refusal burned nothing).
        before = db_snapshot()
        self.expect_signed_in(self.post(client, genuine))
        assert db_snapshot() != before, "the control must touch the rows the attack did not"
        return refused

    def attack_unsolicited(
        self, reason: Reason, *, mutate: Tamper, relay_state: str | None = None, **options: Any
    ) -> HttpResponse:
        """Like :meth:`attack` for IdP-initiated responses (no InResponseTo, no cookie)."""
        attack_xml = self.unsolicited(mutate=mutate, **options)
        refused = self.expect_rejected(reason, lambda: self.post(Client(), attack_xml, relay_state))
        before = db_snapshot()
        self.expect_signed_in(self.post(Client(), self.unsolicited(**options), relay_state))
        assert db_snapshot() != before
        return refused


def override_sso(settings: Any, **overrides: Any) -> None:
    """Change THOROPASS_SSO keys for one test (setting_changed drops the cached runtime)."""
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, **overrides}


@pytest.fixture
def hostile(
    entra: EntraStandIn,
    ada: EntraUser,
    stored_metadata: None,
    caplog: pytest.LogCaptureFixture,
    db: None,
    request: pytest.FixtureRequest,
) -> Iterator[Hostile]:
    """A Hostile driver with Ada already known to the site (so 'changed' is observable)."""
    caplog.set_level(logging.INFO, logger="thoropass_sso")
    user = get_user_model().objects.create(
        username="ada-before", first_name="Old", email="old@x.example"
    )
    EntraIdentity.objects.create(
        user=user,
        connection=Connection.objects.get(name="default"),
        tenant_id=entra.tenant_id,
        object_id=ada.object_id,
        upn="old",
    )
    recorder = Recorder()
    sign_in_rejected.connect(recorder.on_rejected)
    user_signed_in.connect(recorder.on_signed_in)
    driver = Hostile(entra, ada, caplog, recorder)
    try:
        yield driver
    finally:
        sign_in_rejected.disconnect(recorder.on_rejected)
        user_signed_in.disconnect(recorder.on_signed_in)
    # The meta-test: a refusal proves something only next to a genuine response of the same
    # shape that signs in (else the fixture, not the attack, may be what failed).
    missing = driver.missing_controls()
    assert not missing, f"refusals without a positive control of the same flow: {missing}"
    # What docs/security-tests.md may say this test proved (tests/security_doc.py).
    RECORD[request.node.nodeid] = Proof(
        refusals={code for code, _ in driver.refusals}, controls=set(driver.controls)
    )


def held_until(kind: str, value: str) -> datetime:
    """Until when the replay store holds a used id, read from the store itself."""
    alias = django_settings.THOROPASS_SSO.get("REPLAY_CACHE")
    if not alias:
        return UsedMessageId.objects.get(key=_digest(kind, value)).expires
    cache = caches[alias]
    key = cache.make_key(f"thoropass_sso:{_digest(kind, value)}")
    if not hasattr(cache, "_table"):  # Redis: what is left of the key's time to live
        remaining_ms = cache._cache.get_client(key).pttl(key)
        assert remaining_ms > 0, f"{key} is not held (PTTL {remaining_ms})"
        return datetime.now(UTC) + timedelta(milliseconds=remaining_ms)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT expires FROM {cache._table} WHERE cache_key = %s", [key])  # noqa: S608
        (moment,) = cursor.fetchone()
    moment = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
