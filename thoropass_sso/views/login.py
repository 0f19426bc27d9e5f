"""``/saml2/login/``: the site's one Sign-on URL, for every customer.

- ``?connection=NAME``: straight to that connection's tenant.
- ``?email=ADDRESS`` (or the email form's POST): home-realm discovery -- the
  connection whose email domains include the address's domain, with
  ``login_hint`` so Entra pre-fills the account.
- nothing: with exactly one active connection, straight to it (a single-tenant
  site behaves as it always did); with several, the "Sign in with your work
  email" page.

An address whose domain leads nowhere never goes to any identity provider, and
gets the same answer whether no customer has its domain, a similar one, or a
draft or disabled connection has it: the page does not tell who the site's
customers are.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from ..conf import get_settings
from ..domains import domain_of_email
from ..exceptions import ConfigurationError, ConnectionNotFound, MetadataNotStored
from ..pending import PURPOSE_SIGN_IN, remember_request
from ..redirects import default_login_redirect, safe_relative_path
from ..registry import registry
from ..runtime import ConnectionRuntime, signing_key_for
from ..saml.authn_request import authn_request_redirect
from .errors import DATABASE_UNAVAILABLE, database_unavailable, missing_tables, not_configured

logger = logging.getLogger("thoropass_sso")

SIGN_ON_TEMPLATE = "thoropass_sso/sign_on.html"
_MAX_EMAIL = 254


def begin_sign_in(request: HttpRequest, runtime: ConnectionRuntime, next_path: str, *,
                  login_hint: str = "", purpose: str = PURPOSE_SIGN_IN,
                  actor_id: str = "") -> HttpResponse:
    """Send the browser to ``runtime``'s tenant with an AuthnRequest, remembering why."""
    conf = get_settings()
    request_id, location = authn_request_redirect(
        conf.sp_identity, runtime.metadata.sso_url, login_hint=login_hint[:256],
        signing_key=signing_key_for(runtime.config, conf))
    response = HttpResponseRedirect(location)
    remember_request(request, response, request_id, next_path, connection=runtime.config.name,
                     purpose=purpose, actor_id=actor_id)
    return response


@method_decorator(never_cache, name="dispatch")
class LoginView(View):
    """Start a sign-in: to the named connection, the email's connection, or the only one."""

    http_method_names = ["get", "head", "post"]

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except DATABASE_UNAVAILABLE as exc:
            # Reading the session, the connections or the domains needs the database. A
            # missing table (an OperationalError on SQLite) is a step not taken, not an outage.
            if (problem := missing_tables(exc)) is not None:
                return not_configured(request, problem)
            return database_unavailable(request, exc)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self._handle(request, request.GET)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # The email form (CSRF-protected by Django's middleware).
        return self._handle(request, request.POST)

    def _handle(self, request: HttpRequest, data) -> HttpResponse:
        # "" when no page was asked for: the connection's landing path decides at the ACS.
        next_path = safe_relative_path(data.get("next")) or ""
        if request.user.is_authenticated:
            return HttpResponseRedirect(next_path or default_login_redirect())
        try:
            wrong_host = self._wrong_host(request)
            if wrong_host is not None:
                return wrong_host
            if data.get("connection"):
                return self._to_connection(request, data["connection"], next_path,
                                           login_hint=data.get("login_hint", ""))
            if "email" in data:
                return self._discover(request, data.get("email", ""), next_path)
            choice = registry.sign_on_choice()
            if choice.count == 1:
                return begin_sign_in(request, registry.for_name(choice.only), next_path,
                                     login_hint=data.get("login_hint", ""))
            if choice.count == 0:
                raise MetadataNotStored(
                    "No connection can sign anyone in yet: run 'python manage.py "
                    "refresh_entra_metadata', or add a connection (manage.py entra_connection add)."
                )
        except (MetadataNotStored, ConfigurationError) as exc:
            return not_configured(request, exc)
        except DatabaseError as exc:
            problem = missing_tables(exc)
            if problem is None:
                raise
            return not_configured(request, problem)
        return self.email_page(request, next_path)

    @staticmethod
    def _wrong_host(request: HttpRequest) -> HttpResponse | None:
        """Refuse to start a sign-in that cannot come back to this browser.

        Entra posts to BASE_URL's ACS; the pending-request cookie is set on the host the
        browser is on. On another host name (127.0.0.1 vs localhost, www vs the bare
        domain) it never reaches the ACS, and the user would meet a confusing
        ``unknown_request`` after signing in. The request's Host is the browser's host
        when DEBUG is on (a developer's machine), or when the browser's own Referer names
        that same host; otherwise it may be a proxy's rewrite, and the sign-in goes ahead.
        (A Referer from another site -- the customer's portal, Entra's My Apps -- proves
        nothing either way.)
        """
        from urllib.parse import urlsplit

        from django.conf import settings

        conf = get_settings()
        expected = urlsplit(conf.base_url).netloc.lower()
        host = request.get_host().lower()
        if host == expected:
            return None
        referer_host = urlsplit(request.META.get("HTTP_REFERER", "")).netloc.lower()
        if not settings.DEBUG and referer_host != host:
            return None
        from ..exceptions import SignInRejected
        from ..reasons import Reason
        from ..rejections import loggable, rejection_response

        return rejection_response(request, SignInRejected(
            Reason.WRONG_HOST, loggable(f"browser on {host}, BASE_URL is {expected}")),
            continue_url=conf.login_url)

    def _to_connection(self, request: HttpRequest, name: str, next_path: str, *,
                       login_hint: str) -> HttpResponse:
        try:
            runtime = registry.for_name(name[:64])
        except ConnectionNotFound:
            runtime = None
        if runtime is None or not runtime.config.is_active:
            # An old bookmark, a paused customer, a typo: the same answer for each.
            logger.info("sign-on: ?connection= names no active connection")
            return self.email_page(request, next_path, status=404, message=_(
                "That sign-in link is not valid. Enter your work email to sign in."))
        return begin_sign_in(request, runtime, next_path, login_hint=login_hint)

    def _discover(self, request: HttpRequest, email: str, next_path: str) -> HttpResponse:
        email = email.strip()[:_MAX_EMAIL]
        if not domain_of_email(email):
            return self.email_page(request, next_path, email=email, status=400, message=_(
                "Enter your work email address, like name@company.com."))
        runtime = registry.for_email(email)
        if runtime is None or not runtime.config.is_active:
            # Never the address in the log: it is personal data, and says nothing an
            # operator can act on that the absence of a sign-in does not.
            logger.info("sign-on: no active connection for the address's domain")
            return self.email_page(request, next_path, email=email, message=_(
                "Single sign-on is not set up for your organization on this site."))
        return begin_sign_in(request, runtime, next_path, login_hint=email)

    def email_page(self, request: HttpRequest, next_path: str, *, email: str = "",
                   message: str = "", status: int = 200) -> HttpResponse:
        conf = get_settings()
        return render(request, SIGN_ON_TEMPLATE, {
            "next": next_path,
            "email": email,
            "message": message,
            "password_login_url": conf.PASSWORD_LOGIN_URL,
            "login_url": request.path,
        }, status=status)
