"""One-time use of assertion ids, request ids and logout ids.

Two stores, chosen by ``THOROPASS_SSO['REPLAY_CACHE']``:

- ``""`` (the default): the database, table ``thoropass_sso_usedmessageid``.
  One INSERT per id, in the sign-in's own transaction; the primary key makes
  the first worker to record an id win on every host that shares the
  database. Nothing to configure, nothing culled before it expires, and a
  sign-in refused later in the same transaction leaves its ids unused.
- a cache alias: that Django cache, through ``cache.add`` (atomic on every
  shared backend Django ships: database, Redis, Memcached). For sites that
  keep such state in Redis. A process-local cache (LocMemCache) only protects
  one process, which is why IdP-initiated sign-in then is refused.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.utils import timezone

from . import clock
from .conf import get_settings
from .exceptions import ConfigurationError, SignInRejected
from .reasons import Reason

_PREFIX = "thoropass_sso"
logger = logging.getLogger(__name__)

# Expired rows are deleted by each process at most this often (seconds): often
# enough that the table stays the size of ~15 minutes of sign-ins, rarely
# enough that the DELETE (an index range scan) costs nothing per sign-in.
PURGE_INTERVAL = 300
# When this process last purged (clock.monotonic()), or None: never. Not 0.0, which on a
# host that booted less than PURGE_INTERVAL ago would read as "just now", forever.
_last_purge: float | None = None


def uses_database() -> bool:
    return not get_settings().REPLAY_CACHE


def _cache():
    alias = get_settings().REPLAY_CACHE
    try:
        cache = caches[alias]
    except Exception:
        raise ConfigurationError(
            f"THOROPASS_SSO['REPLAY_CACHE'] names cache {alias!r}, which is not in CACHES."
        ) from None
    if isinstance(cache, DummyCache):
        raise ConfigurationError(
            f"THOROPASS_SSO['REPLAY_CACHE'] ({alias!r}) is a DummyCache, which stores nothing: "
            "replayed sign-ins could not be detected. Leave REPLAY_CACHE empty (the database) "
            "or name a Redis cache."
        )
    return cache


@functools.cache
def _store_down_errors() -> tuple[type[BaseException], ...]:
    """What a cache store raises when it cannot be reached: redis-py's connection and
    timeout errors, socket errors (other clients). Database caches raise database
    errors, which the views answer as ``database_unavailable``."""
    errors: list[type[BaseException]] = [OSError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:
        pass
    else:
        errors += [RedisConnectionError, RedisTimeoutError]
    return tuple(errors)


def replay_cache_is_shared() -> bool:
    """True when used ids are visible to every process (the database, or not a LocMemCache)."""
    return uses_database() or not isinstance(_cache(), LocMemCache)


# Below this, a busy site can push unexpired ids out of a culling cache.
SAFE_MAX_ENTRIES = 100_000


def replay_cache_capacity() -> int | None:
    """MAX_ENTRIES of a culling cache (database, file, local memory), else None.

    Those caches delete entries, expired or not, once they hold MAX_ENTRIES
    (300 by default): a used id forgotten early can be replayed. Redis and
    Memcached evict under memory pressure instead (configure noeviction). The
    database store never deletes an unexpired id.
    """
    if uses_database():
        return None
    cache = _cache()
    # Every Django cache has _max_entries (BaseCache reads MAX_ENTRIES, default 300), but
    # only these three cull by it; reading it off a RedisCache made check W007 warn a
    # site that had done exactly what it advises (found when the suite first ran on Redis).
    from django.core.cache.backends.db import DatabaseCache
    from django.core.cache.backends.filebased import FileBasedCache

    if isinstance(cache, DatabaseCache | FileBasedCache | LocMemCache):
        return cache._max_entries
    return None


def _digest(kind: str, value: str) -> str:
    # Hash so that attacker-chosen ids cannot break key length or cache key rules.
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def claim_once(kind: str, value: str, *, until: datetime, now: datetime, skew_seconds: int) -> bool:
    """Record ``value`` as used until ``until`` (+ skew); False if it already was."""
    # Round up, plus one second: int() truncation and stores that keep whole-second
    # expiries (the database cache drops microseconds) would otherwise forget the id
    # up to two seconds before the end of the window in which it is still accepted.
    seconds = max(1, math.ceil((until - now).total_seconds()) + skew_seconds + 1)
    if not uses_database():
        cache = _cache()
        try:
            # Only the key's presence is read, never its value.
            return bool(cache.add(f"{_PREFIX}:{_digest(kind, value)}", 1,  # pragma: no mutate
                                  timeout=seconds))
        except _store_down_errors() as exc:
            # Fail closed: an id that could not be recorded is never accepted. Django's
            # RedisCache lets redis-py's errors through (it has no "ignore exceptions"),
            # which would otherwise be a 500.
            raise SignInRejected(Reason.REPLAY_STORE_UNAVAILABLE,
                                 f"replay cache {get_settings().REPLAY_CACHE!r}: "
                                 f"{type(exc).__name__}: {exc}") from exc
    from .models import UsedMessageId

    try:
        # A savepoint, so that a duplicate leaves the caller's transaction usable.
        with transaction.atomic(using=_database()):
            UsedMessageId.objects.create(
                key=_digest(kind, value), expires=_for_database(now + timedelta(seconds=seconds)))
    except IntegrityError:
        return False
    except DatabaseError as exc:
        _raise_if_not_migrated(exc)
        raise
    _purge_now_and_then(now, skew_seconds)
    return True


def purge_expired(now: datetime, *, margin_seconds: int) -> int:
    """Delete used ids whose window closed more than ``margin_seconds`` ago; returns how many.

    The margin (the clock skew) keeps a host whose clock runs ahead from deleting
    ids that a host whose clock runs behind still accepts.
    """
    from .models import UsedMessageId

    threshold = _for_database(now - timedelta(seconds=margin_seconds))
    deleted, _ = UsedMessageId.objects.filter(expires__lt=threshold).delete()
    return deleted


def _purge_now_and_then(now: datetime, skew_seconds: int) -> None:
    """Purge after the caller's transaction commits, at most every PURGE_INTERVAL.

    Outside the sign-in's transaction: the DELETE then neither lengthens the
    sign-in's locks nor, if it fails, fails the sign-in.
    """
    if _last_purge is not None and clock.monotonic() - _last_purge < PURGE_INTERVAL:
        return

    def purge() -> None:
        global _last_purge
        _last_purge = clock.monotonic()
        try:
            purge_expired(now, margin_seconds=skew_seconds)
        except DatabaseError:
            logger.warning("could not purge expired used ids; retrying in %ss", PURGE_INTERVAL,
                           exc_info=True)

    transaction.on_commit(purge, using=_database())


def _database() -> str:
    from .models import UsedMessageId

    return router.db_for_write(UsedMessageId)


def _for_database(moment: datetime) -> datetime:
    # Aware datetimes in, what a DateTimeField takes out: naive local time when
    # the site runs with USE_TZ = False.
    return moment if settings.USE_TZ else timezone.make_naive(moment)


def _raise_if_not_migrated(exc: DatabaseError) -> None:
    """A missing table means migrate was not run: a 503 that says so, not a 500."""
    from .models import UsedMessageId

    table = UsedMessageId._meta.db_table
    try:
        present = table in connections[_database()].introspection.table_names()
    except DatabaseError:
        return
    if not present:
        raise ConfigurationError(
            f"thoropass_sso's table {table} does not exist: run `manage.py migrate`."
        ) from exc
