"""Where the browser may be sent after sign-in: same-site relative paths only."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

from django.conf import settings
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from .conf import get_settings

if TYPE_CHECKING:
    from .runtime import ConnectionConfig

_MAX_LENGTH = 2048


def safe_relative_path(value: str | None) -> str | None:
    """``value`` if it is a path on this site (``/x?y``), else None.

    Refuses scheme-relative (``//evil``), backslash (``/\\evil``), absolute,
    ``javascript:``, control characters, and percent-encoded forms of those.
    """
    if not value or len(value) > _MAX_LENGTH or not value.startswith("/"):
        return None
    # Every candidate starts with "/" (unquoting never changes the first character), so
    # none has a scheme, and only a leading "//" would give it a host.
    for candidate in (value, unquote(value), unquote(unquote(value))):
        # Browsers read a backslash as a slash ("/\\evil" is "//evil"): none is allowed.
        if candidate.startswith("//") or "\\" in candidate:
            return None
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
            return None
    if not url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return None
    return value


def default_login_redirect() -> str:
    return get_settings().LOGIN_REDIRECT_URL or resolve_url(settings.LOGIN_REDIRECT_URL)


def landing_path(connection: ConnectionConfig) -> str:
    """Where a sign-in through ``connection`` lands when no page was asked for."""
    return connection.policy.landing_path or default_login_redirect()


def default_logout_redirect() -> str:
    """The site's logout redirect, or thoropass_sso's "You are signed out" page."""
    conf = get_settings()
    if conf.LOGOUT_REDIRECT_URL:
        return conf.LOGOUT_REDIRECT_URL
    if settings.LOGOUT_REDIRECT_URL:
        return resolve_url(settings.LOGOUT_REDIRECT_URL)
    from django.urls import reverse

    return reverse("thoropass_sso:signed_out")
