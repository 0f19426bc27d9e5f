"""The SAML endpoints: login, ACS, SP metadata and logout.

The SP metadata view is djangosaml2's, fed by our cached SPConfig. Login and
ACS subclass djangosaml2's views (``isinstance`` checks and URL tooling keep
working) but replace their request handling entirely with the strict,
in-process flow of this package, so djangosaml2's view hooks
(``custom_validation``, ``post_login_hook``, ...) are not called: site policy
belongs in the adapter (``THOROPASS_SSO['ADAPTER']``) and the signals.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.contrib import auth
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from djangosaml2 import views as djangosaml2_views

from .backends import rejection_from
from .conf import get_settings
from .exceptions import ConfigurationError, MetadataNotStored, SignInRejected
from .pending import forget_request, read_pending, remember_request
from .reasons import Reason
from .redirects import default_login_redirect, safe_relative_path
from .rejections import rejection_response
from .replay import claim_once, replay_cache_is_shared
from .runtime import get_runtime
from .saml.authn_request import authn_request_redirect
from .saml.response import VerifiedAssertion
from .signals import user_created, user_signed_in

logger = logging.getLogger("thoropass_sso")

_SP_CONFIG_LOADER = "thoropass_sso.saml.spconfig.sp_config"


def _not_configured(request: HttpRequest, exc: MetadataNotStored | ConfigurationError) -> HttpResponse:
    """A 503 page instead of a 500: the site, not the user, has to act (the log says how)."""
    reason = Reason.METADATA_NOT_STORED if isinstance(exc, MetadataNotStored) else Reason.MISCONFIGURED
    return rejection_response(request, SignInRejected(reason, str(exc)))


def _content_length(request: HttpRequest) -> int:
    """The declared body size; a garbled header counts as 0 (Django then reads no body)
    instead of raising ValueError into a 500."""
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except (TypeError, ValueError):
        return 0


def _posted_response(request: HttpRequest) -> str | None:
    """The SAMLResponse field. A body Django refuses to parse (too many fields, too
    big) raises SuspiciousOperation, which Django would answer with a bare 400:
    turn it into a rejection so it gets a reason, a reference and a signal too."""
    try:
        return request.POST.get("SAMLResponse")
    except RequestDataTooBig:
        raise SignInRejected(Reason.RESPONSE_TOO_LARGE, "request body too large") from None
    except SuspiciousOperation:
        raise SignInRejected(Reason.MALFORMED, "request body refused by Django") from None


@method_decorator(never_cache, name="dispatch")
class LoginView(djangosaml2_views.LoginView):
    """``GET /saml2/login/?next=/path``: send the browser to Entra with an AuthnRequest."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        next_path = safe_relative_path(request.GET.get("next")) or default_login_redirect()
        if request.user.is_authenticated:
            return HttpResponseRedirect(next_path)
        try:
            runtime = get_runtime()
        except (MetadataNotStored, ConfigurationError) as exc:
            return _not_configured(request, exc)
        login_hint = request.GET.get("login_hint", "")[:256]
        request_id, location = authn_request_redirect(
            get_settings(), runtime.metadata.sso_url, login_hint=login_hint
        )
        response = HttpResponseRedirect(location)
        remember_request(request, response, request_id, next_path)
        return response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class AssertionConsumerServiceView(djangosaml2_views.AssertionConsumerServiceView):
    """``POST /saml2/acs/``: verify Entra's response, sign the user in, redirect."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        conf = get_settings()
        claims = None
        try:
            if _content_length(request) > conf.MAX_RESPONSE_BYTES * 2:
                raise SignInRejected(Reason.RESPONSE_TOO_LARGE, "request body too large")
            saml_response = _posted_response(request)
            if not saml_response:
                raise SignInRejected(Reason.MISSING_RESPONSE, "no SAMLResponse field")
            runtime = get_runtime()
            now = datetime.now(UTC)
            verified = runtime.verifier.verify(saml_response, now=now)
            claims = verified.claims
            # The used ids, the user and the identity commit together, so a refusal at
            # any step leaves no trace (ids in Redis stay used: a refused response then
            # cannot be retried, which is the safe direction). The transaction ends
            # before Django's login() writes the session: every check has passed by
            # then, and a short transaction holds row locks (SQLite: the database's
            # single write lock) for as little time as possible.
            with transaction.atomic():
                next_path = self._correlate(request, verified, now)
                self._claim_assertion(verified, now)
                user = auth.authenticate(request, entra_claims=claims, connection=runtime)
                if user is None:
                    raise rejection_from(request) or SignInRejected(
                        Reason.UNKNOWN_USER, "no backend accepted the identity")
            auth.login(request, user)
        except (MetadataNotStored, ConfigurationError) as exc:
            return _not_configured(request, exc)
        except SignInRejected as rejection:
            return rejection_response(request, rejection, claims=claims)

        created = bool(getattr(user, "_thoropass_sso_created", False))
        if created:
            user_created.send(sender=type(self), request=request, user=user, claims=claims)
        user_signed_in.send(sender=type(self), request=request, user=user, claims=claims,
                            created=created)
        logger.info("sign-in ok user_id=%s created=%s unsolicited=%s",
                    user.pk, created, verified.is_unsolicited)
        response = HttpResponseRedirect(next_path)
        if not verified.is_unsolicited:
            forget_request(request, response, verified.in_response_to)
        return response

    def _correlate(self, request: HttpRequest, verified: VerifiedAssertion, now: datetime) -> str:
        """Tie the response to a request this browser made; return where to go next."""
        conf = get_settings()
        if verified.is_unsolicited:
            if not conf.ALLOW_IDP_INITIATED:
                raise SignInRejected(Reason.UNSOLICITED_DISABLED, "ALLOW_IDP_INITIATED is off")
            if not replay_cache_is_shared():
                raise SignInRejected(
                    Reason.UNSOLICITED_DISABLED,
                    "IdP-initiated sign-in needs a shared REPLAY_CACHE (not LocMemCache)",
                )
            if verified.issue_instant < now - timedelta(
                seconds=conf.IDP_INITIATED_MAX_AGE + conf.CLOCK_SKEW
            ):
                raise SignInRejected(Reason.STALE, "unsolicited response older than allowed")
            relay_state = request.POST.get("RelayState", "")
            return safe_relative_path(relay_state) or default_login_redirect()
        pending = read_pending(request)
        next_path = pending.get(verified.in_response_to)
        if next_path is None:
            raise SignInRejected(Reason.UNKNOWN_REQUEST, "InResponseTo names no request of this browser")
        if not claim_once("request", verified.in_response_to, until=now + timedelta(
                seconds=conf.REQUEST_TIMEOUT), now=now, skew_seconds=conf.CLOCK_SKEW):
            raise SignInRejected(Reason.REPLAY, "request id already answered")
        return safe_relative_path(next_path) or default_login_redirect()

    def _claim_assertion(self, verified: VerifiedAssertion, now: datetime) -> None:
        conf = get_settings()
        if not claim_once("assertion", verified.assertion_id, until=verified.not_on_or_after,
                          now=now, skew_seconds=conf.CLOCK_SKEW):
            raise SignInRejected(Reason.REPLAY, "assertion id already used")


class MetadataView(djangosaml2_views.MetadataView):
    """``GET /saml2/metadata/``: this site's SP metadata (Entra can import it)."""

    config_loader_path = _SP_CONFIG_LOADER


# ``/saml2/logout/``: local logout and single logout with Entra live in their own
# module (thoropass_sso/slo.py); the view keeps its name here for urls.py and sites.
from .slo import LogoutView  # noqa: E402, F401
