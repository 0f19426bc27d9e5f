"""The one object a sign-in carries from the ACS through the backend, the adapter and the signals.

Every step sees the same state -- which connection, what was verified, where
the browser goes next, who the user turned out to be -- and nothing is smuggled
on ``request`` or ``user`` attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

    from .claims import EntraClaims
    from .exceptions import SignInRejected
    from .runtime import ConnectionConfig
    from .saml.response import VerifiedAssertion


@dataclass
class SignIn:
    """One sign-in through Entra, from a verified assertion to a Django user.

    ``connection`` and ``assertion`` are fixed when the object is made (the
    response verified with that connection's keys); the backend fills ``user``
    and ``created``, or ``rejection`` when a policy refuses.
    """

    request: HttpRequest
    connection: ConnectionConfig
    assertion: VerifiedAssertion
    next_path: str = ""
    user: AbstractBaseUser | None = None
    created: bool = False
    rejection: SignInRejected | None = None
    # Set by EntraBackend when Django's authenticate() reached it: if nothing did, the
    # backend is missing from AUTHENTICATION_BACKENDS (a 503, not "not allowed").
    backend_reached: bool = field(default=False, repr=False)

    @property
    def claims(self) -> EntraClaims:
        return self.assertion.claims

    @property
    def is_unsolicited(self) -> bool:
        """IdP-initiated: the My Apps tile or Entra's 'Test this application' button."""
        return self.assertion.is_unsolicited

    def __repr__(self) -> str:  # claims stay out of tracebacks and logs
        return f"SignIn(connection={self.connection.name!r}, created={self.created})"
