"""Site policy in one swappable class: ``THOROPASS_SSO['ADAPTER']``.

Subclass :class:`EntraAdapter` and override what your site decides
differently: who may sign in, whether accounts are created, how claims fill
the user. Methods raise :class:`~thoropass_sso.exceptions.SignInRejected` to
refuse; they must not trust ``claims.email`` for anything but display.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.utils.module_loading import import_string

from .claims import EntraClaims
from .conf import get_settings
from .exceptions import ConfigurationError, SignInRejected
from .reasons import Reason


class EntraAdapter:
    """The default policy: Entra-correct, safe, and what most sites want."""

    def check_sign_in_allowed(self, request: HttpRequest, claims: EntraClaims) -> None:
        """Raise SignInRejected if this identity may not sign in. Nothing is stored yet."""
        if claims.is_guest and not get_settings().ALLOW_GUESTS:
            raise SignInRejected(Reason.GUEST_NOT_ALLOWED, "guest (B2B) user")

    def may_create_user(self, request: HttpRequest, claims: EntraClaims) -> bool:
        return get_settings().CREATE_USERS

    def new_username(self, claims: EntraClaims) -> str:
        """A free username: the UPN when available. Display only, never a key."""
        user_model = get_user_model()
        field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        limit = getattr(field, "max_length", None) or 150
        base = (claims.upn or claims.name_id or claims.object_id).lower()[:limit]
        candidates = (base, f"{base[: limit - 9]}-{claims.object_id[:8]}", claims.object_id)
        for candidate in candidates:
            if not user_model._default_manager.filter(
                **{user_model.USERNAME_FIELD: candidate}
            ).exists():
                return candidate
        return f"entra-{claims.tenant_id[:8]}-{claims.object_id}"[:limit]

    def new_user(self, request: HttpRequest, claims: EntraClaims) -> AbstractBaseUser:
        """An unsaved user for ``claims``; it can sign in only through Entra."""
        user_model = get_user_model()
        user = user_model(**{user_model.USERNAME_FIELD: self.new_username(claims)})
        user.set_unusable_password()
        return user

    def user_fields(self, claims: EntraClaims) -> dict[str, Any]:
        """Model fields set from claims on every sign-in."""
        return {
            "email": claims.email or (claims.upn if "@" in claims.upn else ""),
            "first_name": claims.given_name,
            "last_name": claims.surname,
        }

    def populate_user(self, request: HttpRequest, user: AbstractBaseUser, claims: EntraClaims) -> bool:
        """Copy claims onto ``user``; return True if anything changed."""
        changed = False
        for name, value in self.user_fields(claims).items():
            if not hasattr(user, name):
                continue
            field = user._meta.get_field(name)
            value = (value or "")[: getattr(field, "max_length", None) or None]
            if getattr(user, name) != value:
                setattr(user, name, value)
                changed = True
        return changed


@cache
def _adapter_for(path: str) -> EntraAdapter:
    try:
        adapter_class = import_string(path)
    except ImportError as exc:
        raise ConfigurationError(f"THOROPASS_SSO['ADAPTER'] could not be imported: {exc}") from None
    return adapter_class()


def get_adapter() -> EntraAdapter:
    return _adapter_for(get_settings().ADAPTER)
