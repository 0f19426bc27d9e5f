"""Turning a refused sign-in into a page, a log line and a signal.

The user sees a plain page with a short reference id. The log line carries
the reason code, the reference and a detail that never contains claims,
assertions or tokens, so support can match a user's screenshot to the log.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .claims import EntraClaims
from .exceptions import SignInRejected
from .reasons import Reason
from .signals import sign_in_rejected

if TYPE_CHECKING:
    from .runtime import ConnectionConfig

logger = logging.getLogger("thoropass_sso")

ERROR_TEMPLATE = "thoropass_sso/error.html"


_DETAIL_LIMIT = 200


def loggable(detail: str) -> str:
    """``detail`` safe for a one-line log: no control characters, bounded length.

    Details are written by our code but may quote attacker-supplied values; a
    newline in one would let a forged response write a fake log line.
    """
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in detail)
    return cleaned[:_DETAIL_LIMIT] + ("..." if len(cleaned) > _DETAIL_LIMIT else "")


def new_reference() -> str:
    return secrets.token_hex(4).upper()


def rejection_response(
    request: HttpRequest,
    rejection: SignInRejected,
    *,
    claims: EntraClaims | None = None,
    connection: ConnectionConfig | None = None,
    continue_url: str = "",
) -> HttpResponse:
    reason: Reason = rejection.reason
    reference = new_reference()
    log = logger.error if reason.status >= 500 else logger.warning
    # The connection's name is ours (a slug), never attacker text; "-" before routing.
    log(
        "sign-in rejected reason=%s reference=%s status=%s connection=%s detail=%s",
        reason.code, reference, reason.status, connection.name if connection else "-",
        loggable(rejection.detail) or "-",
    )
    sign_in_rejected.send(
        sender=SignInRejected, request=request, reason=reason, reference=reference, claims=claims,
        connection=connection,
    )
    from .hints import hint_for

    return render(
        request,
        ERROR_TEMPLATE,
        {"reason_code": reason.code, "message": reason.user_message, "reference": reference,
         "continue_url": continue_url,
         # For the site's developers only: the fix, where the sign-in failed. Never the
         # detail (it may quote what the sender chose) and never with DEBUG off.
         "developer_hint": hint_for(reason) if settings.DEBUG else ""},
        status=reason.status,
    )
