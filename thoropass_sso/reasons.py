"""Reason codes for refused sign-ins.

Each code is stable: it appears in log lines, in the ``sign_in_rejected``
signal and in monitoring, so never rename one; retire it instead.
"""

from __future__ import annotations

from enum import Enum

from django.utils.translation import gettext_lazy as _

_BAD_RESPONSE = _(
    "The sign-in response from Microsoft could not be accepted. "
    "Please start signing in again from this site."
)
_NOT_ALLOWED = _("Your account is not allowed to sign in to this site.")
_TRY_AGAIN = _("Your sign-in took too long or was already used. Please sign in again.")
_NO_ACCESS = _(
    "Your account has not been given access to this site. "
    "Ask your administrator to assign you to it, then sign in again."
)
_NOT_AVAILABLE = _(
    "Sign-in with Microsoft is not available for your organization on this site. "
    "Ask your administrator, or the site's support, to set it up."
)
_BAD_LOGOUT = _("The sign-out message from Microsoft could not be accepted.")
_UNAVAILABLE = _(
    "Sign-in is unavailable for a moment on this site. Please try again in a minute."
)
_NOT_CONFIGURED = _(
    "Sign-in with Microsoft is not ready on this site yet. Administrators: run "
    "'python manage.py refresh_entra_metadata' to fetch the Entra metadata."
)


class Reason(Enum):
    """Why a SAML message was refused: code, HTTP status and what the user is told."""

    def __init__(self, code: str, status: int, user_message: str) -> None:
        self.code = code
        self.status = status
        self.user_message = user_message

    # The request itself
    MISSING_RESPONSE = ("missing_response", 400, _BAD_RESPONSE)
    RESPONSE_TOO_LARGE = ("response_too_large", 413, _BAD_RESPONSE)
    MALFORMED = ("malformed", 400, _BAD_RESPONSE)
    FORBIDDEN_XML = ("forbidden_xml", 400, _BAD_RESPONSE)
    NOT_A_RESPONSE = ("not_a_response", 400, _BAD_RESPONSE)
    WRONG_VERSION = ("wrong_version", 400, _BAD_RESPONSE)
    DUPLICATE_ID = ("duplicate_id", 400, _BAD_RESPONSE)
    # Status from the identity provider
    IDP_ERROR_STATUS = ("idp_error_status", 403, _("Microsoft did not sign you in. Please try again."))
    # Structure and signatures
    ASSERTION_COUNT = ("assertion_count", 400, _BAD_RESPONSE)
    ENCRYPTED_ASSERTION = ("encrypted_assertion_unsupported", 400, _BAD_RESPONSE)
    # Token encryption: an EncryptedID/EncryptedAttribute with no key here; a key transport or
    # cipher not accepted (RSA v1.5); nothing decrypts it; a plaintext assertion from a
    # connection that requires encryption.
    ENCRYPTED_ELEMENT = ("encrypted_element_unsupported", 400, _BAD_RESPONSE)
    WEAK_ENCRYPTION = ("weak_encryption", 403, _BAD_RESPONSE)
    DECRYPTION_FAILED = ("decryption_failed", 403, _BAD_RESPONSE)
    ENCRYPTION_REQUIRED = ("encryption_required", 403, _BAD_RESPONSE)
    # A statement, condition or element this site does not act on (docs/security.md).
    UNSUPPORTED_ELEMENT = ("unsupported_element", 403, _BAD_RESPONSE)
    UNSIGNED = ("unsigned", 403, _BAD_RESPONSE)
    SIGNATURE_INVALID = ("signature_invalid", 403, _BAD_RESPONSE)
    SIGNATURE_REFERENCE = ("signature_reference", 403, _BAD_RESPONSE)
    WEAK_ALGORITHM = ("weak_algorithm", 403, _BAD_RESPONSE)
    # Addressing
    WRONG_DESTINATION = ("wrong_destination", 403, _BAD_RESPONSE)
    WRONG_ISSUER = ("wrong_issuer", 403, _BAD_RESPONSE)
    WRONG_AUDIENCE = ("wrong_audience", 403, _BAD_RESPONSE)
    WRONG_RECIPIENT = ("wrong_recipient", 403, _BAD_RESPONSE)
    NO_BEARER_CONFIRMATION = ("no_bearer_confirmation", 403, _BAD_RESPONSE)
    # Time
    NOT_YET_VALID = ("not_yet_valid", 403, _TRY_AGAIN)
    EXPIRED = ("expired", 403, _TRY_AGAIN)
    STALE = ("stale", 403, _TRY_AGAIN)
    # Replay and correlation
    REPLAY = ("replay", 403, _TRY_AGAIN)
    UNKNOWN_REQUEST = ("unknown_request", 403, _TRY_AGAIN)
    UNSOLICITED_DISABLED = ("unsolicited_disabled", 403, _BAD_RESPONSE)
    # Which connection: the response's issuer names no connection of this site, or one that
    # is disabled or still a draft, or not the one the sign-in was started with.
    UNKNOWN_ISSUER = ("unknown_issuer", 403, _NOT_AVAILABLE)
    CONNECTION_DISABLED = ("connection_disabled", 403, _NOT_AVAILABLE)
    CONNECTION_DRAFT = ("connection_draft", 403, _NOT_AVAILABLE)
    CONNECTION_MISMATCH = ("connection_mismatch", 403, _BAD_RESPONSE)
    # Subject and claims
    MISSING_NAME_ID = ("missing_name_id", 403, _BAD_RESPONSE)
    MISSING_CLAIM = ("missing_claim", 403, _BAD_RESPONSE)
    WRONG_TENANT = ("wrong_tenant", 403, _NOT_ALLOWED)
    # Site policy
    GUEST_NOT_ALLOWED = ("guest_not_allowed", 403, _NOT_ALLOWED)
    NOT_ALLOWED = ("not_allowed", 403, _NOT_ALLOWED)
    UNKNOWN_USER = ("unknown_user", 403, _NOT_ALLOWED)
    # The connection only accepts emails in its own domains (restrict_email_domains).
    EMAIL_DOMAIN_NOT_ALLOWED = ("email_domain_not_allowed", 403, _NOT_ALLOWED)
    INACTIVE_USER = ("inactive_user", 403, _NOT_ALLOWED)
    # Access rules (ALLOWED_GROUPS / ALLOWED_ROLES): not a member of an allowed group
    # nor holder of an allowed app role; or Entra sent groups.link instead of the
    # groups (overage), so membership could not be confirmed.
    ACCESS_RULE = ("access_rule", 403, _NO_ACCESS)
    GROUPS_UNKNOWN = ("groups_unknown", 403, _NO_ACCESS)
    # Single logout (a LogoutRequest or LogoutResponse at /saml2/logout/)
    LOGOUT_MALFORMED = ("logout_malformed", 400, _BAD_LOGOUT)
    LOGOUT_UNSUPPORTED_BINDING = ("logout_unsupported_binding", 400, _BAD_LOGOUT)
    # Entra answered our LogoutRequest with a non-Success status. Not a refusal: the
    # local session had already ended, so the user still goes to the logout redirect;
    # the code appears in the warning log line only.
    LOGOUT_NOT_CONFIRMED = ("logout_not_confirmed", 502, _(
        "You are signed out of this site, but Microsoft did not confirm that you are signed "
        "out of your Microsoft account. Close your browser to be sure."))
    # The browser is on another host name than BASE_URL's: the sign-in could not come back to it.
    WRONG_HOST = ("wrong_host", 400, _(
        "This site is not meant to be opened at this address, so signing in here cannot work. "
        "Open the site at its own address and sign in again."))
    # This site's own state
    METADATA_NOT_STORED = ("metadata_not_stored", 503, _NOT_CONFIGURED)
    MISCONFIGURED = ("misconfigured", 503, _(
        "Sign-in with Microsoft is not set up correctly on this site. Administrators: "
        "run 'python manage.py check'."))
    # A part the site depends on is down: the database refused or lost the connection,
    # or the replay store (REPLAY_CACHE, e.g. Redis) could not be reached. Nothing of the
    # sign-in was kept, and a response is never accepted unchecked (fail closed).
    DATABASE_UNAVAILABLE = ("database_unavailable", 503, _UNAVAILABLE)
    REPLAY_STORE_UNAVAILABLE = ("replay_store_unavailable", 503, _UNAVAILABLE)

    @classmethod
    def by_code(cls, code: str) -> Reason:
        for reason in cls:
            if reason.code == code:
                return reason
        raise KeyError(code)
