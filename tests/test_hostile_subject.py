"""Issue 3, item 8: the subject — empty or missing NameID refused; comment
injection yields the full value, never a truncated identity."""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import pytest
from lxml import etree

from thoropass_sso.claims import CLAIM_NAME, CLAIM_OBJECT_ID
from thoropass_sso.models import EntraIdentity
from thoropass_sso.reasons import Reason

from .hostile_helpers import (
    NS,
    Hostile,
    assertion_of,
    attribute_value,
    hostile,  # noqa: F401 - fixture
    parse,
    serialize,
)

pytestmark = pytest.mark.django_db


def name_id(root: etree._Element) -> etree._Element:
    return assertion_of(root).find("saml:Subject/saml:NameID", NS)


def set_name_id(text: str):
    def mutate(root: etree._Element) -> None:
        name_id(root).text = text

    return mutate


def remove_name_id(root: etree._Element) -> None:
    element = name_id(root)
    element.getparent().remove(element)


def remove_subject(root: etree._Element) -> None:
    subject = assertion_of(root).find("saml:Subject", NS)
    assertion_of(root).remove(subject)


def two_name_ids(root: etree._Element) -> None:
    import copy

    other = copy.deepcopy(name_id(root))
    other.text = "mallory@contoso.example"
    name_id(root).addnext(other)


SUBJECT = {
    "empty NameID": (set_name_id(""), Reason.MISSING_NAME_ID),
    "whitespace NameID": (set_name_id("  \n "), Reason.MISSING_NAME_ID),
    "no NameID": (remove_name_id, Reason.MISSING_NAME_ID),
    "no Subject": (remove_subject, Reason.MISSING_NAME_ID),
    "two NameIDs": (two_name_ids, Reason.MALFORMED),
}


@pytest.mark.parametrize("case", SUBJECT, ids=list(SUBJECT))
def test_subject_refused(hostile: Hostile, case: str) -> None:
    mutate, reason = SUBJECT[case]
    hostile.attack(reason, mutate=mutate)


def _split_with_comment(element: etree._Element, at: int) -> None:
    """Split the element's text with an empty comment AFTER signing: exclusive c14n
    ignores comments, so the signature still verifies; a naive reader of ``.text``
    would see only the part before the comment."""
    full = element.text
    element.text = full[:at]
    comment = etree.Comment("")
    comment.tail = full[at:]
    element.insert(0, comment)


def test_comment_injection_yields_the_full_values(hostile: Hostile) -> None:
    client, request = hostile.login()
    genuine = hostile.genuine(request)
    root = parse(genuine)
    assertion = assertion_of(root)
    _split_with_comment(name_id(root), len("ada@contoso"))
    _split_with_comment(attribute_value(assertion, CLAIM_NAME), len("ada@contoso"))
    _split_with_comment(attribute_value(assertion, CLAIM_OBJECT_ID), 8)
    injected = serialize(root)
    assert b"<!---->" in injected

    hostile.expect_signed_in(hostile.post(client, injected))
    claims = hostile.recorder.sign_ins[-1]["claims"]
    assert claims.name_id == "ada@contoso.example"
    assert claims.upn == "ada@contoso.example"
    assert claims.object_id == hostile.user.object_id
    identity = EntraIdentity.objects.get(object_id=hostile.user.object_id)
    assert identity.upn == "ada@contoso.example"
    assert EntraIdentity.objects.count() == 1  # no second identity from a truncated object id
