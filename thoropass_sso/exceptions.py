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
    """A setting is missing or wrong; the message names the setting."""


class MetadataError(ThoropassSSOError):
    """The identity provider's federation metadata could not be used."""


class MetadataFetchError(MetadataError):
    """The metadata URL could not be fetched (network, HTTP status, size, timeout)."""


class MetadataInvalid(MetadataError):
    """The metadata was fetched but is not acceptable Entra federation metadata."""


class MetadataNotStored(MetadataError):
    """No metadata has been stored for a connection yet."""


class SignInRejected(ThoropassSSOError, PermissionDenied):
    """A sign-in (or SAML message) was refused for a known reason.

    ``detail`` is for the log only and must never contain claims, assertions
    or tokens; users see ``reason.user_message`` and a reference id.
    """

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.code}: {detail}" if detail else reason.code)
