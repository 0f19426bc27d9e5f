"""Issue 3, item 9: ``next`` and RelayState only as same-site relative paths.
Every hostile value still signs the user in (the response is genuine) but
lands on the default redirect."""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import pytest
from django.test import Client

from .hostile_helpers import Hostile, hostile  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

DEFAULT = "/home/"  # tests/settings.py LOGIN_REDIRECT_URL

HOSTILE_TARGETS = [
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "/%2F%2Fevil.example/",
    "%2F%2Fevil.example/",
    "/%5Cevil.example/",
    "/%252F%252Fevil.example/",
    "https://user@evil.example/",
    "//user:password@evil.example/",
    "https://testserver@evil.example/",
    "/\t/evil.example/",
    "/%09/evil.example/",
    " //evil.example/",
    "",
]
SAFE_TARGETS = ["/deep/link/", "/deep/link/?tab=2#x", "/home/?next=%2F%2Fevil"]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_hostile_next_goes_to_the_default(hostile: Hostile, target: str) -> None:
    client, request = hostile.login(next_path=target)
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request)), DEFAULT)


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_hostile_relay_state_goes_to_the_default(hostile: Hostile, target: str) -> None:
    """IdP-initiated: the RelayState is the only source of the destination."""
    hostile.expect_signed_in(
        hostile.post(Client(), hostile.unsolicited(), relay_state=target), DEFAULT
    )


@pytest.mark.parametrize("target", SAFE_TARGETS)
def test_same_site_paths_are_kept(hostile: Hostile, target: str) -> None:
    """Controls: the sanitiser is not simply always answering the default."""
    client, request = hostile.login(next_path=target)
    hostile.expect_signed_in(hostile.post(client, hostile.genuine(request)), target)
    hostile.expect_signed_in(
        hostile.post(Client(), hostile.unsolicited(), relay_state=target), target
    )


def test_relay_state_cannot_override_the_requested_path(hostile: Hostile) -> None:
    """SP-initiated: the destination is this browser's request's, not the posted RelayState."""
    client, request = hostile.login(next_path="/deep/link/")
    hostile.expect_signed_in(
        hostile.post(client, hostile.genuine(request), relay_state="/home/?x"), "/deep/link/"
    )
