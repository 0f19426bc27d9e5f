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

import pytest
from django.contrib.auth import get_user_model
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
