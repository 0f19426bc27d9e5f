"""Single logout messages: building ours, checking Entra's.

Outgoing (to Entra's SLO URL, HTTP-Redirect, unsigned: Entra does not require
signed logout requests): a LogoutRequest carrying the NameID and SessionIndex
of the sign-in, and the LogoutResponse answering an IdP-initiated logout.
pysaml2's message classes build the XML and the binding encoding.

Incoming (a LogoutRequest or LogoutResponse from Entra, HTTP-Redirect): the
XML is parsed by our hardened parser to read the issuer it claims, which only
chooses the connection; then the query signature is verified with that
connection's keys (:mod:`.redirect_binding`), and the message must be the
expected one, addressed to this site's logout URL when it names a Destination,
and fresh. One-time use is enforced by the caller (it needs the shared store).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from ..exceptions import SignInRejected
from ..keys import SPKeyPair
from ..reasons import Reason
from .authn_request import new_request_id
from .pysaml2 import http_redirect_message, saml, samlp
from .redirect_binding import RedirectMessage, verify_redirect_signature
from .redirect_signing import sign_redirect
from .response import Expectations, IdpTrust
from .sp import SPIdentity
from .timestamps import format_instant, parse_instant
from .xml import NS, MalformedXML, UnsafeXML, parse_untrusted, text_of

STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"


def _location(message: samlp.LogoutRequest | samlp.LogoutResponse, slo_url: str, *,
              typ: str, relay_state: str, signing_key: SPKeyPair | None) -> str:
    info = http_redirect_message(message.to_string().decode("utf-8"), slo_url,
                                 relay_state=relay_state, typ=typ)
    location = dict(info["headers"])["Location"]
    return sign_redirect(location, signing_key) if signing_key is not None else location


def logout_request_redirect(
    sp: SPIdentity, slo_url: str, *, name_id: str, name_id_format: str, session_index: str,
    relay_state: str = "", signing_key: SPKeyPair | None = None,
) -> tuple[str, str]:
    """Return (request id, URL sending the browser to Entra with our LogoutRequest)."""
    request_id = new_request_id()
    request = samlp.LogoutRequest(
        id=request_id,
        version="2.0",
        issue_instant=format_instant(datetime.now(UTC)),
        destination=slo_url,
        issuer=saml.Issuer(text=sp.entity_id),
        name_id=saml.NameID(text=name_id, format=name_id_format or None),
        session_index=[samlp.SessionIndex(text=session_index)] if session_index else None,
    )
    return request_id, _location(request, slo_url, typ="SAMLRequest", relay_state=relay_state,
                                 signing_key=signing_key)


def logout_response_redirect(
    sp: SPIdentity, slo_url: str, *, in_response_to: str, relay_state: str = "",
    signing_key: SPKeyPair | None = None,
) -> str:
    """The URL answering Entra's LogoutRequest with a Success LogoutResponse."""
    response = samlp.LogoutResponse(
        id=new_request_id(),
        version="2.0",
        issue_instant=format_instant(datetime.now(UTC)),
        destination=slo_url,
        in_response_to=in_response_to,
        issuer=saml.Issuer(text=sp.entity_id),
        status=samlp.Status(status_code=samlp.StatusCode(value=STATUS_SUCCESS)),
    )
    return _location(response, slo_url, typ="SAMLResponse", relay_state=relay_state,
                     signing_key=signing_key)


@dataclass(frozen=True)
class VerifiedLogoutMessage:
    """The facts of one verified LogoutRequest or LogoutResponse."""

    kind: str  # "LogoutRequest" or "LogoutResponse"
    id: str
    issue_instant: datetime
    in_response_to: str
    status: str
    session_indexes: tuple[str, ...]
    relay_state: str

    @property
    def succeeded(self) -> bool:
        return self.status == STATUS_SUCCESS


@dataclass(frozen=True)
class ParsedLogoutMessage:
    """An incoming logout message, parsed, NOT yet verified: ``claimed_issuer`` only routes."""

    kind: str  # "LogoutRequest" or "LogoutResponse"
    root: etree._Element
    claimed_issuer: str
    message: RedirectMessage


def parse_logout_message(message: RedirectMessage) -> ParsedLogoutMessage:
    """Parse the message's XML (hardened) and read the issuer it claims."""
    try:
        root = parse_untrusted(message.xml)
    except UnsafeXML as exc:
        raise SignInRejected(Reason.FORBIDDEN_XML, str(exc)) from None
    except MalformedXML:
        raise SignInRejected(Reason.LOGOUT_MALFORMED, "not well-formed XML") from None
    kind = "LogoutRequest" if message.kind == "SAMLRequest" else "LogoutResponse"
    if root.tag != f"{{{NS['samlp']}}}{kind}":
        raise SignInRejected(Reason.LOGOUT_MALFORMED, f"{message.kind} is not a {kind}")
    issuers = root.findall("saml:Issuer", NS)
    if len(issuers) != 1 or not text_of(issuers[0]):
        raise SignInRejected(Reason.WRONG_ISSUER, f"{kind} without exactly one Issuer")
    return ParsedLogoutMessage(kind=kind, root=root, claimed_issuer=text_of(issuers[0]),
                               message=message)


def verify_logout_message(
    parsed: ParsedLogoutMessage, trust: IdpTrust, expect: Expectations, *, logout_url: str,
    now: datetime,
) -> VerifiedLogoutMessage:
    """Verify an incoming logout message with ``trust``; raise SignInRejected with a reason."""
    message, root, kind = parsed.message, parsed.root, parsed.kind
    if parsed.claimed_issuer != trust.issuer:
        raise SignInRejected(Reason.WRONG_ISSUER, f"{kind} Issuer is not the connection's")
    verify_redirect_signature(message, trust.public_keys, allow_sha1=expect.allow_sha1)
    if root.get("Version") != "2.0":
        raise SignInRejected(Reason.WRONG_VERSION, "Version is not 2.0")
    message_id = root.get("ID") or ""
    if not message_id:
        raise SignInRejected(Reason.LOGOUT_MALFORMED, "no ID")
    destination = root.get("Destination")
    if destination is not None and destination != logout_url:
        raise SignInRejected(Reason.WRONG_DESTINATION, "Destination is not this site's logout URL")
    try:
        issue_instant = parse_instant(root.get("IssueInstant", ""))
        not_on_or_after = root.get("NotOnOrAfter")
        expiry = parse_instant(not_on_or_after) if not_on_or_after else None
    except ValueError:
        raise SignInRejected(Reason.LOGOUT_MALFORMED, "bad timestamp") from None
    skew = expect.clock_skew
    if issue_instant > now + skew:
        raise SignInRejected(Reason.NOT_YET_VALID, "IssueInstant in the future")
    if issue_instant < now - expect.max_age - skew:
        raise SignInRejected(Reason.STALE, "IssueInstant too old")
    if expiry is not None and now - skew >= expiry:
        raise SignInRejected(Reason.EXPIRED, "NotOnOrAfter passed")
    status = root.find("samlp:Status/samlp:StatusCode", NS)
    if kind == "LogoutResponse" and status is None:
        raise SignInRejected(Reason.LOGOUT_MALFORMED, "LogoutResponse without Status")
    return VerifiedLogoutMessage(
        kind=kind,
        id=message_id,
        issue_instant=issue_instant,
        in_response_to=root.get("InResponseTo", ""),
        status=status.get("Value", "") if status is not None else "",
        session_indexes=tuple(text_of(e) for e in root.findall("samlp:SessionIndex", NS)),
        relay_state=message.relay_state,
    )


def replay_window(message: VerifiedLogoutMessage, expect: Expectations) -> datetime:
    """Until when the message id must be remembered, BEFORE clock skew.

    The message is accepted while ``now <= IssueInstant + max_age + skew`` (and a
    NotOnOrAfter only shortens that). The skew and the rounding second are added
    once, by :func:`thoropass_sso.replay.claim_once` (``skew_seconds``), exactly as
    for assertion and request ids; adding them here too held ids a skew too long.
    """
    return message.issue_instant + expect.max_age
