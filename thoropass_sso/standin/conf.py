"""When the stand-in runs, and what it serves: ``THOROPASS_SSO_STANDIN``.

It runs only where it cannot hurt: installed, no tenant named in
``THOROPASS_SSO`` (no ``METADATA_URL`` / ``TENANT_ID``), and either ``DEBUG`` on
or a ``BASE_URL`` on localhost. Anywhere else its pages answer 404, it stores
nothing, and check ``thoropass_sso_standin.W001`` says to remove it.

``THOROPASS_SSO_STANDIN`` (optional)::

    {
        "TENANTS": [   # the first is the site's connection (THOROPASS_SSO['CONNECTION'])
            {"name": "default", "display_name": "Contoso (stand-in)", "domain": "contoso.example",
             "tenant_id": "<optional fixed GUID>",
             "users": [{"upn": "adele.vance@contoso.example", "given_name": "Adele",
                        "groups": ["<group id>"], "roles": ["Admin"]}, ...]},
            {"name": "fabrikam", ...},   # further tenants become connections too
        ],
        "IDP_BASE_URL": "",  # serve the pages from another origin (a cross-site POST, like Entra)
    }
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SETTING_NAME = "THOROPASS_SSO_STANDIN"
APP_NAME = "thoropass_sso.standin"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class UserSpec:
    upn: str
    given_name: str = ""
    surname: str = ""
    email: str = ""
    object_id: str = ""  # empty: generated once, then kept in the database
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    guest_identity_provider: str = ""


@dataclass(frozen=True)
class TenantSpec:
    name: str
    display_name: str
    domain: str
    tenant_id: str = ""  # empty: generated once, then kept in the database
    app_id: str = ""
    users: tuple[UserSpec, ...] = field(default_factory=tuple)


DEFAULT_USERS = (
    UserSpec("adele.vance@contoso.example", "Adele", "Vance", "adele.vance@contoso.example",
             roles=("Admin",)),
    UserSpec("megan.bowen@contoso.example", "Megan", "Bowen", "megan.bowen@contoso.example",
             roles=("Reader",)),
    UserSpec("pat.guest_fabrikam.example#EXT#@contoso.example", "Pat", "Guest",
             "pat@fabrikam.example",
             guest_identity_provider="https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/"),
)


def _tenant(raw: dict[str, Any], index: int, default_name: str) -> TenantSpec:
    users = tuple(UserSpec(**{**u, "groups": tuple(u.get("groups", ())),
                              "roles": tuple(u.get("roles", ()))}) for u in raw.get("users", ()))
    return TenantSpec(
        name=(raw.get("name") or default_name) if index == 0 else raw["name"],
        display_name=raw.get("display_name", ""),
        domain=raw.get("domain", ""),
        tenant_id=raw.get("tenant_id", ""),
        app_id=raw.get("app_id", ""),
        users=users,
    )


def tenants() -> tuple[TenantSpec, ...]:
    from ..conf import get_settings

    raw = getattr(settings, SETTING_NAME, {}) or {}
    try:
        specs = raw.get("TENANTS")
        if not specs:
            return (TenantSpec(get_settings().CONNECTION, "Contoso (stand-in)", "contoso.example",
                               users=DEFAULT_USERS),)
        return tuple(_tenant(t, i, get_settings().CONNECTION) for i, t in enumerate(specs))
    except (TypeError, KeyError, AttributeError) as exc:
        raise ImproperlyConfigured(
            f"settings.{SETTING_NAME} is not in the documented shape ({type(exc).__name__}: "
            f"{exc}); see thoropass_sso/standin/conf.py") from None


def idp_base_url(site_base_url: str) -> str:
    raw = getattr(settings, SETTING_NAME, {}) or {}
    return (raw.get("IDP_BASE_URL") or "").rstrip("/")


def is_installed() -> bool:
    return apps.is_installed(APP_NAME)


def is_allowed(base_url: str) -> bool:
    """The only places a stand-in may sign anyone in: DEBUG on, or a site on localhost."""
    return bool(settings.DEBUG) or (urlsplit(base_url).hostname or "") in _LOOPBACK


def provides_connection(raw_sso: dict[str, Any]) -> bool:
    """True when the stand-in is the site's connection (read from the raw THOROPASS_SSO dict)."""
    if not is_installed() or raw_sso.get("METADATA_URL") or raw_sso.get("TENANT_ID"):
        return False
    return is_allowed(str(raw_sso.get("BASE_URL", "")))
