"""One-time use of assertion ids and request ids, in a shared Django cache.

``cache.add`` is atomic on every shared backend Django ships (database,
Redis, Memcached): the first worker to record an id wins, any other worker on
any host sees it as used. A process-local cache (LocMemCache) only protects
one process, which is why IdP-initiated sign-in requires a shared one.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from .conf import get_settings
from .exceptions import ConfigurationError

_PREFIX = "thoropass_sso"


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
            "replayed sign-ins could not be detected. Use a database or Redis cache."
        )
    return cache


def replay_cache_is_shared() -> bool:
    """True when used ids are visible to every process (not a LocMemCache)."""
    return not isinstance(_cache(), LocMemCache)


# Below this, a busy site can push unexpired ids out of a culling cache.
SAFE_MAX_ENTRIES = 100_000


def replay_cache_capacity() -> int | None:
    """MAX_ENTRIES of a culling cache (database, file, local memory), else None.

    Those caches delete entries, expired or not, once they hold MAX_ENTRIES
    (300 by default): a used id forgotten early can be replayed. Redis and
    Memcached evict under memory pressure instead (configure noeviction).
    """
    return getattr(_cache(), "_max_entries", None)


def _key(kind: str, value: str) -> str:
    # Hash so that attacker-chosen ids cannot break cache key rules.
    return f"{_PREFIX}:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def claim_once(kind: str, value: str, *, until: datetime, now: datetime, skew_seconds: int) -> bool:
    """Record ``value`` as used until ``until`` (+ skew); False if it already was."""
    # Round up, plus one second: int() truncation and caches that store whole-second
    # expiries (the database cache drops microseconds) would otherwise forget the id
    # up to two seconds before the end of the window in which it is still accepted.
    timeout = max(1, math.ceil((until - now).total_seconds()) + skew_seconds + 1)
    return bool(_cache().add(_key(kind, value), 1, timeout=timeout))
