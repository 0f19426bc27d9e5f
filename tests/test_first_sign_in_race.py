"""Two first sign-ins of the same Entra identity at once: one user, never two.

The interleaving is reproduced in one process: this sign-in's lookup runs before
the other worker's sign-in commits (the first lookup is made to miss), and the
other worker's user and identity are already in the database when this one
creates its own. The unique key refuses this sign-in's identity row; its
savepoint is rolled back (its new user with it) and the sign-in continues as the
returning user the other one created. Everything else is the real path.
"""

# ruff: noqa: F811 - test functions take the imported ``hostile`` fixture by name

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client

from thoropass_sso.backends import EntraBackend
from thoropass_sso.models import Connection, EntraIdentity
from thoropass_sso.testing import EntraUser

from .hostile_helpers import Hostile, hostile  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_a_lost_race_signs_in_the_winners_user(hostile: Hostile, monkeypatch) -> None:
    newcomer = EntraUser(upn="newcomer@contoso.example", given_name="New")
    xml = hostile.unsolicited(user=newcomer)
    winner = get_user_model().objects.create(username="other-worker")
    EntraIdentity.objects.create(user=winner, connection=Connection.objects.get(),
                                 tenant_id=hostile.entra.tenant_id, object_id=newcomer.object_id)
    users_before = get_user_model().objects.count()
    real_lookup, lookups = EntraBackend._returning_user, []

    def lookup_before_the_winner_committed(self, *args, **kwargs):
        lookups.append(1)
        return None if len(lookups) == 1 else real_lookup(self, *args, **kwargs)

    monkeypatch.setattr(EntraBackend, "_returning_user", lookup_before_the_winner_committed)
    hostile.expect_signed_in(hostile.post(Client(), xml))

    assert len(lookups) == 2  # missed, lost the insert, looked again
    [identity] = EntraIdentity.objects.filter(object_id=newcomer.object_id)
    assert identity.user == winner
    assert identity.upn == newcomer.upn  # updated as a returning user's is
    winner.refresh_from_db()
    assert winner.first_name == "New"
    assert get_user_model().objects.count() == users_before  # the loser's user was rolled back
    assert hostile.recorder.sign_ins[-1]["created"] is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_first_sign_ins_at_once_on_postgresql(hostile: Hostile, monkeypatch) -> None:
    """The real race, on two database connections under READ COMMITTED: sign-in A has
    created the user and identity but not committed; sign-in B, which cannot see them,
    creates its own and blocks in PostgreSQL on A's unique keys; A commits; B's insert
    fails, its savepoint is rolled back (PostgreSQL aborts a transaction at its first
    error unless a savepoint is rolled back), and B's second lookup -- a new statement,
    so a new READ COMMITTED snapshot -- sees A's committed row. Under REPEATABLE READ
    B's second lookup would not see it and B fails (docs/compatibility.md)."""
    # Mutations: drop the savepoint around _create in backends.py, or run the
    # connections at REPEATABLE READ -> B's sign-in raises (a 500) and this fails.
    newcomer = EntraUser(upn="racer@contoso.example", given_name="Race")
    responses = [hostile.unsolicited(user=newcomer), hostile.unsolicited(user=newcomer)]
    users_before = get_user_model().objects.count()
    a_created, release_a = threading.Event(), threading.Event()
    real_create = EntraBackend._create

    def create_then_wait_if_first(self, *args, **kwargs):
        user = real_create(self, *args, **kwargs)
        if not a_created.is_set():  # sign-in A: hold its transaction open
            a_created.set()
            assert release_a.wait(30), "never released"
        return user

    monkeypatch.setattr(EntraBackend, "_create", create_then_wait_if_first)
    results: dict[str, object] = {}

    def sign_in(name: str, xml: bytes) -> None:
        try:
            results[name] = hostile.post(Client(), xml)
        except BaseException as exc:  # reported by the main thread
            results[name] = exc
        finally:
            connections.close_all()

    a = threading.Thread(target=sign_in, args=("a", responses[0]))
    a.start()
    assert a_created.wait(30)
    b = threading.Thread(target=sign_in, args=("b", responses[1]))
    b.start()
    # B is really blocked in PostgreSQL behind A's uncommitted rows (not merely slow).
    deadline = time.monotonic() + 30
    while _waiting_on_a_lock() == 0:
        assert time.monotonic() < deadline, "sign-in B never waited for A's row lock"
        assert b.is_alive(), f"B finished without waiting: {results.get('b')}"
        time.sleep(0.02)
    release_a.set()
    a.join(30)
    b.join(30)
    for name in ("a", "b"):
        assert not isinstance(results[name], BaseException), results[name]
        hostile.expect_signed_in(results[name])

    [identity] = EntraIdentity.objects.filter(object_id=newcomer.object_id)
    assert get_user_model().objects.count() == users_before + 1  # one user, never two
    created = sorted(s["created"] for s in hostile.recorder.sign_ins)
    assert created == [False, True]  # A created it; B signed in as A's user
    assert {s["user"].pk for s in hostile.recorder.sign_ins} == {identity.user_id}


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]
