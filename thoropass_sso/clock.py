"""The two clocks thoropass_sso reads, in one place so tests can set them.

``now()`` is wall-clock time (aware, UTC): what SAML timestamps are compared
with. ``monotonic()`` measures intervals inside one process (how long ago a
connection was checked, when the replay table was last purged). Code must never
assume ``monotonic()`` starts anywhere in particular: on a host that booted a
minute ago it is small, and "now minus a sentinel 0.0" is then not "long ago".

Tests replace both with :func:`use` (``thoropass_sso.testing`` wraps it as a
fixture) instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
_monotonic: Callable[[], float] = time.monotonic


def now() -> datetime:
    return _now()


def monotonic() -> float:
    return _monotonic()


@contextmanager
def use(*, now: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None) -> Iterator[None]:
    """Read time from the given functions inside the block (for tests)."""
    global _now, _monotonic
    saved = _now, _monotonic
    if now is not None:
        _now = now
    if monotonic is not None:
        _monotonic = monotonic
    try:
        yield
    finally:
        _now, _monotonic = saved
