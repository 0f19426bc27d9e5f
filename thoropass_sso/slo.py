"""``/saml2/logout/``: local logout, and single logout with Entra (HTTP-Redirect).

- GET/POST with no SAML message: the Django session ends. If the session came
  from an Entra sign-in and ``SINGLE_LOGOUT`` is on, the browser then goes to
  the SLO URL of the tenant the session signed in with, with a LogoutRequest
  (NameID + SessionIndex of that sign-in);
  otherwise to the logout redirect, as before. POST is CSRF-protected by
  Django's middleware. A GET the browser marks as cross-site
  (``Sec-Fetch-Site: cross-site``: a link, image or redirect from another site)
  ends nothing: a signed-in user gets a confirmation page whose form POSTs here.
  Same-origin and same-site GETs, and clients that send no Fetch Metadata
  (scripts, HTTP libraries, older browsers), still log out directly.
- GET with ``SAMLResponse``: Entra's answer to our LogoutRequest. Verified
  (raw-query signature with the keys of the connection its issuer names,
  destination, freshness, one-time use, InResponseTo = the request this
  browser sent, and from the connection that request went to), then the
  logout redirect.
- GET with ``SAMLRequest``: Entra asks us to end this browser's session
  (the user signed out elsewhere). Verified the same way; the session ends and
  Entra gets a LogoutResponse. Entra ignores NameIDs and may send this for any
  session participant, so this browser's session is what ends -- unless the
  request names SessionIndex values and the session's own (stored at sign-in)
  is not among them: then the message is for another Entra session (for
  example a signed LogoutRequest captured from an attacker's own session and
  replayed through a victim's browser) and this session is kept. Likewise a
  validly signed request from another customer's tenant than the one this
  session signed in with ends nothing here.

Refused messages get the same 4xx page, log line and ``sign_in_rejected``
signal as refused sign-ins.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import auth
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import View

from . import clock
from .conf import get_settings
from .exceptions import ConfigurationError, ConnectionNotFound, MetadataNotStored, SignInRejected
from .reasons import Reason
from .redirects import default_logout_redirect
from .registry import registry
from .rejections import loggable, rejection_response
from .replay import claim_once
from .runtime import signing_key_for
from .saml.logout import (
    logout_request_redirect,
    logout_response_redirect,
    parse_logout_message,
    replay_window,
    verify_logout_message,
)
from .saml.redirect_binding import parse_redirect_query
from .signals import user_signed_in

logger = logging.getLogger("thoropass_sso")

# What single logout needs from the sign-in, kept in the (server-side) session.
SESSION_KEY = "thoropass_sso_slo"
# The LogoutRequest this browser sent to Entra, kept in the fresh anonymous session.
PENDING_KEY = "thoropass_sso_slo_pending"
# Asks a signed-in user to confirm a logout another site started (cross-site GET).
CONFIRM_TEMPLATE = "thoropass_sso/logout_confirm.html"


def is_cross_site(request: HttpRequest) -> bool:
    """True when the browser says another site started this request (Fetch Metadata).

    ``same-site`` (another origin on this registrable domain) is allowed like
    ``same-origin``; no header (non-browser clients, older browsers, plain HTTP
    to a non-localhost host) means "not known to be cross-site".
    """
    return request.META.get("HTTP_SEC_FETCH_SITE", "").strip().lower() == "cross-site"


@receiver(user_signed_in, dispatch_uid="thoropass_sso.slo.remember_session")
def remember_session(sender: Any, request: HttpRequest, claims: Any, connection: Any,
                     **kwargs: Any) -> None:
    request.session[SESSION_KEY] = {
        "connection": connection.name,
        "name_id": claims.name_id,
        "name_id_format": claims.name_id_format,
        "session_index": claims.session_index,
    }


@method_decorator(never_cache, name="dispatch")
class LogoutView(View):
    http_method_names = ["get", "post", "head"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from .views.errors import DATABASE_UNAVAILABLE, database_unavailable  # views import us

        try:
            return super().dispatch(request, *args, **kwargs)
        except DATABASE_UNAVAILABLE as exc:
            # The session could not be read or deleted: the user is told sign-out did not
            # happen (a 503 with a reference) instead of a 500 or a false "signed out".
            return database_unavailable(request, exc)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "SAMLRequest" in request.GET or "SAMLResponse" in request.GET:
            # Authenticated by their signature, wherever the browser came from.
            return self.from_entra(request)
        if is_cross_site(request):
            response = self.confirm(request)
        else:
            response = self.start(request)
        patch_vary_headers(response, ["Sec-Fetch-Site"])
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "SAMLRequest" in request.POST or "SAMLResponse" in request.POST:
            # Entra's SLO endpoint uses HTTP-Redirect only; a POSTed message is not Entra's.
            return rejection_response(request, SignInRejected(
                Reason.LOGOUT_UNSUPPORTED_BINDING, "logout message sent with HTTP-POST"))
        return self.start(request)

    # -- cross-site GET: ask first -------------------------------------------------
    def confirm(self, request: HttpRequest) -> HttpResponse:
        """Another site sent the browser here: end nothing, let the user decide (POST + CSRF)."""
        if not request.user.is_authenticated:
            # Nothing to sign out of; leave the (anonymous) session untouched.
            return HttpResponseRedirect(default_logout_redirect())
        logger.info("cross-site logout link: asking the user to confirm")
        response = render(request, CONFIRM_TEMPLATE, {"logout_path": request.path})
        # The confirmation must not be clickable inside another site's frame.
        response["X-Frame-Options"] = "DENY"
        response["Content-Security-Policy"] = "frame-ancestors 'none'"
        return response

    # -- SP-initiated (or local only) -------------------------------------------
    def start(self, request: HttpRequest) -> HttpResponse:
        entra_session = request.session.get(SESSION_KEY)
        auth.logout(request)
        if not (get_settings().SINGLE_LOGOUT and isinstance(entra_session, dict)
                and entra_session.get("name_id")):
            return HttpResponseRedirect(default_logout_redirect())
        try:
            runtime = registry.for_name(entra_session.get("connection") or None)
        except (MetadataNotStored, ConnectionNotFound):
            runtime = None  # the connection is gone: the local logout is all there is
        slo_url = runtime.metadata.slo_url if runtime is not None else ""
        if not slo_url:
            return HttpResponseRedirect(default_logout_redirect())
        try:
            signing_key = signing_key_for(runtime.config, get_settings())
        except ConfigurationError as exc:
            # The local session is over; without the key, Entra's would be refused anyway.
            logger.error("single logout skipped: %s", exc)
            return HttpResponseRedirect(default_logout_redirect())
        request_id, location = logout_request_redirect(
            get_settings().sp_identity, slo_url,
            name_id=entra_session["name_id"],
            name_id_format=entra_session.get("name_id_format", ""),
            session_index=entra_session.get("session_index", ""),
            signing_key=signing_key,
        )
        request.session[PENDING_KEY] = {"id": request_id, "connection": runtime.config.name}
        logger.info("single logout started connection=%s", runtime.config.name)
        return HttpResponseRedirect(location)

    # -- messages from Entra ------------------------------------------------------
    def from_entra(self, request: HttpRequest) -> HttpResponse:
        conf = get_settings()
        connection = None
        try:
            message = parse_redirect_query(request.META.get("QUERY_STRING", ""),
                                           max_bytes=conf.MAX_RESPONSE_BYTES)
            parsed = parse_logout_message(message)
            runtime = registry.for_issuer(parsed.claimed_issuer)
            connection = runtime.config
            expect = registry.verifier().expect
            now = clock.now()
            verified = verify_logout_message(parsed, runtime.trust, expect,
                                             logout_url=conf.logout_url, now=now)
            if verified.kind == "LogoutResponse":
                pending = request.session.get(PENDING_KEY)
                if not isinstance(pending, dict) or verified.in_response_to != pending.get("id"):
                    raise SignInRejected(Reason.UNKNOWN_REQUEST,
                                         "InResponseTo names no logout request of this browser")
                if pending.get("connection") != connection.name:
                    raise SignInRejected(Reason.CONNECTION_MISMATCH,
                                         "LogoutResponse from another connection than the request's")
            if not claim_once("logout", verified.id, until=replay_window(verified, expect),
                              now=now, skew_seconds=conf.CLOCK_SKEW):
                raise SignInRejected(Reason.REPLAY, "logout message id already used")
        except MetadataNotStored as exc:
            return rejection_response(request, SignInRejected(Reason.METADATA_NOT_STORED, str(exc)),
                                      connection=connection)
        except ConfigurationError as exc:
            return rejection_response(request, SignInRejected(Reason.MISCONFIGURED, str(exc)),
                                      connection=connection)
        except SignInRejected as rejection:
            return rejection_response(request, rejection, connection=connection)

        try:
            signing_key = signing_key_for(connection, conf)
        except ConfigurationError as exc:
            return rejection_response(request, SignInRejected(Reason.MISCONFIGURED, str(exc)),
                                      connection=connection)
        if verified.kind == "LogoutResponse":
            request.session.pop(PENDING_KEY, None)
            auth.logout(request)  # already done when the request left; harmless again
            status = loggable(verified.status.rsplit(":", 1)[-1]) or "-"
            if verified.succeeded:
                logger.info("single logout finished status=%s", status)
            else:
                # The local session ended before the LogoutRequest left, so the user still
                # goes to the logout redirect; but the Entra session (and other apps'
                # sessions) may live on, which operators should see.
                logger.warning("single logout not confirmed by Entra reason=%s status=%s",
                               Reason.LOGOUT_NOT_CONFIRMED.code, status)
            return HttpResponseRedirect(default_logout_redirect())

        entra_session = request.session.get(SESSION_KEY)
        if not isinstance(entra_session, dict):
            entra_session = {}
        own_index = entra_session.get("session_index", "")
        own_connection = entra_session.get("connection") or (conf.CONNECTION if entra_session else "")
        if own_connection and own_connection != connection.name:
            # Another customer's tenant, validly signed, asking to end a session that
            # signed in through a different tenant: none of its business. Answered as
            # "nothing to do here", like the SessionIndex case below.
            logger.info("single logout requested by connection=%s for a session of another "
                        "connection; local session kept", connection.name)
            return HttpResponseRedirect(logout_response_redirect(
                conf.sp_identity, runtime.metadata.slo_url, in_response_to=verified.id,
                relay_state=verified.relay_state, signing_key=signing_key,
            ))
        if verified.session_indexes and own_index and own_index not in verified.session_indexes:
            # The request ends other Entra sessions, not the one this Django session came
            # from: keep it. A LogoutRequest captured from an attacker's own session and
            # sent through a victim's browser ends up here.
            # Answer Success: SAML core 3.7.3.2 has a participant invalidate the sessions
            # the SessionIndex elements name; none of them exists in this browser, so
            # nothing is left to end and the request's outcome holds ("nothing to do" is
            # success, as for a browser with no session at all, below). An error status
            # would make Entra report a failed sign-out to the real user for a session
            # that is not here, and would tell whoever sent the message that it missed.
            logger.info("single logout requested by Entra for another session; local session kept")
            return HttpResponseRedirect(logout_response_redirect(
                conf.sp_identity, runtime.metadata.slo_url, in_response_to=verified.id,
                relay_state=verified.relay_state, signing_key=signing_key,
            ))

        had_user = request.user.is_authenticated
        auth.logout(request)
        logger.info("single logout requested by Entra; local session ended=%s", had_user)
        return HttpResponseRedirect(logout_response_redirect(
            conf.sp_identity, runtime.metadata.slo_url, in_response_to=verified.id,
            relay_state=verified.relay_state, signing_key=signing_key,
        ))
