"""The authentication backend: verified Entra claims in, Django user out.

Extends djangosaml2's ``Saml2Backend`` (so ``get_user`` and permission checks
behave as djangosaml2 users expect) but replaces ``authenticate``: users are
looked up only by :class:`~thoropass_sso.models.EntraIdentity` (tenant id +
object id), and djangosaml2's attribute-mapping hooks (``is_authorized``,
``save_user``, ...) are not used; policy lives in the adapter. It is only
ever called by the ACS view, after the response has been verified, with the
sign-in's flow object (:class:`~thoropass_sso.flow.SignIn`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from djangosaml2.backends import Saml2Backend

from .adapter import get_adapter
from .exceptions import SignInRejected
from .flow import SignIn
from .models import EntraIdentity
from .reasons import Reason


class EntraBackend(Saml2Backend):
    def authenticate(
        self,
        request: HttpRequest | None,
        sign_in: SignIn | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        if sign_in is None:
            # Not an Entra sign-in (for example a password login): not ours.
            return None
        sign_in.backend_reached = True
        try:
            user, created = self.get_or_create_entra_user(request, sign_in)
        except SignInRejected as rejection:
            # django.contrib.auth.authenticate() turns PermissionDenied into None;
            # the flow object keeps the reason for the ACS view to report.
            sign_in.rejection = rejection
            raise
        sign_in.user, sign_in.created = user, created
        return user

    def get_or_create_entra_user(
        self, request: HttpRequest | None, sign_in: SignIn
    ) -> tuple[AbstractBaseUser, bool]:
        adapter = get_adapter()
        # Policy first: a refused identity leaves no trace in the database.
        adapter.check_sign_in_allowed(request, sign_in)
        groups = adapter.entra_groups(request, sign_in)
        adapter.check_access(request, sign_in, groups)
        user = self._returning_user(request, sign_in, adapter, groups)
        if user is not None:
            return user, False
        try:
            # A savepoint only here, where a concurrent first sign-in of the same
            # identity can violate the unique key.
            with transaction.atomic():
                return self._create(request, sign_in, adapter, groups), True
        except IntegrityError:
            # Two first sign-ins of the same identity raced and the other one won.
            user = self._returning_user(request, sign_in, adapter, groups)
            if user is None:
                raise
            return user, False

    def _returning_user(self, request, sign_in: SignIn, adapter, groups) -> AbstractBaseUser | None:
        # The common case: one SELECT (the user, joined to its identity, locked) and one
        # UPDATE of the identity. In a savepoint, so that a refusal raised here (an
        # inactive user, or an adapter's populate_user) leaves the caller's transaction
        # usable for Django's user_login_failed receivers.
        claims = sign_in.claims
        with transaction.atomic():
            # The tenant is the connection's pinned tenant (the verifier refused any other),
            # so another customer's tenant can never reach this customer's users.
            user = (
                get_user_model()._default_manager.select_for_update()
                .filter(entra_identities__tenant_id=claims.tenant_id,
                        entra_identities__object_id=claims.object_id)
                .order_by()
                .first()
            )
            if user is None:
                return None
            if not self.user_can_authenticate(user):
                raise SignInRejected(Reason.INACTIVE_USER, "the Django user is inactive")
            if adapter.populate_user(request, user, sign_in):
                user.save()
            adapter.apply_groups_and_roles(request, user, sign_in, groups)
            # Runs on every sign-in: one UPDATE of the two fields, not a full save.
            EntraIdentity.objects.filter(
                tenant_id=claims.tenant_id, object_id=claims.object_id
            ).update(upn=claims.upn[:255], last_sign_in=timezone.now())
            return user

    def _create(self, request, sign_in: SignIn, adapter, groups) -> AbstractBaseUser:
        if not adapter.may_create_user(request, sign_in):
            raise SignInRejected(Reason.UNKNOWN_USER, "no account and creating users is off")
        claims = sign_in.claims
        user = adapter.new_user(request, sign_in)
        adapter.populate_user(request, user, sign_in)
        user.save()
        adapter.apply_groups_and_roles(request, user, sign_in, groups)
        EntraIdentity.objects.create(
            user=user,
            connection_id=sign_in.connection.id,
            tenant_id=claims.tenant_id,
            object_id=claims.object_id,
            upn=claims.upn[:255],
            last_sign_in=timezone.now(),
        )
        return user
