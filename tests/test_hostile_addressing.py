"""Issue 3, item 2: audience, recipient, destination, issuer and tenant.

Every attack is made BEFORE signing (``mutate``), so it carries the IdP's
valid signature and only the addressing check can refuse it.
"""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import pytest
from lxml import etree

from thoropass_sso.claims import CLAIM_OBJECT_ID, CLAIM_TENANT_ID
from thoropass_sso.reasons import Reason

from .conftest import SP_ENTITY_ID
from .hostile_helpers import (
    NS,
    SAML,
    Hostile,
    assertion_of,
    attribute_value,
    hostile,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.django_db

OTHER_TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_ISSUER = f"https://sts.windows.net/{OTHER_TENANT}/"


def conditions(root: etree._Element) -> etree._Element:
    return assertion_of(root).find("saml:Conditions", NS)


def confirmation_data(root: etree._Element) -> etree._Element:
    return assertion_of(root).find(
        "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS
    )


def remove(path: str):
    def mutate(root: etree._Element) -> None:
        element = assertion_of(root).find(path, NS)
        element.getparent().remove(element)

    return mutate


def set_audience(value: str):
    def mutate(root: etree._Element) -> None:
        conditions(root).find("saml:AudienceRestriction/saml:Audience", NS).text = value

    return mutate


def add_restriction(audience: str):
    def mutate(root: etree._Element) -> None:
        restriction = etree.SubElement(conditions(root), f"{SAML}AudienceRestriction")
        etree.SubElement(restriction, f"{SAML}Audience").text = audience

    return mutate


def set_recipient(value: str | None):
    def mutate(root: etree._Element) -> None:
        data = confirmation_data(root)
        if value is None:
            del data.attrib["Recipient"]
        else:
            data.set("Recipient", value)

    return mutate


def set_destination(value: str):
    def mutate(root: etree._Element) -> None:
        root.set("Destination", value)

    return mutate


def set_response_issuer(value: str):
    def mutate(root: etree._Element) -> None:
        root.find("saml:Issuer", NS).text = value

    return mutate


def set_assertion_issuer(value: str):
    def mutate(root: etree._Element) -> None:
        assertion_of(root).find("saml:Issuer", NS).text = value

    return mutate


def set_claim(claim: str, *values: str):
    def mutate(root: etree._Element) -> None:
        value = attribute_value(assertion_of(root), claim)
        attribute = value.getparent()
        for old in list(attribute):
            attribute.remove(old)
        for text in values:
            etree.SubElement(attribute, f"{SAML}AttributeValue").text = text

    return mutate


def duplicate(path: str, change=None):
    """A second copy of a singleton element (first one genuine) — only the first would be read."""

    def mutate(root: etree._Element) -> None:
        import copy

        element = (
            assertion_of(root).find(path, NS) if path != "Issuer" else root.find("saml:Issuer", NS)
        )
        clone = copy.deepcopy(element)
        if change is not None:
            change(clone)
        element.addnext(clone)

    return mutate


def _foreign_audience(element: etree._Element) -> None:
    element.find("saml:AudienceRestriction/saml:Audience", NS).text = "https://evil.example/"


def _foreign_issuer(element: etree._Element) -> None:
    element.text = OTHER_ISSUER


ADDRESSING = {
    "no AudienceRestriction": (
        remove("saml:Conditions/saml:AudienceRestriction"),
        Reason.WRONG_AUDIENCE,
    ),
    "no Conditions at all": (remove("saml:Conditions"), Reason.WRONG_AUDIENCE),
    "foreign audience": (set_audience("https://evil.example/"), Reason.WRONG_AUDIENCE),
    "empty audience": (set_audience(""), Reason.WRONG_AUDIENCE),
    "two restrictions, one foreign": (
        add_restriction("https://evil.example/"),
        Reason.WRONG_AUDIENCE,
    ),
    "second Conditions with a foreign audience": (
        duplicate("saml:Conditions", _foreign_audience),
        Reason.MALFORMED,
    ),
    "Recipient another site": (
        set_recipient("https://evil.example/saml2/acs/"),
        Reason.WRONG_RECIPIENT,
    ),
    "Recipient missing": (set_recipient(None), Reason.WRONG_RECIPIENT),
    "Destination another site": (
        set_destination("https://evil.example/saml2/acs/"),
        Reason.WRONG_DESTINATION,
    ),
    "Destination empty": (set_destination(""), Reason.WRONG_DESTINATION),
    "Response Issuer another tenant": (set_response_issuer(OTHER_ISSUER), Reason.WRONG_ISSUER),
    "Assertion Issuer another tenant": (set_assertion_issuer(OTHER_ISSUER), Reason.WRONG_ISSUER),
    "Assertion Issuer without trailing slash": (
        lambda root: set_assertion_issuer(
            assertion_of(root).find("saml:Issuer", NS).text.rstrip("/")
        )(root),
        Reason.WRONG_ISSUER,
    ),
    "second Response Issuer from another tenant": (
        duplicate("Issuer", _foreign_issuer),
        Reason.MALFORMED,
    ),
    "tenantid of another tenant, right key": (
        set_claim(CLAIM_TENANT_ID, OTHER_TENANT),
        Reason.WRONG_TENANT,
    ),
    "objectidentifier missing": (
        remove(f"saml:AttributeStatement/saml:Attribute[@Name='{CLAIM_OBJECT_ID}']"),
        Reason.MISSING_CLAIM,
    ),
    "objectidentifier with two values": (
        set_claim(
            CLAIM_OBJECT_ID,
            "a" * 8 + "-0000-0000-0000-" + "0" * 12,
            "b" * 8 + "-0000-0000-0000-" + "0" * 12,
        ),
        Reason.MALFORMED,
    ),
    "objectidentifier not a GUID": (set_claim(CLAIM_OBJECT_ID, "x" * 300), Reason.MALFORMED),
}


@pytest.mark.parametrize("case", ADDRESSING, ids=list(ADDRESSING))
def test_addressing(hostile: Hostile, case: str) -> None:
    mutate, reason = ADDRESSING[case]
    hostile.attack(reason, mutate=mutate)


def test_tenantid_with_ours_and_another(hostile: Hostile) -> None:
    """Two tenantid values, ours first: reading 'the first' would let the other tenant in."""
    hostile.attack(
        Reason.MALFORMED,
        mutate=lambda root: set_claim(CLAIM_TENANT_ID, hostile.entra.tenant_id, OTHER_TENANT)(root),
    )


def test_spn_prefixed_audience_is_ours(hostile: Hostile) -> None:
    """Entra prefixes a non-URI identifier with ``spn:``; that is still this site."""
    client, request = hostile.login()
    xml = hostile.genuine(request, mutate=set_audience(f"spn:{SP_ENTITY_ID}"))
    hostile.expect_signed_in(hostile.post(client, xml))


def test_unsolicited_response_for_another_site(hostile: Hostile) -> None:
    hostile.attack_unsolicited(Reason.WRONG_AUDIENCE, mutate=set_audience("https://evil.example/"))
