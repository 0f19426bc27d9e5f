"""The default replay store: thoropass_sso's UsedMessageId table.

Replays themselves are refused in test_hostile_replay.py (both stores) and across
processes in test_hostile_replay_processes.py; this file covers what is particular
to the table: it rolls back with a refused sign-in, and expired rows are purged.
"""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.checks import run_checks
from django.db import DatabaseError
from django.test import Client

from thoropass_sso import replay
from thoropass_sso.clock import use as use_clock
from thoropass_sso.models import UsedMessageId
from thoropass_sso.reasons import Reason
from thoropass_sso.testing import EntraUser
from thoropass_sso.views import acs as acs_view

from .hostile_helpers import Hostile, hostile, override_sso  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_a_sign_in_refused_after_the_replay_check_leaves_its_id_unused(
    hostile: Hostile, settings, monkeypatch
) -> None:
    # Guests are refused by policy, which runs after the assertion id is recorded:
    # the same transaction rolls the record back.
    override_sso(settings, ALLOW_GUESTS=False)
    guest = EntraUser(upn="eve_fabrikam.example#EXT#@contoso.example",
                      guest_identity_provider="https://sts.windows.net/9999/")
    claims = []

    def recording_claim_once(*args, **kwargs):
        claims.append(replay.claim_once(*args, **kwargs))
        return claims[-1]

    monkeypatch.setattr(acs_view, "claim_once", recording_claim_once)
    before = UsedMessageId.objects.count()
    xml = hostile.unsolicited(user=guest)
    hostile.expect_rejected(Reason.GUEST_NOT_ALLOWED, lambda: hostile.post(Client(), xml))
    assert claims == [True]  # the id was recorded before the refusal...
    assert UsedMessageId.objects.count() == before  # ...and rolled back with it
    # Control: an accepted sign-in records exactly its assertion id.
    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited()))
    assert UsedMessageId.objects.count() == before + 1


def test_expired_ids_are_purged_and_unexpired_ids_kept() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for name, minutes in (("old", 1), ("new", 30)):
        assert replay.claim_once("assertion", name, until=now + timedelta(minutes=minutes),
                                 now=now, skew_seconds=180)
    later = now + timedelta(minutes=10)
    assert replay.purge_expired(later, margin_seconds=0) == 1
    assert not replay.claim_once("assertion", "new", until=later, now=later, skew_seconds=180)
    assert replay.claim_once("assertion", "old", until=later, now=later, skew_seconds=180)


def test_an_id_is_held_to_the_second_after_its_window_and_the_skew() -> None:
    # Rounded up plus one second, so a store keeping whole seconds never forgets the id
    # while it is still accepted; and never less than a second, even for a window that has
    # closed (a zero timeout means "expire now" to a cache). Mutations: the ``+ 1`` or the
    # ``max(1, ...)`` floor changed.
    now = datetime(2030, 1, 1, tzinfo=UTC)
    for name, until, held in (("open", now + timedelta(seconds=59.2), 60 + 180 + 1),
                              ("closed", now - timedelta(seconds=200), 1)):
        assert replay.claim_once("assertion", name, until=until, now=now, skew_seconds=180)
        row = UsedMessageId.objects.get(key=replay._digest("assertion", name))
        assert row.expires == now + timedelta(seconds=held)


def test_the_purge_leaves_a_margin_for_hosts_whose_clock_runs_behind() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    UsedMessageId.objects.create(key="assertion:just-expired", expires=now - timedelta(seconds=60))
    assert replay.purge_expired(now, margin_seconds=180) == 0
    assert replay.purge_expired(now, margin_seconds=30) == 1


def test_each_process_purges_after_commit_now_and_then(
        monkeypatch, django_capture_on_commit_callbacks) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    UsedMessageId.objects.create(key="assertion:expired", expires=now - timedelta(seconds=1))
    clock = [1_000_000.0]
    monkeypatch.setattr(replay, "_last_purge", clock[0])  # purged just now
    clock[0] += replay.PURGE_INTERVAL - 1
    with use_clock(monotonic=lambda: clock[0]), \
            django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert replay.claim_once("assertion", "a", until=now, now=now, skew_seconds=0)
    assert callbacks == []
    assert UsedMessageId.objects.filter(key="assertion:expired").exists()
    # Mutation: ``<`` -> ``<=`` in _purge_now_and_then -> no purge at exactly the interval.
    clock[0] += 1
    with use_clock(monotonic=lambda: clock[0]), \
            django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert replay.claim_once("assertion", "b", until=now, now=now, skew_seconds=0)
    # Scheduled for after the sign-in's commit, not run inside its transaction.
    assert len(callbacks) == 1
    assert UsedMessageId.objects.filter(key="assertion:expired").exists()
    with use_clock(monotonic=lambda: clock[0]):
        callbacks[0]()
    assert not UsedMessageId.objects.filter(key="assertion:expired").exists()
    assert replay._last_purge == clock[0]


def test_a_failed_purge_is_logged_and_never_fails_the_sign_in(
        monkeypatch, django_capture_on_commit_callbacks, caplog) -> None:
    def broken(*args, **kwargs):
        raise DatabaseError("lock timeout")

    # A process that never purged, on a host booted 12 s ago (monotonic() counts from boot).
    # Regression: with a 0.0 "never" sentinel, 12 - 0.0 < PURGE_INTERVAL read as "just
    # purged", no purge was ever attempted and this failed on a fresh CI machine.
    monkeypatch.setattr(replay, "_last_purge", None)
    monkeypatch.setattr(replay, "purge_expired", broken)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with use_clock(monotonic=lambda: 12.0), django_capture_on_commit_callbacks(execute=True):
        assert replay.claim_once("assertion", "c", until=now, now=now, skew_seconds=0)
    assert "could not purge expired used ids" in caplog.text


@pytest.mark.parametrize("use_tz", [True, False])
def test_sign_in_with_and_without_use_tz(hostile: Hostile, settings, use_tz) -> None:
    settings.USE_TZ = use_tz
    xml = hostile.unsolicited()
    hostile.expect_signed_in(hostile.post(Client(), xml))
    hostile.expect_rejected(Reason.REPLAY, lambda: hostile.post(Client(), xml))
    # The purge compares the same kind of datetime the rows hold.
    replay.purge_expired(datetime.now(UTC) + timedelta(days=1), margin_seconds=0)
    assert not UsedMessageId.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_missing_table_is_a_503_naming_migrate(hostile: Hostile, caplog) -> None:
    from django.db import connection

    with connection.schema_editor() as editor:
        editor.delete_model(UsedMessageId)
    try:
        with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
            page = hostile.post(Client(), hostile.unsolicited())
        assert page.status_code == 503  # the site must act, not the user: never a 500
        assert "reason=misconfigured" in caplog.text
        assert "run `manage.py migrate`" in caplog.text
    finally:
        with connection.schema_editor() as editor:
            editor.create_model(UsedMessageId)


def test_another_database_error_is_not_read_as_a_missing_table() -> None:
    # A lock timeout with the table in place must stay a database error (503
    # database_unavailable), not turn into "run migrate". Mutations: the table name or the
    # introspection result replaced -> ConfigurationError here.
    assert replay._raise_if_not_migrated(DatabaseError("canceling statement: lock timeout")) is None


# -- Redis (REPLAY_CACHE naming a django.core.cache.backends.redis.RedisCache) -----------
# What is particular to Redis; every replay test of test_hostile_replay.py and
# test_hostile_replay_processes.py also runs on it.

@pytest.mark.redis
def test_redis_holds_a_used_id_once_and_lets_it_expire(sso_settings) -> None:
    from django.core.cache import caches

    override_sso(sso_settings, REPLAY_CACHE="redis")
    assert replay.replay_cache_is_shared()  # IdP-initiated sign-in stays on
    # No culling by MAX_ENTRIES (Redis evicts by its memory policy), so no W007.
    # Mutation: replay_cache_capacity() reading _max_entries off any cache -> 300, W007.
    assert replay.replay_cache_capacity() is None
    assert "thoropass_sso.W007" not in {m.id for m in run_checks()}
    now = datetime.now(UTC)
    value = f"_{uuid.uuid4()}"
    assert replay.claim_once("assertion", value, until=now + timedelta(seconds=60), now=now,
                             skew_seconds=180)
    assert not replay.claim_once("assertion", value, until=now + timedelta(seconds=60), now=now,
                                 skew_seconds=180)
    cache = caches["redis"]
    key = cache.make_key(f"thoropass_sso:{replay._digest('assertion', value)}")
    ttl = cache._cache.get_client(key).ttl(key)
    # Mutation: cache.add(..., timeout=None) in replay.py -> TTL -1 (held forever).
    assert 60 + 180 <= ttl <= 60 + 180 + 2  # held for the window plus the skew, then gone
    assert not UsedMessageId.objects.exists()  # and only in Redis


@pytest.mark.redis
def test_on_redis_a_refused_sign_ins_id_stays_used(hostile: Hostile, settings) -> None:
    # The documented difference from the table (acs.py): Redis is outside the sign-in's
    # transaction, so an id recorded before a later refusal stays used -- the safe direction.
    # Mutation: the ACS deleting the assertion's key from the cache on a refusal -> the
    # second post is accepted.
    override_sso(settings, REPLAY_CACHE="redis", ALLOW_GUESTS=False)
    guest = EntraUser(upn="eve_fabrikam.example#EXT#@contoso.example",
                      guest_identity_provider="https://sts.windows.net/9999/")
    xml = hostile.unsolicited(user=guest)
    hostile.expect_rejected(Reason.GUEST_NOT_ALLOWED, lambda: hostile.post(Client(), xml))
    override_sso(settings, ALLOW_GUESTS=True)
    hostile.expect_rejected(Reason.REPLAY, lambda: hostile.post(Client(), xml))
    # The control: the same guest, in a response of its own, signs in through Redis.
    hostile.expect_signed_in(hostile.post(Client(), hostile.unsolicited(user=guest)))
