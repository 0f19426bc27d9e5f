"""Issue 3: whatever arrives, the ACS answers with a redirect or a 4xx with a reason —
never a 5xx. A seeded, bounded fuzz over mutations of one genuine, signed response."""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import base64
import copy
import random
import string

import pytest
from django.test import Client
from lxml import etree

from thoropass_sso.reasons import Reason

from .hostile_helpers import Hostile, hostile  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

SEED = 20261126
CASES = 48


def _junk(rng: random.Random) -> str:
    choices = [
        "",
        " ",
        "0",
        "-1",
        "9999-12-31T23:59:59Z",
        "0000-00-00T00:00:00Z",
        "#",
        "\u00e9\u2603",
        "x" * 5000,
        "".join(
            rng.choices(
                string.ascii_letters + string.digits + string.punctuation + " ",
                k=rng.randint(1, 40),
            )
        ),
    ]
    return rng.choice(choices)


def _tree_mutation(rng: random.Random, root: etree._Element) -> str:
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    target = rng.choice(elements[1:])
    name = etree.QName(target).localname
    kind = rng.choice(
        ["delete", "attribute", "drop-attribute", "text", "duplicate", "move", "rename"]
    )
    if kind == "delete":
        target.getparent().remove(target)
    elif kind == "attribute" and target.attrib:
        target.set(rng.choice(list(target.attrib)), _junk(rng))
    elif kind == "drop-attribute" and target.attrib:
        del target.attrib[rng.choice(list(target.attrib))]
    elif kind == "text":
        target.text = _junk(rng)
    elif kind == "duplicate":
        target.addnext(copy.deepcopy(target))
    elif kind == "move":
        new_parent = rng.choice(elements)
        if target not in new_parent.iterancestors() and target is not new_parent:
            new_parent.append(target)
    else:
        target.tag = f"{{urn:fuzz}}{name}"
    return f"{kind} {name}"


def _byte_mutation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    position = rng.randrange(len(data))
    kind = rng.choice(["flip", "truncate", "insert"])
    if kind == "flip":
        return data[:position] + bytes([data[position] ^ (1 << rng.randrange(8))]) + data[
            position + 1 :
        ], kind
    if kind == "truncate":
        return data[:position], kind
    return data[:position] + rng.choice([b"<", b"&", b"]]>", b"\x00", b"<!--", b"\xff"]) + data[
        position:
    ], kind


def _signed_part(data: bytes) -> bytes | None:
    """What the assertion's signature covers (c14n), or None if unreadable.

    The assertion with its SignedInfo and SignatureValue; without the signature's KeyInfo,
    which no signature covers and the verifier ignores (the key is the stored metadata's).
    """
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError:
        return None
    found = root.findall(".//{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    if len(found) != 1:
        return None
    assertion = copy.deepcopy(found[0])
    for key_info in assertion.findall("{http://www.w3.org/2000/09/xmldsig#}Signature/"
                                      "{http://www.w3.org/2000/09/xmldsig#}KeyInfo"):
        key_info.getparent().remove(key_info)
    return etree.tostring(assertion, method="c14n")


def test_fuzzed_responses_never_cause_a_server_error(hostile: Hostile) -> None:
    """Every case: a redirect or a 4xx with a reason, never a 5xx -- and a case that altered
    what was signed never signs in.

    Regression (issue 16): a 302 used to count as an allowed outcome for every case, so with
    the verifier made to ignore a failed signature check a mutated assertion signed in and
    this passed. Each case also gets its own genuine response (its own assertion id): with
    one shared id, later cases were only refused as ``replay``. Mutation that must fail
    this: make ``InProcessBackend.verify`` return 0 on ``xmlsec.Error``.
    """
    rng = random.Random(SEED)
    outcomes: dict[str, int] = {}
    for case in range(CASES):
        genuine = hostile.unsolicited()
        if case % 3 == 2:
            data, what = _byte_mutation(rng, genuine)
        else:
            root = etree.fromstring(genuine)
            what = "; ".join(_tree_mutation(rng, root) for _ in range(rng.randint(1, 3)))
            data = etree.tostring(root)
        signed_changed = _signed_part(data) != _signed_part(genuine)
        seen = len(hostile.recorder.rejections)
        client = Client(raise_request_exception=False)
        response = client.post("/saml2/acs/", {"SAMLResponse": base64.b64encode(data).decode()})
        assert response.status_code < 500, f"case {case} ({what}) answered {response.status_code}"
        if response.status_code == 302:
            assert not signed_changed, f"case {case} ({what}) altered the signed assertion and signed in"
            outcomes["signed in (unsigned parts changed)"] = outcomes.get(
                "signed in (unsigned parts changed)", 0) + 1
            continue
        rejections = hostile.recorder.rejections[seen:]
        assert len(rejections) == 1, (
            f"case {case} ({what}): {response.status_code} without a reason"
        )
        reason: Reason = rejections[0]["reason"]
        assert 400 <= response.status_code < 500 and response.status_code == reason.status
        assert reason is not Reason.REPLAY, f"case {case} ({what}): refused only as a replay"
        outcomes[reason.code] = outcomes.get(reason.code, 0) + 1
    # The fuzz must reach deep checks, not only stop at the parser: several reasons occur.
    assert len(outcomes) >= 4, outcomes
    # Control: a genuine response of the same shape signs in.
    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited()))
