"""The AuthnRequests this browser has started, kept in a signed cookie.

Binding a response to the browser that asked for it needs state that
survives the cross-site POST back from Entra. A signed cookie works with any
session and cache setup and across workers; one-time use of each request id
is enforced separately in the shared cache.

Cookie attributes: on https, ``SameSite=None; Secure`` so browsers send it on
Entra's cross-site POST. On http (local development only) it cannot be
Secure, and ``SameSite=None`` without Secure is refused by browsers, so no
SameSite attribute is sent: same-site stand-ins work, and Chrome still sends
such a fresh cookie on a cross-site top-level POST (Chrome's "Lax+POST" allowance
lasts about two minutes, so a slow MFA prompt can outlast it: use https with
real Entra).

Each entry carries its own start time, so re-signing the cookie for a newer
sign-in never extends an older request beyond REQUEST_TIMEOUT.
"""

from __future__ import annotations

import time

from django.core import signing
from django.http import HttpRequest, HttpResponse

from .conf import SSOSettings, get_settings

COOKIE_NAME = "thoropass_sso_pending"
_SALT = "thoropass_sso.pending"
_MAX_PENDING = 5


def _cookie_options(conf: SSOSettings) -> dict:
    secure = conf.secure_cookies
    return {
        "httponly": True,
        "secure": secure,
        "samesite": "None" if secure else None,
        "path": "/",
    }


Pending = dict[str, tuple[str, int]]  # request id -> (next path, started at, epoch seconds)


def _read(request: HttpRequest) -> Pending:
    raw = request.COOKIES.get(COOKIE_NAME)
    if not raw:
        return {}
    timeout = get_settings().REQUEST_TIMEOUT
    try:
        value = signing.loads(raw, salt=_SALT, max_age=timeout)
    except signing.BadSignature:
        return {}
    if not isinstance(value, list):
        return {}
    now = time.time()
    # Start times are stored rounded down, so an entry may expire up to a second early.
    return {
        str(item[0]): (str(item[1]), item[2])
        for item in value
        if isinstance(item, list) and len(item) == 3 and isinstance(item[2], int)
        and now - item[2] <= timeout
    }


def read_pending(request: HttpRequest) -> dict[str, str]:
    """Request id -> next path, for requests this browser started within REQUEST_TIMEOUT."""
    return {request_id: next_path for request_id, (next_path, _) in _read(request).items()}


def _write(response: HttpResponse, pending: Pending) -> None:
    conf = get_settings()
    options = _cookie_options(conf)
    if not pending:
        response.delete_cookie(COOKIE_NAME, path=options["path"], samesite=options["samesite"])
        return
    items = [[k, v, started] for k, (v, started) in pending.items()][-_MAX_PENDING:]
    response.set_cookie(COOKIE_NAME, signing.dumps(items, salt=_SALT, compress=True),
                        max_age=conf.REQUEST_TIMEOUT, **options)


def remember_request(request: HttpRequest, response: HttpResponse, request_id: str,
                     next_path: str) -> None:
    pending = _read(request)
    pending[request_id] = (next_path, int(time.time()))
    _write(response, pending)


def forget_request(request: HttpRequest, response: HttpResponse, request_id: str) -> None:
    pending = _read(request)
    if pending.pop(request_id, None) is not None or request.COOKIES.get(COOKIE_NAME):
        _write(response, pending)
