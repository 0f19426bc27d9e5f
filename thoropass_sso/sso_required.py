"""SSO-required domains: the site's password login refuses people whose company signs in with Microsoft.

A customer that turns on ``sso_required`` for its connection wants its staff to
sign in through its tenant only -- where it enforces MFA, and where removing
someone from the app removes their access -- never with a password they set on
this site. Three ways to honour it, from least to most work for the site:

1. :class:`SSORequiredBackend` in ``AUTHENTICATION_BACKENDS`` *before*
   ``ModelBackend``: every password login through ``django.contrib.auth``
   (the admin's too) is refused for those addresses.
2. :class:`SSORequiredAuthenticationForm` for ``LoginView``: the same, with a
   message that says where to sign in instead.
3. Your own login view: call :func:`check_password_login` before checking the
   password; it raises :class:`SSORequired` (a ``ValidationError``) whose
   ``sign_on_url`` sends the person to their tenant.

An address counts by its own domain, and a username by its user's email.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .conf import get_settings
from .registry import registry
from .runtime import ConnectionConfig


class SSORequired(ValidationError):
    """This address must sign in through its company's Microsoft tenant."""

    def __init__(self, connection: ConnectionConfig, email: str) -> None:
        self.connection = connection
        self.sign_on_url = f"{get_settings().login_url}?{urlencode({'email': email})}"
        super().__init__(
            _("%(company)s signs in with Microsoft, not with a password here: %(url)s"),
            code="sso_required", params={"company": connection.label, "url": self.sign_on_url})


def email_for_login(username: str) -> str:
    """The address a password login is about: the username itself, or its user's email."""
    if "@" in username:
        return username.strip()
    user_model = get_user_model()
    user = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        return ""
    return getattr(user, user_model.get_email_field_name(), "") or ""


def connection_requiring_sso(email: str) -> ConnectionConfig | None:
    """The active connection that requires single sign-on for ``email``'s domain, if any."""
    runtime = registry.for_email(email) if email else None
    if runtime is None or not runtime.config.is_active or not runtime.config.policy.sso_required:
        return None
    return runtime.config


def check_password_login(username: str) -> None:
    """Raise SSORequired when ``username`` (or its user's email) must sign in with Microsoft."""
    email = email_for_login(username or "")
    connection = connection_requiring_sso(email)
    if connection is not None:
        raise SSORequired(connection, email)


class SSORequiredBackend:
    """Refuses password logins for SSO-required domains; list it before ModelBackend.

    Raising PermissionDenied stops ``django.contrib.auth.authenticate`` from
    asking the next backend, so the password is never even checked.
    """

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> None:
        if username is None or password is None:
            return None  # not a password login (an Entra sign-in passes sign_in=...)
        try:
            check_password_login(username)
        except SSORequired:
            raise PermissionDenied("single sign-on is required for this address") from None
        return None

    def get_user(self, user_id: Any) -> None:
        return None


class SSORequiredAuthenticationForm(AuthenticationForm):
    """``AuthenticationForm`` that tells SSO-required users where to sign in instead."""

    error_messages = {**AuthenticationForm.error_messages}

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username:
            try:
                check_password_login(username)
            except SSORequired as exc:
                self.sign_on_url = exc.sign_on_url
                raise forms.ValidationError(exc.messages[0], code="sso_required") from None
        return super().clean()
