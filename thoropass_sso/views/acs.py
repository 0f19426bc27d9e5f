"""``POST /saml2/acs/``: the one Assertion Consumer Service every connection posts to.

The gallery model (ENTRA.md): every customer tenant sends the same Audience to
the same Reply URL, and only the signed Issuer tells them apart. So the
response is read without trusting it, its claimed issuer chooses the
connection (registry.py; unknown: ``unknown_issuer``), and from there on only
that connection's certificates, tenant and policy count. A registered tenant's
key never verifies another tenant's issuer, and an SP-initiated response must
come from the connection the request was sent to.

djangosaml2's own ACS view (and its hooks) is not used: it is what accepts the
responses this one refuses, at a hundred times the cost. Site policy belongs in
the adapter and the signals.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.contrib import auth
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from .. import clock
from ..conf import get_settings
from ..exceptions import ConfigurationError, MetadataNotStored, SignInRejected
from ..flow import SignIn
from ..pending import PURPOSE_TEST, PendingRequest, forget_request, read_pending
from ..reasons import Reason
from ..redirects import landing_path, safe_relative_path
from ..registry import registry
from ..rejections import rejection_response
from ..replay import claim_once, replay_cache_is_shared
from ..runtime import ConnectionConfig
from ..signals import user_created, user_signed_in
from .errors import DATABASE_UNAVAILABLE, database_unavailable, missing_tables, not_configured

logger = logging.getLogger("thoropass_sso")

ACS_INFO_TEMPLATE = "thoropass_sso/acs_info.html"


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


def bound_session(request: HttpRequest, sign_in: SignIn) -> None:
    """Never let the Django session outlive Entra's SessionNotOnOrAfter (only ever shorten it)."""
    end = sign_in.assertion.session_not_on_or_after
    if end is None:
        return
    session = request.session
    if end < session.get_expiry_date():
        session.set_expiry(max(1, int((end - clock.now()).total_seconds())))


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class AssertionConsumerServiceView(View):
    """Verify Entra's response, sign the user in (or show a test sign-in's report), redirect."""

    http_method_names = ["get", "head", "post"]

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # Someone opened the Reply URL in a browser: say what it is and where to start.
        response = render(request, ACS_INFO_TEMPLATE, {"login_url": get_settings().login_url},
                          status=405)
        response["Allow"] = "POST"
        return response

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        connection: ConnectionConfig | None = None
        claims = None
        try:
            conf = get_settings()
            if _content_length(request) > conf.MAX_RESPONSE_BYTES * 2:
                raise SignInRejected(Reason.RESPONSE_TOO_LARGE, "request body too large")
            saml_response = _posted_response(request)
            if not saml_response:
                raise SignInRejected(Reason.MISSING_RESPONSE, "no SAMLResponse field")
            verifier = registry.verifier()
            parsed = verifier.parse(saml_response)
            runtime = registry.for_issuer(parsed.claimed_issuer)
            connection = runtime.config
            if connection.policy.require_encryption and not parsed.encrypted:
                raise SignInRejected(Reason.ENCRYPTION_REQUIRED,
                                     "an assertion in the clear from a connection that encrypts")
            now = clock.now()
            sign_in = SignIn(request=request, connection=connection,
                             assertion=verifier.verify(parsed, runtime.trust, now=now))
            claims = sign_in.claims
            # The used ids, the user and the identity commit together, so a refusal at
            # any step leaves no trace (ids in Redis stay used: a refused response then
            # cannot be retried, which is the safe direction). The transaction ends
            # before Django's login() writes the session: every check has passed by
            # then, and a short transaction holds row locks (SQLite: the database's
            # single write lock) for as little time as possible.
            with transaction.atomic():
                pending = self._correlate(request, sign_in, now)
                self._claim_assertion(sign_in, now)
                if pending is not None and pending.purpose == PURPOSE_TEST:
                    from ..onboarding import report_response

                    report = report_response(request, sign_in, pending)
                else:
                    report = None
                    user = auth.authenticate(request, sign_in=sign_in)
                    if user is None:
                        raise self._no_user(sign_in)
            if report is not None:
                return self._finish(request, report, sign_in)
            auth.login(request, user)
            bound_session(request, sign_in)
        except (MetadataNotStored, ConfigurationError) as exc:
            return not_configured(request, exc, connection=connection)
        except SignInRejected as rejection:
            return rejection_response(request, rejection, claims=claims, connection=connection)
        except (DatabaseError, InterfaceError) as exc:
            # Nothing was written: the sign-in's transaction rolled back. A missing table is
            # a deployment step not taken (check before the outage clause: on SQLite it is an
            # OperationalError too); the database gone away is a 503 the user can retry.
            if (problem := missing_tables(exc)) is not None:
                return not_configured(request, problem, connection=connection)
            if isinstance(exc, DATABASE_UNAVAILABLE):
                return database_unavailable(request, exc, connection=connection)
            raise

        created = sign_in.created
        if created:
            user_created.send(sender=type(self), request=request, user=user, claims=claims,
                              connection=connection, sign_in=sign_in)
        user_signed_in.send(sender=type(self), request=request, user=user, claims=claims,
                            created=created, connection=connection, sign_in=sign_in)
        logger.info("sign-in ok user_id=%s created=%s unsolicited=%s connection=%s",
                    user.pk, created, sign_in.is_unsolicited, connection.name)
        return self._finish(request, HttpResponseRedirect(sign_in.next_path), sign_in)

    @staticmethod
    def _finish(request: HttpRequest, response: HttpResponse, sign_in: SignIn) -> HttpResponse:
        if not sign_in.is_unsolicited:
            forget_request(request, response, sign_in.assertion.in_response_to)
        return response

    @staticmethod
    def _no_user(sign_in: SignIn) -> SignInRejected:
        if sign_in.rejection is not None:
            return sign_in.rejection
        if not sign_in.backend_reached:
            # Checks (E002) say so at deploy time; under WSGI no check runs, so say it here.
            return SignInRejected(Reason.MISCONFIGURED,
                                  "thoropass_sso.backends.EntraBackend is not in "
                                  "AUTHENTICATION_BACKENDS")
        return SignInRejected(Reason.UNKNOWN_USER, "no backend accepted the identity")

    def _correlate(self, request: HttpRequest, sign_in: SignIn, now: datetime
                   ) -> PendingRequest | None:
        """Tie the response to its connection's state and to a request this browser made.

        Sets ``sign_in.next_path``; returns the pending request (None when unsolicited).
        """
        conf = get_settings()
        connection = sign_in.connection
        if connection.is_disabled:
            raise SignInRejected(Reason.CONNECTION_DISABLED, "the connection is disabled")
        if sign_in.is_unsolicited:
            if connection.is_draft:
                # A draft serves only the test sign-in this site starts (onboarding.py).
                raise SignInRejected(Reason.CONNECTION_DRAFT, "IdP-initiated, connection is a draft")
            if not connection.policy.allow_idp_initiated:
                raise SignInRejected(Reason.UNSOLICITED_DISABLED,
                                     "IdP-initiated sign-in is off for the connection")
            if not replay_cache_is_shared():
                raise SignInRejected(
                    Reason.UNSOLICITED_DISABLED,
                    "IdP-initiated sign-in needs a shared REPLAY_CACHE (not LocMemCache)",
                )
            if sign_in.assertion.issue_instant < now - timedelta(
                seconds=conf.IDP_INITIATED_MAX_AGE + conf.CLOCK_SKEW
            ):
                raise SignInRejected(Reason.STALE, "unsolicited response older than allowed")
            relay_state = request.POST.get("RelayState", "")
            sign_in.next_path = safe_relative_path(relay_state) or landing_path(connection)
            return None
        in_response_to = sign_in.assertion.in_response_to
        pending = read_pending(request).get(in_response_to)
        if pending is None:
            raise SignInRejected(Reason.UNKNOWN_REQUEST, "InResponseTo names no request of this browser")
        if (pending.connection or conf.CONNECTION) != connection.name:
            # Validly signed by a registered tenant, for our Audience, answering a request
            # this browser really made -- but the request went to another customer's tenant.
            raise SignInRejected(Reason.CONNECTION_MISMATCH,
                                 "the response is not from the connection the request went to")
        if connection.is_draft and pending.purpose != PURPOSE_TEST:
            raise SignInRejected(Reason.CONNECTION_DRAFT, "the connection is a draft")
        if not claim_once("request", in_response_to, until=now + timedelta(
                seconds=conf.REQUEST_TIMEOUT), now=now, skew_seconds=conf.CLOCK_SKEW):
            raise SignInRejected(Reason.REPLAY, "request id already answered")
        sign_in.next_path = safe_relative_path(pending.next_path) or landing_path(connection)
        return pending

    def _claim_assertion(self, sign_in: SignIn, now: datetime) -> None:
        assertion = sign_in.assertion
        if not claim_once("assertion", assertion.assertion_id, until=assertion.not_on_or_after,
                          now=now, skew_seconds=get_settings().CLOCK_SKEW):
            raise SignInRejected(Reason.REPLAY, "assertion id already used")
