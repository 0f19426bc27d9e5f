"""Every error thoropass_sso raises descends from :class:`ThoropassSSOError`.

They also subclass Django's own exceptions so Django answers them correctly
without extra code: configuration mistakes are ``ImproperlyConfigured`` and a
refused sign-in is ``PermissionDenied`` (a 403 unless the reason says otherwise).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, PermissionDenied

from .reasons import Reason


class ThoropassSSOError(Exception):
    """Root of every exception raised by thoropass_sso."""


class ConfigurationError(ThoropassSSOError, ImproperlyConfigured):
    """A setting is missing or wrong; the message names the setting.

    ``check_id`` and ``hint`` are what ``manage.py check`` reports it as (E001 by default).
    """

    def __init__(self, message: str, *, check_id: str = "", hint: str = "") -> None:
        self.check_id = check_id
        self.hint = hint
        super().__init__(message)


class MetadataError(ThoropassSSOError):
    """The identity provider's federation metadata could not be used."""


class MetadataFetchError(MetadataError):
    """The metadata URL could not be fetched (network, HTTP status, size, timeout)."""


class MetadataInvalid(MetadataError):
    """The metadata was fetched but is not acceptable Entra federation metadata."""


class TenantChanged(MetadataInvalid):
    """The fetched metadata is for another tenant than the one the connection is pinned to."""

    def __init__(self, pinned: str, offered: str) -> None:
        self.pinned = pinned
        self.offered = offered
        super().__init__(
            f"the metadata is for tenant {offered}, but the connection is pinned to tenant "
            f"{pinned}; a refresh never changes the tenant (use --repin if the customer "
            "really moved to another tenant)"
        )


class MetadataURLRefused(MetadataInvalid):
    """A connection may not be fetched from this URL (not Entra's host, not https, a placeholder)."""


class MetadataNotStored(MetadataError):
    """No metadata has been stored for a connection yet."""


class ConnectionNotFound(ThoropassSSOError, LookupError):
    """No connection of that name exists with stored metadata."""


class OperationRefused(ThoropassSSOError, ValueError):
    """An operation on a connection was refused; the message says why and what to do."""


class SignInRejected(ThoropassSSOError, PermissionDenied):
    """A sign-in (or SAML message) was refused for a known reason.

    ``detail`` is for the log only and must never contain claims, assertions
    or tokens; users see ``reason.user_message`` and a reference id.
    """

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.code}: {detail}" if detail else reason.code)
