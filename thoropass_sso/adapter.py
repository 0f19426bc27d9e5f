"""Site policy in one swappable class: ``THOROPASS_SSO['ADAPTER']``.

Subclass :class:`EntraAdapter` and override what your site decides
differently: who may sign in, whether accounts are created, how claims fill
the user, how Entra groups and app roles become Django groups and flags.
Methods raise :class:`~thoropass_sso.exceptions.SignInRejected` to refuse;
they must not trust ``claims.email`` for anything but display.

The order the backend calls them in (docs/groups-and-policy.md):
``check_sign_in_allowed`` -> ``entra_groups`` (-> ``resolve_overage_groups``)
-> ``check_access`` -> [``may_create_user`` -> ``new_user``] ->
``populate_user`` -> ``apply_groups_and_roles``. Everything before
``new_user`` runs before anything is stored.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
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

logger = logging.getLogger("thoropass_sso")


@dataclass(frozen=True)
class MappingPlan:
    """What the mapping decided for one sign-in.

    ``add``/``remove`` are Django group names; ``is_staff``/``is_superuser``
    are True/False to set the flag, or None to leave it as it is (not mapped,
    or not knowable because of groups overage).
    """

    add: frozenset[str]
    remove: frozenset[str]
    is_staff: bool | None
    is_superuser: bool | None


def _decide(grants_known: bool, maybe_unknown: bool, mirror: bool) -> bool | None:
    """True: grant. False: revoke. None: leave as it is."""
    if grants_known:
        return True
    if maybe_unknown or not mirror:
        return None
    return False


class EntraAdapter:
    """The default policy: Entra-correct, safe, and what most sites want."""

    def check_sign_in_allowed(self, request: HttpRequest, claims: EntraClaims) -> None:
        """Raise SignInRejected if this identity may not sign in. Nothing is stored yet."""
        if not get_settings().ALLOW_GUESTS and (claims.is_guest or not claims.identity_provider):
            # Without the identityprovider claim a guest cannot be told apart: fail closed.
            raise SignInRejected(Reason.GUEST_NOT_ALLOWED, "guest (B2B) user, or no identityprovider claim")

    # -- groups and app roles ------------------------------------------------
    def entra_groups(self, request: HttpRequest | None, claims: EntraClaims) -> tuple[str, ...] | None:
        """The user's Entra group object ids (lower-case), or None when unknown.

        Unknown means groups overage: Entra sent ``groups.link`` instead of
        ``groups`` (more than 150 groups). Then :meth:`resolve_overage_groups`
        is asked; if it cannot tell, nothing is granted or taken away because
        of groups, and a warning with a reference id is logged.
        """
        if not claims.groups_overage:
            return tuple(g.lower() for g in claims.groups)
        resolved = self.resolve_overage_groups(request, claims)
        if resolved is not None:
            return tuple(g.lower() for g in resolved)
        logger.warning(
            "groups overage: Entra sent groups.link instead of groups; group-based mapping and "
            "access rules left undecided reference=%s", secrets.token_hex(4).upper(),
        )
        return None

    def resolve_overage_groups(
        self, request: HttpRequest | None, claims: EntraClaims
    ) -> Iterable[str] | None:
        """Hook: the user's group object ids when Entra sent ``groups.link``.

        Sites that can ask Microsoft Graph (``/users/{claims.object_id}/getMemberObjects``)
        or another source return the ids here. The default returns None: unknown.
        """
        return None

    def check_access(
        self, request: HttpRequest | None, claims: EntraClaims, groups: tuple[str, ...] | None
    ) -> None:
        """Enforce ``ALLOWED_GROUPS`` / ``ALLOWED_ROLES``; runs before anything is stored.

        With neither set everyone passes. A holder of an allowed app role
        passes even under groups overage; otherwise unknown groups fail closed.
        """
        conf = get_settings()
        if not conf.ALLOWED_GROUPS and not conf.ALLOWED_ROLES:
            return
        if set(conf.ALLOWED_ROLES) & set(claims.roles):
            return
        allowed_groups = {g.lower() for g in conf.ALLOWED_GROUPS}
        if allowed_groups and groups is None:
            raise SignInRejected(Reason.GROUPS_UNKNOWN, "groups overage and no allowed app role")
        if allowed_groups & set(groups or ()):
            return
        raise SignInRejected(Reason.ACCESS_RULE, "no allowed group or app role")

    def plan_groups_and_roles(
        self, claims: EntraClaims, groups: tuple[str, ...] | None
    ) -> MappingPlan:
        """Decide, from settings, which managed Django groups and flags the user gets.

        Managed groups are the Django group names in ``GROUP_MAP`` and
        ``ROLE_MAP``; no other group is ever touched. With ``MIRROR_GROUPS`` a
        managed group (or mapped flag) the user no longer earns is removed;
        one that only an Entra group could earn is kept as it is while the
        groups are unknown (overage).
        """
        conf = get_settings()
        roles = set(claims.roles)
        known_groups = set(groups or ())
        groups_unknown = groups is None

        def sources(by_group: Iterable[str], by_role: Iterable[str]) -> bool | None:
            by_group = {g.lower() for g in by_group}
            granted = bool(known_groups & by_group) or bool(roles & set(by_role))
            return _decide(granted, groups_unknown and bool(by_group), conf.MIRROR_GROUPS)

        names = {n for values in (*conf.GROUP_MAP.values(), *conf.ROLE_MAP.values()) for n in values}
        add, remove = set(), set()
        for name in names:
            decision = sources(
                (g for g, targets in conf.GROUP_MAP.items() if name in targets),
                (r for r, targets in conf.ROLE_MAP.items() if name in targets),
            )
            if decision is True:
                add.add(name)
            elif decision is False:
                remove.add(name)

        superuser = None
        if conf.SUPERUSER_GROUPS or conf.SUPERUSER_ROLES:
            superuser = sources(conf.SUPERUSER_GROUPS, conf.SUPERUSER_ROLES)
        staff = None
        if conf.STAFF_GROUPS or conf.STAFF_ROLES:
            # A mapped superuser is also staff: the admin only lets staff in.
            staff = sources((*conf.STAFF_GROUPS, *conf.SUPERUSER_GROUPS),
                            (*conf.STAFF_ROLES, *conf.SUPERUSER_ROLES))
        elif superuser is True:
            staff = True  # is_staff is not managed: only granted along with superuser
        return MappingPlan(frozenset(add), frozenset(remove), staff, superuser)

    def apply_groups_and_roles(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        claims: EntraClaims,
        groups: tuple[str, ...] | None,
    ) -> None:
        """Apply :meth:`plan_groups_and_roles` to a saved user (inside the sign-in transaction).

        Missing Django groups are created by name; their permissions are the site's.
        """
        plan = self.plan_groups_and_roles(claims, groups)
        flags = {"is_staff": plan.is_staff, "is_superuser": plan.is_superuser}
        changed = [
            name for name, value in flags.items()
            if value is not None and hasattr(user, name) and getattr(user, name) != value
        ]
        for name in changed:
            setattr(user, name, flags[name])
        if changed:
            user.save(update_fields=changed)
        if not hasattr(user, "groups") or not (plan.add or plan.remove):
            return
        from django.contrib.auth.models import Group

        current = set(user.groups.values_list("name", flat=True))
        to_add = sorted(plan.add - current)
        to_remove = plan.remove & current
        if to_add:
            user.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in to_add))
        if to_remove:
            user.groups.remove(*Group.objects.filter(name__in=to_remove))

    # -- accounts -------------------------------------------------------------
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
