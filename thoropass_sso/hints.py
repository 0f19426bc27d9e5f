"""What to do about each reason code: for the people who run the site, never for its users.

The same text is the "what to do" column of docs/troubleshooting.md (a test keeps
the two equal) and, with ``DEBUG`` on, appears on the error page under the
reason code, so a developer sees the fix where the sign-in failed.
"""

from __future__ import annotations

from .reasons import Reason

HINTS: dict[str, str] = {
    "missing_response": "Something posted to the ACS without a SAMLResponse field: only Entra "
                        "should post there. Start at the Sign-on URL.",
    "response_too_large": "The POST exceeds MAX_RESPONSE_BYTES. Users in very many groups: "
                          "emit 'Groups assigned to the application' in Entra.",
    "malformed": "The response is not a SAML response Entra would send: something between "
                 "Entra and the site altered it, or it is not from Entra.",
    "forbidden_xml": "The document uses DOCTYPE, entities or XInclude, which SAML never needs: "
                     "an attack, or not from Entra.",
    "not_a_response": "The posted XML is not a samlp:Response.",
    "wrong_version": "Not SAML 2.0.",
    "duplicate_id": "Two elements share an ID: a signature-wrapping attempt.",
    "idp_error_status": "Entra answered with an error status: the user saw Entra's error page "
                        "first (an AADSTS code, see the table above).",
    "assertion_count": "Exactly one assertion is accepted.",
    "encrypted_assertion_unsupported": "Token encryption is on in Entra but this site has no "
                                       "encryption key: set ENCRYPTION_KEYS (docs/security.md, "
                                       "token encryption).",
    "encrypted_element_unsupported": "An EncryptedID or EncryptedAttribute arrived and this site "
                                     "has no decryption key (ENCRYPTION_KEYS).",
    "weak_encryption": "An encryption algorithm this site refuses (RSA PKCS#1 v1.5 key transport, "
                       "or not AES): Entra uses RSA-OAEP and AES; not from Entra.",
    "decryption_failed": "None of this site's encryption keys decrypts it: the customer uploaded "
                         "another certificate in Entra (Token encryption), or the token was altered.",
    "encryption_required": "The connection requires encrypted assertions and this one came in the "
                           "clear: switch Token encryption on in Entra, or turn require_encryption off.",
    "unsupported_element": "The assertion carries a statement, condition or element this site does "
                           "not act on (docs/security.md): not from Entra.",
    "unsigned": "Neither response nor assertion signed: Entra always signs; something altered "
                "the response.",
    "signature_invalid": "Not signed by a certificate of the connection's stored metadata: run "
                         "refresh_entra_metadata (a certificate rollover?), and check the tenant "
                         "and app.",
    "signature_reference": "A signature of a shape Entra never produces (wrapping, extra "
                           "transforms): an attack, or not from Entra.",
    "weak_algorithm": "SHA-1: set the app's Signing Algorithm to SHA-256 in Entra.",
    "wrong_destination": "Posted for another Reply URL: BASE_URL must be the public URL users "
                         "see (reverse proxies, below).",
    "wrong_issuer": "The response's issuers disagree, or do not match the connection that "
                    "verified it.",
    "wrong_audience": "The assertion is for another Identifier: Entra's Identifier must equal "
                      "the SP entity id entra_setup prints.",
    "wrong_recipient": "Confirmed for another Reply URL: BASE_URL must be the public URL users "
                       "see (reverse proxies, below).",
    "no_bearer_confirmation": "No usable bearer SubjectConfirmation: not from Entra.",
    "not_yet_valid": "Time checks failed: the server clock is off (clock skew, below).",
    "expired": "Time checks failed: clock skew (below), or the Entra page was left open too long.",
    "stale": "Issued too long ago (MAX_RESPONSE_AGE, IDP_INITIATED_MAX_AGE): a reposted old "
             "response, or clock skew.",
    "replay": "This response (or request) was already used: expected for double submits and "
              "back-button reposts.",
    "unknown_request": "The response answers a sign-in this browser did not start, or its "
                       "cookie was lost: SameSite and host names (below), or a sign-in older "
                       "than REQUEST_TIMEOUT.",
    "unsolicited_disabled": "IdP-initiated sign-in is off for the connection, or REPLAY_CACHE "
                            "names a LocMemCache (leave it empty, or name Redis).",
    "unknown_issuer": "No connection has the response's tenant: add the customer "
                      "(entra_connection add), or check which tenant the user signed in to.",
    "connection_disabled": "The customer's connection is disabled: entra_connection enable NAME.",
    "connection_draft": "The connection is a draft: run its test sign-in from the admin, then "
                        "activate it. Entra's own Test button is IdP-initiated and refused "
                        "for drafts.",
    "connection_mismatch": "The response is from another tenant than the one the sign-in was "
                           "sent to: a forgery, or two tabs signing in to two customers.",
    "missing_name_id": "No NameID: not from Entra.",
    "missing_claim": "The tenantid or objectidentifier claim is missing: restore Entra's default "
                     "claims (Attributes & Claims).",
    "wrong_tenant": "The tenantid claim is not the connection's tenant.",
    "guest_not_allowed": "A B2B guest and guests are not allowed for the connection: intended, "
                         "or allow guests.",
    "not_allowed": "The site's adapter refused this user.",
    "unknown_user": "No Django user yet and creating users is off for the connection: create "
                    "the user first, or turn creating users on.",
    "email_domain_not_allowed": "The email is outside the connection's domains and the "
                                "connection only accepts its own: add the domain, or turn "
                                "restrict_email_domains off.",
    "inactive_user": "The Django user is inactive: reactivate them in the admin.",
    "access_rule": "Not in an allowed group or app role of the connection: assign the user in "
                   "Entra, or change the allowed groups/roles.",
    "groups_unknown": "Entra sent groups.link (over 150 groups), so membership of an allowed "
                      "group could not be confirmed: use an app role, or resolve overage groups "
                      "in the adapter.",
    "logout_malformed": "A logout message Entra would not send.",
    "logout_unsupported_binding": "Logout messages come with HTTP-Redirect from Entra; a POST is "
                                  "not Entra's.",
    "logout_not_confirmed": "Entra answered the logout with a non-Success status: the local "
                            "session is over, the Entra session may not be.",
    "wrong_host": "The browser is on another host name than BASE_URL's (127.0.0.1 vs localhost, "
                  "www vs bare domain): open the site at BASE_URL, or set BASE_URL to the "
                  "address users use.",
    "metadata_not_stored": "No metadata is stored for the connection yet: run "
                           "'python manage.py refresh_entra_metadata'.",
    "misconfigured": "A setting contradicts the stored state, or a required part is missing "
                     "(the log line has the detail): 'python manage.py check' names it.",
    "database_unavailable": "The database refused or lost the connection; nothing of the sign-in "
                            "was kept (a sign-out did not happen). Bring it back and sign-ins "
                            "resume; with CONN_MAX_AGE set CONN_HEALTH_CHECKS = True.",
    "replay_store_unavailable": "The replay store REPLAY_CACHE names (Redis?) could not be "
                                "reached; the response was refused, never accepted unchecked. "
                                "Bring it back and sign-ins resume.",
}


def hint_for(reason: Reason) -> str:
    return HINTS.get(reason.code, "")
