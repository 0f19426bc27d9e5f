"""Site policy in one swappable class: ``THOROPASS_SSO['ADAPTER']``.

Subclass :class:`EntraAdapter` and override what your site decides
differently: who may sign in, whether accounts are created, how claims fill
the user, how Entra groups and app roles become Django groups and flags.
Methods raise :class:`~thoropass_sso.exceptions.SignInRejected` to refuse;
they must not trust ``claims.email`` for anything but display.

Every method receives the sign-in's flow object (:class:`~thoropass_sso.flow.SignIn`):
``sign_in.claims`` is what Entra said, ``sign_in.connection`` the customer it
came through, and ``sign_in.connection.policy`` that customer's policy (from
its row, or from ``THOROPASS_SSO`` for the settings-defined connection). One
adapter serves every customer; what differs per customer is data.

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

from .conf import get_settings
from .domains import domain_of_email
from .exceptions import ConfigurationError, SignInRejected
from .flow import SignIn
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

    def check_sign_in_allowed(self, request: HttpRequest | None, sign_in: SignIn) -> None:
        """Raise SignInRejected if this identity may not sign in. Nothing is stored yet."""
        claims, policy = sign_in.claims, sign_in.connection.policy
        if not policy.allow_guests and (claims.is_guest or not claims.identity_provider):
            # Without the identityprovider claim a guest cannot be told apart: fail closed.
            raise SignInRejected(Reason.GUEST_NOT_ALLOWED, "guest (B2B) user, or no identityprovider claim")
        if policy.restrict_email_domains:
            # The address the account will carry, not only the email claim: without one
            # the UPN becomes the email (user_fields), and must stay in this customer's domains.
            email = str(self.user_fields(sign_in).get("email") or "")
            if email and domain_of_email(email) not in sign_in.connection.domains:
                raise SignInRejected(Reason.EMAIL_DOMAIN_NOT_ALLOWED,
                                     "email outside the connection's domains")

    # -- groups and app roles ------------------------------------------------
    def entra_groups(self, request: HttpRequest | None, sign_in: SignIn) -> tuple[str, ...] | None:
        """The user's Entra group object ids (lower-case), or None when unknown.

        Unknown means groups overage: Entra sent ``groups.link`` instead of
        ``groups`` (more than 150 groups). Then :meth:`resolve_overage_groups`
        is asked; if it cannot tell, nothing is granted or taken away because
        of groups, and a warning with a reference id is logged.
        """
        claims = sign_in.claims
        if not claims.groups_overage:
            return tuple(g.lower() for g in claims.groups)
        resolved = self.resolve_overage_groups(request, sign_in)
        if resolved is not None:
            return tuple(g.lower() for g in resolved)
        logger.warning(
            "groups overage: Entra sent groups.link instead of groups; group-based mapping and "
            "access rules left undecided reference=%s", secrets.token_hex(4).upper(),
        )
        return None

    def resolve_overage_groups(
        self, request: HttpRequest | None, sign_in: SignIn
    ) -> Iterable[str] | None:
        """Hook: the user's group object ids when Entra sent ``groups.link``.

        Sites that can ask Microsoft Graph (``/users/{object_id}/getMemberObjects`` in
        ``sign_in.connection.tenant_id``) or another source return the ids here. The
        default returns None: unknown.
        """
        return None

    def check_access(
        self, request: HttpRequest | None, sign_in: SignIn, groups: tuple[str, ...] | None
    ) -> None:
        """Enforce the allowed groups / app roles; runs before anything is stored.

        With neither set everyone passes. A holder of an allowed app role
        passes even under groups overage; otherwise unknown groups fail closed.
        """
        policy, claims = sign_in.connection.policy, sign_in.claims
        if not policy.restricts_access:
            return
        if set(policy.allowed_roles) & set(claims.roles):
            return
        allowed_groups = {g.lower() for g in policy.allowed_groups}
        if allowed_groups and groups is None:
            raise SignInRejected(Reason.GROUPS_UNKNOWN, "groups overage and no allowed app role")
        if allowed_groups & set(groups or ()):
            return
        raise SignInRejected(Reason.ACCESS_RULE, "no allowed group or app role")

    def plan_groups_and_roles(
        self, sign_in: SignIn, groups: tuple[str, ...] | None
    ) -> MappingPlan:
        """Decide, from the connection's policy, which managed Django groups and flags the user gets.

        Managed groups are the Django group names in the group map and the
        role map; no other group is ever touched. With mirroring on, a
        managed group (or mapped flag) the user no longer earns is removed;
        one that only an Entra group could earn is kept as it is while the
        groups are unknown (overage). Group ids are per tenant, so each
        customer's maps are its own.
        """
        policy = sign_in.connection.policy
        roles = set(sign_in.claims.roles)
        known_groups = set(groups or ())
        groups_unknown = groups is None

        def sources(by_group: Iterable[str], by_role: Iterable[str]) -> bool | None:
            by_group = {g.lower() for g in by_group}
            granted = bool(known_groups & by_group) or bool(roles & set(by_role))
            return _decide(granted, groups_unknown and bool(by_group), policy.mirror_groups)

        names = {n for values in (*policy.group_map.values(), *policy.role_map.values()) for n in values}
        add, remove = set(), set()
        for name in names:
            decision = sources(
                (g for g, targets in policy.group_map.items() if name in targets),
                (r for r, targets in policy.role_map.items() if name in targets),
            )
            if decision is True:
                add.add(name)
            elif decision is False:
                remove.add(name)

        superuser = None
        if policy.superuser_groups or policy.superuser_roles:
            superuser = sources(policy.superuser_groups, policy.superuser_roles)
        staff = None
        if policy.staff_groups or policy.staff_roles:
            # A mapped superuser is also staff: the admin only lets staff in.
            staff = sources((*policy.staff_groups, *policy.superuser_groups),
                            (*policy.staff_roles, *policy.superuser_roles))
        elif superuser is True:
            staff = True  # is_staff is not managed: only granted along with superuser
        return MappingPlan(frozenset(add), frozenset(remove), staff, superuser)

    def apply_groups_and_roles(
        self,
        request: HttpRequest | None,
        user: AbstractBaseUser,
        sign_in: SignIn,
        groups: tuple[str, ...] | None,
    ) -> None:
        """Apply :meth:`plan_groups_and_roles` to a saved user (inside the sign-in transaction).

        Missing Django groups are created by name; their permissions are the site's.
        """
        plan = self.plan_groups_and_roles(sign_in, groups)
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
    def may_create_user(self, request: HttpRequest | None, sign_in: SignIn) -> bool:
        return sign_in.connection.policy.create_users

    def new_username(self, sign_in: SignIn) -> str:
        """A free username: the UPN when available. Display only, never a key."""
        user_model = get_user_model()
        field = user_model._meta.get_field(user_model.USERNAME_FIELD)
        limit = getattr(field, "max_length", None) or 150
        claims = sign_in.claims
        base = (claims.upn or claims.name_id or claims.object_id).lower()[:limit]
        candidates = (base, f"{base[: limit - 9]}-{claims.object_id[:8]}", claims.object_id)
        for candidate in candidates:
            if not user_model._default_manager.filter(
                **{user_model.USERNAME_FIELD: candidate}
            ).exists():
                return candidate
        return f"entra-{claims.tenant_id[:8]}-{claims.object_id}"[:limit]

    def new_user(self, request: HttpRequest | None, sign_in: SignIn) -> AbstractBaseUser:
        """An unsaved user for ``sign_in``; it can sign in only through Entra."""
        user_model = get_user_model()
        user = user_model(**{user_model.USERNAME_FIELD: self.new_username(sign_in)})
        user.set_unusable_password()
        return user

    def user_fields(self, sign_in: SignIn) -> dict[str, Any]:
        """Model fields set from claims on every sign-in."""
        claims = sign_in.claims
        return {
            "email": claims.email or (claims.upn if "@" in claims.upn else ""),
            "first_name": claims.given_name,
            "last_name": claims.surname,
        }

    def populate_user(self, request: HttpRequest | None, user: AbstractBaseUser,
                      sign_in: SignIn) -> bool:
        """Copy claims onto ``user``; return True if anything changed."""
        changed = False
        for name, value in self.user_fields(sign_in).items():
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
