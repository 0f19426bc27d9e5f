"""Issue 15: every part of a response is enforced, refused, or ignored for a stated reason.

docs/security.md, "Every part of a response", lists the SAML 2.0 core schema's elements
and attributes of a Response and its Assertion with the decision for each. These are the
rows decided since that table existed, "enforced" and "refused": each attack is validly
signed (the stand-in signs after ``mutate``), so only the named check can refuse it, and
each has its control. Both signature backends (tests/conftest.py).
"""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from lxml import etree

from thoropass_sso.reasons import Reason
from thoropass_sso.saml.timestamps import format_instant

from .conftest import SP_ENTITY_ID
from .hostile_helpers import NS, SAML, Hostile, hostile  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def _assertion(root: etree._Element) -> etree._Element:
    return root.find("saml:Assertion", NS)


def _name_id(root: etree._Element) -> etree._Element:
    return _assertion(root).find("saml:Subject/saml:NameID", NS)


def _authn(root: etree._Element) -> etree._Element:
    return _assertion(root).find("saml:AuthnStatement", NS)


def no_response_id(root):
    del root.attrib["ID"]


def sp_name_qualifier_of_another_sp(root):
    _name_id(root).set("SPNameQualifier", "https://other-app.example/saml2/metadata/")


def name_qualifier_of_another_idp(root):
    _name_id(root).set("NameQualifier", "https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/")


def base_id_instead_of_name_id(root):
    name_id = _name_id(root)
    base = etree.Element(f"{SAML}BaseID", NameQualifier="x")
    name_id.addprevious(base)


def no_subject(root):
    assertion = _assertion(root)
    assertion.remove(assertion.find("saml:Subject", NS))


def unknown_condition(root):
    conditions = _assertion(root).find("saml:Conditions", NS)
    condition = etree.SubElement(conditions, f"{SAML}Condition")
    condition.set("{http://www.w3.org/2001/XMLSchema-instance}type", "custom:MustBeOnVPN")


def authz_decision_statement(root):
    statement = etree.SubElement(_assertion(root), f"{SAML}AuthzDecisionStatement",
                                 Resource="https://app.example/", Decision="Permit")
    etree.SubElement(statement, f"{SAML}Action").text = "read"


def advice(root):
    assertion = _assertion(root)
    advice_element = etree.Element(f"{SAML}Advice")
    etree.SubElement(advice_element, f"{SAML}AssertionIDRef").text = "_other"
    assertion.find("saml:Conditions", NS).addnext(advice_element)


def custom_statement(root):
    statement = etree.SubElement(_assertion(root), f"{SAML}Statement")
    statement.set("{http://www.w3.org/2001/XMLSchema-instance}type", "custom:Grant")


def no_authn_instant(root):
    del _authn(root).attrib["AuthnInstant"]


def no_authn_context(root):
    authn = _authn(root)
    authn.remove(authn.find("saml:AuthnContext", NS))


def session_already_over(root):
    _authn(root).set("SessionNotOnOrAfter", format_instant(datetime.now(UTC) - timedelta(hours=1)))


def unknown_attribute_statement_child(root):
    statement = _assertion(root).find("saml:AttributeStatement", NS)
    etree.SubElement(statement, f"{SAML}Surprise")


SCHEMA = {
    "Response without ID": (no_response_id, Reason.MALFORMED),
    "NameID SPNameQualifier of another SP": (sp_name_qualifier_of_another_sp, Reason.WRONG_AUDIENCE),
    "NameID NameQualifier of another IdP": (name_qualifier_of_another_idp, Reason.WRONG_ISSUER),
    "BaseID": (base_id_instead_of_name_id, Reason.MISSING_NAME_ID),
    "no Subject": (no_subject, Reason.MISSING_NAME_ID),
    "a Condition not understood": (unknown_condition, Reason.UNSUPPORTED_ELEMENT),
    "AuthzDecisionStatement": (authz_decision_statement, Reason.UNSUPPORTED_ELEMENT),
    "Advice": (advice, Reason.UNSUPPORTED_ELEMENT),
    "a custom Statement": (custom_statement, Reason.UNSUPPORTED_ELEMENT),
    "AuthnStatement without AuthnInstant": (no_authn_instant, Reason.MALFORMED),
    "AuthnStatement without AuthnContext": (no_authn_context, Reason.MALFORMED),
    "SessionNotOnOrAfter passed": (session_already_over, Reason.EXPIRED),
    "an unknown child of AttributeStatement": (unknown_attribute_statement_child,
                                               Reason.UNSUPPORTED_ELEMENT),
}


@pytest.mark.parametrize("case", list(SCHEMA))
def test_every_part_of_the_response_is_read(hostile: Hostile, case: str) -> None:
    mutate, reason = SCHEMA[case]
    hostile.attack(reason, mutate=mutate)


@pytest.mark.parametrize("qualifier", [SP_ENTITY_ID, f"spn:{SP_ENTITY_ID}"])
def test_a_name_qualifier_naming_this_site_is_fine(hostile: Hostile, qualifier: str) -> None:
    def ours(root):
        _name_id(root).set("SPNameQualifier", qualifier)

    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited(mutate=ours)))


def test_one_time_use_and_proxy_restriction_are_understood(hostile: Hostile) -> None:
    def both(root):
        conditions = _assertion(root).find("saml:Conditions", NS)
        etree.SubElement(conditions, f"{SAML}OneTimeUse")
        etree.SubElement(conditions, f"{SAML}ProxyRestriction", Count="0")

    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited(mutate=both)))


def test_session_not_on_or_after_bounds_the_django_session(hostile: Hostile, settings) -> None:
    settings.SESSION_COOKIE_AGE = 14 * 24 * 3600  # Django's default, two weeks
    end = datetime.now(UTC) + timedelta(minutes=20)

    def bounded(root):
        _authn(root).set("SessionNotOnOrAfter", format_instant(end))

    response = hostile.post(Client(), hostile.unsolicited(mutate=bounded))
    hostile.expect_signed_in(response)
    expiry = response.wsgi_request.session.get_expiry_date()
    assert end - timedelta(seconds=5) <= expiry <= end + timedelta(seconds=1)
    assert int(response.cookies["sessionid"]["max-age"]) <= 20 * 60
    # Without it, the site's own SESSION_COOKIE_AGE applies.
    plain = hostile.post(Client(), hostile.unsolicited())
    assert plain.wsgi_request.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
