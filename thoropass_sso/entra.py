"""Microsoft Entra ID's SAML constants, in one leaf module.

Everything here is a fact about Entra (ENTRA.md), not a choice of ours, and
this module imports nothing of thoropass_sso: every other module may import it.
"""

from __future__ import annotations

import re

# -- identifiers ----------------------------------------------------------------
#: IdP entity id and the Issuer of every Response and Assertion (trailing slash).
ISSUER_FORMAT = "https://sts.windows.net/{tenant_id}/"
ISSUER_PREFIX = "https://sts.windows.net/"
#: What the customer's admin copies: Single sign-on > SAML Certificates > App Federation Metadata Url.
METADATA_URL_FORMAT = (
    "https://login.microsoftonline.com/{tenant_id}/federationmetadata/2007-06/"
    "federationmetadata.xml?appid={app_id}"
)

# A tenant id is a GUID. Entra accepts verified domain names in URLs too, but the
# issuer of every response uses the GUID, so that is what is pinned and compared.
GUID_PATTERN = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
TENANT_ID_RE = re.compile(rf"^{GUID_PATTERN}$")
_TENANT_IN_METADATA_URL_RE = re.compile(rf"/(?P<tenant>{GUID_PATTERN})/federationmetadata/", re.I)
_ISSUER_RE = re.compile(rf"^https://sts\.windows\.net/(?P<tenant>{GUID_PATTERN})/$")

#: Hosts that serve App Federation Metadata: the global cloud and the national clouds
#: (US Government, China operated by 21Vianet). A metadata URL elsewhere is refused
#: unless the site allows the host (THOROPASS_SSO['METADATA_ALLOWED_HOSTS']).
METADATA_HOSTS = frozenset({
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn",
})


def issuer_for(tenant_id: str) -> str:
    return ISSUER_FORMAT.format(tenant_id=tenant_id.lower())


def tenant_of_issuer(issuer: str) -> str:
    """The tenant id an issuer names, lower-case, or '' when it is not Entra's issuer form."""
    match = _ISSUER_RE.match(issuer)
    return match.group("tenant").lower() if match else ""


def tenant_in_metadata_url(url: str) -> str:
    """The tenant id in an App Federation Metadata URL's path, lower-case, or ''."""
    from urllib.parse import urlsplit

    match = _TENANT_IN_METADATA_URL_RE.search(urlsplit(url).path + "/")
    return match.group("tenant").lower() if match else ""


def metadata_url_for(tenant_id: str, app_id: str) -> str:
    return METADATA_URL_FORMAT.format(tenant_id=tenant_id, app_id=app_id)


# -- claims (attribute names) ----------------------------------------------------
CLAIM_TENANT_ID = "http://schemas.microsoft.com/identity/claims/tenantid"
CLAIM_OBJECT_ID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
CLAIM_DISPLAY_NAME = "http://schemas.microsoft.com/identity/claims/displayname"
CLAIM_IDENTITY_PROVIDER = "http://schemas.microsoft.com/identity/claims/identityprovider"
CLAIM_AUTH_METHODS = "http://schemas.microsoft.com/claims/authnmethodsreferences"
CLAIM_GIVEN_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
CLAIM_SURNAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
CLAIM_EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
CLAIM_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
CLAIM_GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
CLAIM_ROLES = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
CLAIM_WIDS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/wids"
CLAIM_GROUPS_OVERAGE = "http://schemas.microsoft.com/claims/groups.link"

#: Entra's marker in a B2B guest's UPN.
GUEST_UPN_MARKER = "#ext#"
#: Groups in one SAML token before Entra sends groups.link instead.
GROUPS_PER_TOKEN = 150
