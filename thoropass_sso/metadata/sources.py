"""Documents the site can produce itself, without the network.

The local Entra stand-in (``thoropass_sso.standin``) serves its metadata at a URL
on this very site; ``refresh_entra_metadata`` usually runs before that site is
up. A source registered here answers for its own URLs in-process, so the
refresh stores exactly what the URL would serve. Sources claim URLs only while
they are allowed to serve them (the stand-in: DEBUG on, or a localhost site).
"""

from __future__ import annotations

from typing import Protocol


class LocalSource(Protocol):
    def claims(self, url: str) -> bool:
        """True when this source answers for ``url``."""

    def document(self, url: str) -> bytes:
        """The document at ``url`` (only asked after ``claims`` said yes)."""


_sources: list[LocalSource] = []


def register(source: LocalSource) -> None:
    if source not in _sources:
        _sources.append(source)


def local_source_for(url: str) -> LocalSource | None:
    return next((s for s in _sources if s.claims(url)), None)
