"""Issue 3, item 7: input hardening — size caps before base64 decoding, never
inflating, and no DOCTYPE, entities, external DTDs or XInclude."""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import base64
import tracemalloc
import zlib

import pytest
from django.test import Client
from lxml import etree

from thoropass_sso.reasons import Reason
from thoropass_sso.testing.metadata_server import MetadataServer

from .hostile_helpers import (
    NS,
    SAML,
    Hostile,
    assertion_of,
    hostile,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.django_db

CAP = 256 * 1024  # default MAX_RESPONSE_BYTES


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _with_prolog(xml: bytes, prolog: bytes) -> bytes:
    """Insert ``prolog`` (a DOCTYPE) after the XML declaration of a signed response."""
    if xml.startswith(b"<?xml"):
        end = xml.index(b"?>") + 2
        return xml[:end] + prolog + xml[end:]
    return prolog + xml


def _attack_bytes(hostile: Hostile, reason: Reason, derive) -> None:
    """Post ``derive(genuine_signed_xml)`` as the SAMLResponse value; then the control."""
    client, request = hostile.login()
    genuine = hostile.genuine(request)
    hostile.expect_rejected(reason, lambda: hostile.post_value(client, derive(genuine)))
    hostile.expect_signed_in(hostile.post(client, genuine))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- size -------------------------------------------------------------------------
def test_oversize_value_is_refused_before_base64_decoding(hostile: Hostile) -> None:
    """Not even valid base64: a decoder running first would say 'malformed', not 'too large'."""
    _attack_bytes(hostile, Reason.RESPONSE_TOO_LARGE, lambda _: "!" * (CAP * 4 // 3 + 64))


def test_genuine_response_padded_past_the_cap(hostile: Hostile) -> None:
    def pad(xml: bytes) -> str:
        end = xml.rindex(b"</")
        return b64(xml[:end] + b" " * CAP + xml[end:])

    _attack_bytes(hostile, Reason.RESPONSE_TOO_LARGE, pad)


def test_oversize_request_body(hostile: Hostile) -> None:
    client, request = hostile.login()
    genuine = hostile.genuine(request)
    body = {"SAMLResponse": b64(genuine), "padding": "x" * (3 * CAP)}
    hostile.expect_rejected(Reason.RESPONSE_TOO_LARGE, lambda: client.post("/saml2/acs/", body))
    hostile.expect_signed_in(hostile.post(client, genuine))


def test_too_many_form_fields(hostile: Hostile) -> None:
    """Django refuses more than DATA_UPLOAD_MAX_NUMBER_FIELDS: still a rejection with a reason."""
    client, request = hostile.login()
    genuine = hostile.genuine(request)
    body = {"SAMLResponse": b64(genuine), **{f"f{i}": "x" for i in range(1500)}}
    hostile.expect_rejected(Reason.MALFORMED, lambda: client.post("/saml2/acs/", body))
    hostile.expect_signed_in(hostile.post(client, genuine))


def test_garbled_content_length_is_not_a_server_error(hostile: Hostile) -> None:
    client, request = hostile.login()
    genuine = hostile.genuine(request)
    hostile.expect_rejected(
        Reason.MISSING_RESPONSE,
        lambda: client.post("/saml2/acs/", {"SAMLResponse": b64(genuine)}, CONTENT_LENGTH="12abc"),
    )
    hostile.expect_signed_in(hostile.post(client, genuine))


# -- deflate: never inflated ---------------------------------------------------------
def test_deflated_genuine_response_is_never_inflated(hostile: Hostile) -> None:
    """Inflating it would have produced a valid, signed response; refusing proves we never do."""
    _attack_bytes(hostile, Reason.MALFORMED, lambda xml: b64(deflate(xml)))


def test_deflate_bomb_is_refused_fast_and_small(hostile: Hostile, monkeypatch) -> None:
    """~200 KB of deflate that would inflate to 200 MB (the stock library's 20 s, +690 MB).

    "Fast" without a stopwatch (whatever this machine's speed): nothing is ever inflated
    (an HTTP-POST message is never deflated), and the memory stays that of the ~270 KB
    decoded."""
    inflated = 200 * 1024 * 1024
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"<" + b" " * (1024 * 1024 - 1)
    bomb = (
        b"".join(compressor.compress(chunk) for _ in range(inflated // len(chunk)))
        + compressor.flush()
    )
    value = b64(bomb)
    assert len(value) < CAP * 4 // 3  # under the size cap: only "never inflate" stops it
    inflations: list[str] = []
    for name in ("decompress", "decompressobj"):
        real = getattr(zlib, name)
        monkeypatch.setattr(zlib, name, lambda *a, _real=real, _name=name, **k: (
            inflations.append(_name), _real(*a, **k))[1])
    client = Client()
    tracemalloc.start()
    try:
        hostile.expect_rejected(Reason.MALFORMED, lambda: hostile.post_value(client, value))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Mutation: decode_post_binding inflating (even bounded) what is not XML -> fails here.
    assert inflations == []
    # Memory, not time, bounds the rest (whatever this machine's speed): inflating would need
    # 200 MB; decoding the ~270 KB posted needs a few.
    assert peak < 32 * 1024 * 1024, f"peak {peak / 2**20:.0f} MB"
    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited()))  # control


def test_not_base64_not_xml_and_missing(hostile: Hostile) -> None:
    client = Client()
    hostile.expect_rejected(
        Reason.MALFORMED, lambda: hostile.post_value(client, "%%%not-base64%%%")
    )
    hostile.expect_rejected(Reason.MALFORMED, lambda: hostile.post_value(client, b64(b"hello")))
    hostile.expect_rejected(Reason.MALFORMED, lambda: hostile.post_value(client, b64(b"<unclosed")))
    hostile.expect_rejected(Reason.NOT_A_RESPONSE, lambda: hostile.post_value(client, b64(b"<r/>")))
    hostile.expect_rejected(Reason.MISSING_RESPONSE, lambda: client.post("/saml2/acs/", {}))
    hostile.expect_signed_in(hostile.post(client, hostile.unsolicited()))  # control


# -- DOCTYPE, entities, external fetches, XInclude -------------------------------------
@pytest.fixture
def listener():
    """A real local HTTP server recording every fetch: any request to it is an external fetch."""
    with MetadataServer() as server:
        yield server


PROLOGS = {
    "bare DOCTYPE": b"<!DOCTYPE Response>",
    "internal entity": b'<!DOCTYPE Response [<!ENTITY who "ada@contoso.example">]>',
    "billion laughs": b'<!DOCTYPE Response [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;'
    b'&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
}


@pytest.mark.parametrize("case", PROLOGS, ids=list(PROLOGS))
def test_doctype_and_entities(hostile: Hostile, case: str) -> None:
    _attack_bytes(hostile, Reason.FORBIDDEN_XML, lambda xml: b64(_with_prolog(xml, PROLOGS[case])))


@pytest.mark.parametrize("kind", ["external DTD", "external entity"])
def test_external_dtd_and_entity_are_never_fetched(
    hostile: Hostile, listener: MetadataServer, kind: str
) -> None:
    url = listener.url("/evil.dtd").encode()
    prolog = (
        b'<!DOCTYPE Response SYSTEM "' + url + b'">'
        if kind == "external DTD"
        else b'<!DOCTYPE Response [<!ENTITY % x SYSTEM "' + url + b'"> %x;]>'
    )
    _attack_bytes(hostile, Reason.FORBIDDEN_XML, lambda xml: b64(_with_prolog(xml, prolog)))
    assert listener.requests == []


def _body(xml: bytes) -> str:
    return (xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml).decode()


def test_doctype_hidden_by_utf16(hostile: Hostile) -> None:
    """UTF-16 without a byte-order mark starts with '<' and hides '<!DOCTYPE' from a byte scan."""

    def utf16(xml: bytes) -> str:
        text = '<?xml version="1.0" encoding="UTF-16LE"?><!DOCTYPE Response>' + _body(xml)
        return b64(text.encode("utf-16-le"))

    _attack_bytes(hostile, Reason.FORBIDDEN_XML, utf16)


def test_doctype_hidden_by_utf7(hostile: Hostile) -> None:
    """UTF-7 spells '<!DOCTYPE' as '+ADwAIQ-DOCTYPE': the parsed document is checked too."""

    def utf7(xml: bytes) -> str:
        return b64(
            b'<?xml version="1.0" encoding="UTF-7"?>+ADwAIQ-DOCTYPE Response+AD4-'
            + _body(xml).encode("utf-7")
        )

    _attack_bytes(hostile, Reason.FORBIDDEN_XML, utf7)


def test_utf7_encoded_genuine_response(hostile: Hostile) -> None:
    """No DOCTYPE at all, but an encoding that could hide one: SAML is UTF-8, refuse the rest."""

    def utf7(xml: bytes) -> str:
        return b64(b'<?xml version="1.0" encoding="UTF-7"?>' + _body(xml).encode("utf-7"))

    _attack_bytes(hostile, Reason.FORBIDDEN_XML, utf7)


@pytest.mark.parametrize(
    "namespace", ["http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude"]
)
def test_xinclude_is_refused(hostile: Hostile, listener: MetadataServer, namespace: str) -> None:
    """Signed with the XInclude inside a claim value: only the XInclude rule can refuse it."""
    href = listener.url("/secret")

    def include(root: etree._Element) -> None:
        value = assertion_of(root).find(
            f"{SAML}AttributeStatement/{SAML}Attribute/{SAML}AttributeValue"
        )
        etree.SubElement(value, f"{{{namespace}}}include", href=href, parse="text")

    hostile.attack(Reason.FORBIDDEN_XML, mutate=include)
    assert listener.requests == []


def test_attacker_text_cannot_forge_a_log_line(hostile: Hostile):
    """An unsigned StatusCode with a newline must not write a second, fake log line."""

    def tamper(root):
        status = root.find("samlp:Status/samlp:StatusCode", NS)
        status.set("Value", "x\nsign-in ok user_id=1 created=False unsolicited=False")

    hostile.attack(Reason.IDP_ERROR_STATUS, tamper=tamper)
    messages = [r.getMessage() for r in hostile.caplog.records]
    assert not any("\n" in m for m in messages)
    assert not any("user_id=1" in m for m in messages if "rejected" in m)


# -- decode_post_binding alone: its bounds, exactly -----------------------------------------
# Each case names the mutation of saml/response.py's decode_post_binding it fails.

def _refused_as(value: str, max_bytes: int) -> str:
    from thoropass_sso.exceptions import SignInRejected
    from thoropass_sso.saml.response import decode_post_binding

    try:
        decode_post_binding(value, max_bytes)
    except SignInRejected as refused:
        return refused.reason.code
    return ""


def test_a_response_of_exactly_the_byte_limit_is_read_and_one_more_is_not() -> None:
    # Mutation: ``len(data) > max_bytes`` -> ``>=``.
    for max_bytes in (30, 31, 32):
        exact = base64.b64encode(b"<" + b"a" * (max_bytes - 1)).decode()
        over = base64.b64encode(b"<" + b"a" * max_bytes).decode()
        assert _refused_as(exact, max_bytes) == ""
        assert _refused_as(over, max_bytes) == Reason.RESPONSE_TOO_LARGE.code


def test_the_length_bound_before_decoding_is_exact() -> None:
    # Line breaks are allowed in the base64 (and count towards the bound): a value at the
    # bound is read, one character longer is refused before decoding. Mutations: the
    # bound's ``>``, ``+ 4`` or ``- 4`` changed.
    max_bytes = 30
    bound = max_bytes * 4 // 3 + 4
    encoded = base64.b64encode(b"<" + b"a" * (max_bytes - 1)).decode()
    at_bound = encoded[:20] + "\r\n" * ((bound - len(encoded)) // 2) + encoded[20:]
    assert len(at_bound) == bound
    assert _refused_as(at_bound, max_bytes) == ""
    assert _refused_as(at_bound + "\n", max_bytes) == Reason.RESPONSE_TOO_LARGE.code


def test_base64_is_read_strictly_and_whitespace_is_not_part_of_it() -> None:
    # Mutations: validate=False (characters outside base64 silently dropped), the pieces
    # between line breaks joined with something else.
    encoded = base64.b64encode(b"<samlp:Response/>").decode()
    assert _refused_as(encoded[:8] + "\n " + encoded[8:], 100) == ""
    assert _refused_as(encoded[:8] + "!" + encoded[8:], 100) == Reason.MALFORMED.code
    assert _refused_as(encoded[:8] + "*" + encoded[8:], 100) == Reason.MALFORMED.code


def test_xml_may_start_after_whitespace_and_nothing_else() -> None:
    # Mutation: lstrip() -> rstrip() (a document that starts with a line break refused).
    assert _refused_as(base64.b64encode(b"\n  <samlp:Response/>").decode(), 100) == ""
    assert _refused_as(base64.b64encode(b"x<samlp:Response/>").decode(), 100) == (
        Reason.MALFORMED.code)
