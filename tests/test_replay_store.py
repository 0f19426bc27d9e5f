"""The default replay store: thoropass_sso's UsedMessageId table.

Replays themselves are refused in test_hostile_replay.py (both stores) and across
processes in test_hostile_replay_processes.py; this file covers what is particular
to the table: it rolls back with a refused sign-in, and expired rows are purged.
"""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from thoropass_sso import replay
from thoropass_sso.models import UsedMessageId
from thoropass_sso.reasons import Reason
from thoropass_sso.testing import EntraUser

from .hostile_helpers import Hostile, hostile, override_sso  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_a_sign_in_refused_after_the_replay_check_leaves_its_id_unused(
    hostile: Hostile, settings
) -> None:
    # Guests are refused by policy, which runs after the assertion id is recorded:
    # the same transaction rolls the record back.
    override_sso(settings, ALLOW_GUESTS=False)
    guest = EntraUser(upn="eve_fabrikam.example#EXT#@contoso.example",
                      guest_identity_provider="https://sts.windows.net/9999/")
    before = UsedMessageId.objects.count()
    xml = hostile.unsolicited(user=guest)
    hostile.expect_rejected(Reason.GUEST_NOT_ALLOWED, lambda: hostile.post(Client(), xml))
    assert UsedMessageId.objects.count() == before
    # Control: an accepted sign-in records exactly its assertion id.
    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited()))
    assert UsedMessageId.objects.count() == before + 1


def test_expired_ids_are_purged_and_unexpired_ids_kept() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    replay._last_purge = float("inf")  # no purge while claiming: only the explicit one below
    try:
        for name, minutes in (("old", 1), ("new", 30)):
            assert replay.claim_once("assertion", name, until=now + timedelta(minutes=minutes),
                                     now=now, skew_seconds=180)
    finally:
        replay._last_purge = 0.0
    assert replay.purge_expired(now + timedelta(minutes=10)) == 1
    assert not replay.claim_once("assertion", "new", until=now + timedelta(minutes=30),
                                 now=now + timedelta(minutes=10), skew_seconds=180)
    assert replay.claim_once("assertion", "old", until=now + timedelta(minutes=30),
                             now=now + timedelta(minutes=10), skew_seconds=180)


def test_each_process_purges_now_and_then(monkeypatch) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    UsedMessageId.objects.create(key="assertion:expired", expires=now - timedelta(seconds=1))
    clock = [1_000_000.0]
    monkeypatch.setattr(replay.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(replay, "_last_purge", clock[0] - 10)  # purged 10 s ago
    assert replay.claim_once("assertion", "a", until=now, now=now, skew_seconds=0)
    assert UsedMessageId.objects.filter(key="assertion:expired").exists()
    clock[0] += replay.PURGE_INTERVAL
    assert replay.claim_once("assertion", "b", until=now, now=now, skew_seconds=0)
    assert not UsedMessageId.objects.filter(key="assertion:expired").exists()
