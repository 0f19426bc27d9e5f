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
sign-in never extends an older request beyond REQUEST_TIMEOUT, and the
connection the request was sent to: a response from any other tenant, however
well signed, does not answer it (views/acs.py). A *test* sign-in (onboarding a
customer, onboarding.py) also records which staff member started it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.http import HttpRequest, HttpResponse

from . import clock
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


PURPOSE_SIGN_IN = "sign-in"
PURPOSE_TEST = "test"


@dataclass(frozen=True)
class PendingRequest:
    """One AuthnRequest this browser started and has not seen answered."""

    next_path: str
    started: int  # epoch seconds, rounded down
    connection: str  # "" in cookies written before connections were recorded: the default
    purpose: str = PURPOSE_SIGN_IN
    actor_id: str = ""  # the staff user's pk for a test sign-in

    def as_item(self, request_id: str) -> list:
        return [request_id, self.next_path, self.started, self.connection, self.purpose,
                self.actor_id]

    @classmethod
    def from_item(cls, item: object) -> tuple[str, PendingRequest] | None:
        if not isinstance(item, list) or len(item) not in (3, 6) or not isinstance(item[2], int):
            return None
        if not all(isinstance(v, str) for i, v in enumerate(item) if i != 2):
            return None
        request_id, next_path, started, *rest = item
        connection, purpose, actor_id = rest or ("", PURPOSE_SIGN_IN, "")
        return request_id, cls(next_path, started, connection, purpose, actor_id)


def _read(request: HttpRequest) -> dict[str, PendingRequest]:
    raw = request.COOKIES.get(COOKIE_NAME)
    if not raw:
        return {}
    timeout = get_settings().REQUEST_TIMEOUT
    try:
        # Expiry is per entry (below), on the clock the rest of sign-in reads; the signature's
        # own timestamp is never older than an entry it carries, so max_age adds nothing.
        value = signing.loads(raw, salt=_SALT)
    except signing.BadSignature:
        return {}
    if not isinstance(value, list):
        return {}
    now = clock.now().timestamp()
    pending: dict[str, PendingRequest] = {}
    for item in value:
        parsed = PendingRequest.from_item(item)
        # Start times are stored rounded down, so an entry may expire up to a second early.
        if parsed is not None and now - parsed[1].started <= timeout:
            pending[parsed[0]] = parsed[1]
    return pending


def read_pending(request: HttpRequest) -> dict[str, PendingRequest]:
    """Request id -> what it was for, for requests this browser started within REQUEST_TIMEOUT."""
    return _read(request)


def _write(response: HttpResponse, pending: dict[str, PendingRequest]) -> None:
    conf = get_settings()
    options = _cookie_options(conf)
    if not pending:
        response.delete_cookie(COOKIE_NAME, path=options["path"], samesite=options["samesite"])
        return
    items = [entry.as_item(request_id) for request_id, entry in pending.items()][-_MAX_PENDING:]
    response.set_cookie(COOKIE_NAME, signing.dumps(items, salt=_SALT, compress=True),
                        max_age=conf.REQUEST_TIMEOUT, **options)


def remember_request(request: HttpRequest, response: HttpResponse, request_id: str,
                     next_path: str, *, connection: str, purpose: str = PURPOSE_SIGN_IN,
                     actor_id: str = "") -> None:
    pending = _read(request)
    pending[request_id] = PendingRequest(next_path, int(clock.now().timestamp()), connection,
                                         purpose, actor_id)
    _write(response, pending)


def forget_request(request: HttpRequest, response: HttpResponse, request_id: str) -> None:
    pending = _read(request)
    if pending.pop(request_id, None) is not None or request.COOKIES.get(COOKIE_NAME):
        _write(response, pending)
