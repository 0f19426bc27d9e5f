"""safe_relative_path, one rule at a time.

tests/test_hostile_redirects.py sends hostile targets through a real sign-in; a target
there is often refused by several rules at once, so it cannot show that each rule holds
by itself. Each case here is refused (or kept) by exactly one rule, and names the
mutation of thoropass_sso/redirects.py that makes it fail.
"""

from __future__ import annotations

import pytest

from thoropass_sso.redirects import _MAX_LENGTH, safe_relative_path


@pytest.mark.parametrize("value", [
    None,  # no next page asked for (mutation: ``not value or`` -> ``and``: a TypeError)
    "",
    "evil.example/path",  # relative, not a path (mutation: ``or`` -> ``and`` before startswith)
    "/" + "a" * _MAX_LENGTH,  # one over the limit
    "/reports\\..\\x",  # a backslash anywhere (mutation: the backslash test changed)
    "/%5Cevil.example",  # ... also percent-encoded, where a browser reads "//evil.example"
    "/a\x01b",  # a control character (mutation: ``or`` -> ``and`` in the control test)
    "/a\x7fb",  # DEL (mutation: 0x7F changed)
    "/a%7Fb",
    "/%2F%2Fevil.example",  # "//evil.example" once unquoted
    "/%252F%252Fevil.example",  # ... twice
])
def test_refused(value):
    assert safe_relative_path(value) is None


@pytest.mark.parametrize("value", [
    "/",
    "/" + "a" * (_MAX_LENGTH - 1),  # exactly the limit (mutation: ``>`` -> ``>=``)
    "/search?q=big%20deal",  # a space once unquoted (mutation: ``< 0x20`` -> ``<= 0x20``)
    "/a/b/?x=1&y=%2F#frag",
])
def test_kept(value):
    assert safe_relative_path(value) == value
