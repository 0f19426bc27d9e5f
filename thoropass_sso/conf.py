"""The ``THOROPASS_SSO`` setting, read lazily into one typed, frozen object.

Nothing here runs at import time: :func:`get_settings` reads Django's settings
on first use, caches the result, and forgets it when Django reports a settings
change (``override_settings`` in tests), so every caller sees one consistent
view.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .exceptions import ConfigurationError

SETTING_NAME = "THOROPASS_SSO"

ENTRA_METADATA_URL = (
    "https://login.microsoftonline.com/{tenant_id}/federationmetadata/2007-06/"
    "federationmetadata.xml?appid={app_id}"
)
ENTRA_ISSUER = "https://sts.windows.net/{tenant_id}/"

# A tenant id is a GUID; Entra also accepts verified domain names in URLs but
# the issuer in every response uses the GUID, so that is what we compare.
TENANT_ID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_TENANT_IN_METADATA_URL_RE = re.compile(
    r"/(?P<tenant>[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})/federationmetadata/",
    re.IGNORECASE,
)


class FrozenMap(Mapping[str, tuple[str, ...]]):
    """A read-only, hashable ``{key: (value, ...)}`` built from a settings dict.

    ``GROUP_MAP = {"<group object id>": "Editors"}`` and
    ``{"<id>": ["Editors", "Authors"]}`` both become ``{"<id>": ("Editors",)}``
    shapes, so policy code reads one form.
    """

    def __init__(self, items: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self._items = dict(items or {})

    @classmethod
    def from_setting(cls, name: str, raw: Mapping[object, object]) -> FrozenMap:
        items: dict[str, tuple[str, ...]] = {}
        for key, value in raw.items():
            values = (value,) if isinstance(value, str) else value
            if (not isinstance(key, str) or not key.strip()
                    or not isinstance(values, list | tuple) or not values
                    or not all(isinstance(v, str) and v.strip() for v in values)):
                raise ConfigurationError(
                    f"{SETTING_NAME}['{name}'] must map non-empty strings to a Django group "
                    "name or a list of names, for example {\"<group object id>\": \"Editors\"}."
                )
            items[key.strip()] = tuple(v.strip() for v in values)
        return cls(items)

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._items.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"


# Keys whose values are lists of Entra group object ids / app role values.
SIGNATURE_BACKENDS = ("python-xmlsec", "xmlsec1")

_ID_LIST_KEYS = ("STAFF_GROUPS", "STAFF_ROLES", "SUPERUSER_GROUPS", "SUPERUSER_ROLES",
                 "ALLOWED_GROUPS", "ALLOWED_ROLES")


@dataclass(frozen=True)
class SSOSettings:
    """Every option of ``THOROPASS_SSO``, with Entra-correct defaults.

    Required: ``BASE_URL`` and either ``METADATA_URL`` or ``TENANT_ID`` + ``APP_ID``.
    See docs/settings.md for each option.
    """

    BASE_URL: str = ""
    TENANT_ID: str = ""
    APP_ID: str = ""
    METADATA_URL: str = ""
    SP_ENTITY_ID: str = ""
    CONNECTION: str = "default"

    CREATE_USERS: bool = True
    ALLOW_GUESTS: bool = True
    ALLOW_IDP_INITIATED: bool = True
    IDP_INITIATED_MAX_AGE: int = 300
    CLOCK_SKEW: int = 180
    MAX_RESPONSE_AGE: int = 600
    ALLOW_SHA1: bool = False
    MAX_RESPONSE_BYTES: int = 256 * 1024
    # Who verifies response signatures cryptographically: "python-xmlsec" (in-process,
    # the default) or "xmlsec1" (the program; a slower fallback, docs/compatibility.md).
    SIGNATURE_BACKEND: str = "python-xmlsec"
    # "" = the database table (one INSERT per sign-in); a cache alias = that cache.
    REPLAY_CACHE: str = ""
    REQUEST_TIMEOUT: int = 600
    LOGIN_REDIRECT_URL: str = ""
    LOGOUT_REDIRECT_URL: str = ""
    ADAPTER: str = "thoropass_sso.adapter.EntraAdapter"
    NAME_ID_FORMAT: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

    # Fetching metadata (refresh_entra_metadata): the TCP/TLS handshake, each wait
    # for bytes, and the whole exchange are bounded separately (see metadata/fetch.py).
    METADATA_CONNECT_TIMEOUT: float = 5.0
    METADATA_READ_TIMEOUT: float = 10.0
    METADATA_TIMEOUT: float = 30.0
    METADATA_MAX_BYTES: int = 2 * 1024 * 1024
    METADATA_RELOAD_INTERVAL: int = 30
    # Optional pinning of the metadata document's own signature: a PEM certificate
    # and/or SHA-256 fingerprints of certificates allowed to sign it. When either is
    # set, unsigned metadata or metadata signed by anything else is refused.
    METADATA_SIGNING_CERTIFICATE: str = ""
    METADATA_SIGNING_FINGERPRINTS: tuple[str, ...] = ()

    # Entra groups and app roles -> Django (docs/groups-and-policy.md). Group keys
    # are group object ids; role keys are app role values (case-sensitive).
    GROUP_MAP: FrozenMap = field(default_factory=FrozenMap)
    ROLE_MAP: FrozenMap = field(default_factory=FrozenMap)
    STAFF_GROUPS: tuple[str, ...] = ()
    STAFF_ROLES: tuple[str, ...] = ()
    SUPERUSER_GROUPS: tuple[str, ...] = ()
    SUPERUSER_ROLES: tuple[str, ...] = ()
    # Mirror: managed Django groups (and mapped flags) the user no longer has in Entra
    # are removed on each sign-in. Off: mapping only ever adds.
    MIRROR_GROUPS: bool = True
    # Access rules: when either is set, only members of ALLOWED_GROUPS or holders of
    # ALLOWED_ROLES may sign in.
    ALLOWED_GROUPS: tuple[str, ...] = ()
    ALLOWED_ROLES: tuple[str, ...] = ()
    # Single logout: /saml2/logout/ also signs the user out of Entra when the session
    # came from an Entra sign-in. Off: local logout only.
    SINGLE_LOGOUT: bool = True

    # ---- derived values -------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.BASE_URL.rstrip("/")

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/saml2/acs/"

    @property
    def sp_metadata_url(self) -> str:
        return f"{self.base_url}/saml2/metadata/"

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/saml2/login/"

    @property
    def logout_url(self) -> str:
        return f"{self.base_url}/saml2/logout/"

    @property
    def sp_entity_id(self) -> str:
        return self.SP_ENTITY_ID or self.sp_metadata_url

    @property
    def metadata_url(self) -> str:
        if self.METADATA_URL:
            return self.METADATA_URL
        return ENTRA_METADATA_URL.format(tenant_id=self.TENANT_ID, app_id=self.APP_ID)

    @property
    def tenant_id(self) -> str:
        """The configured tenant, or the one named in the metadata URL; may be ''."""
        if self.TENANT_ID:
            return self.TENANT_ID.lower()
        match = _TENANT_IN_METADATA_URL_RE.search(urlsplit(self.METADATA_URL).path + "/")
        return match.group("tenant").lower() if match else ""

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SSOSettings:
        known = {f.name for f in fields(cls) if f.name.isupper()}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigurationError(
                f"{SETTING_NAME} has unknown key(s): {', '.join(unknown)}. "
                f"Known keys: {', '.join(sorted(known))}."
            )
        defaults = cls()
        raw = {
            name: FrozenMap.from_setting(name, value)
            if isinstance(getattr(defaults, name), FrozenMap) and isinstance(value, dict) else value
            for name, value in raw.items()
        }
        # Lists are accepted where a tuple is the default (settings files use both).
        raw = {
            name: tuple(value) if isinstance(getattr(defaults, name), tuple)
            and isinstance(value, list) else value
            for name, value in raw.items()
        }
        for name, value in raw.items():
            expected = type(getattr(defaults, name))
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                continue
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                expected_name = "dict" if expected is FrozenMap else expected.__name__
                raise ConfigurationError(
                    f"{SETTING_NAME}['{name}'] must be a {expected_name}, "
                    f"not {type(value).__name__}."
                )
        obj = cls(**raw)
        obj._validate()
        return obj

    def _validate(self) -> None:
        if not self.BASE_URL:
            raise ConfigurationError(
                f"{SETTING_NAME}['BASE_URL'] is required: the site's public URL, "
                "for example 'https://app.example.com'."
            )
        parts = urlsplit(self.BASE_URL)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ConfigurationError(
                f"{SETTING_NAME}['BASE_URL'] must be an absolute http(s) URL without a query, "
                f"got {self.BASE_URL!r}."
            )
        if not self.METADATA_URL and not (self.TENANT_ID and self.APP_ID):
            missing = "TENANT_ID" if not self.TENANT_ID else "APP_ID"
            raise ConfigurationError(
                f"{SETTING_NAME}['{missing}'] is required (or set "
                f"{SETTING_NAME}['METADATA_URL'] to the App Federation Metadata URL)."
            )
        if self.TENANT_ID and not TENANT_ID_RE.match(self.TENANT_ID):
            raise ConfigurationError(
                f"{SETTING_NAME}['TENANT_ID'] must be the tenant's GUID "
                "(Entra admin center > Overview > Tenant ID)."
            )
        if self.METADATA_URL and urlsplit(self.METADATA_URL).scheme not in ("https", "http", "file"):
            raise ConfigurationError(
                f"{SETTING_NAME}['METADATA_URL'] must be an https:// URL "
                "(http:// and file:// are accepted for local testing)."
            )
        for name in ("CLOCK_SKEW", "IDP_INITIATED_MAX_AGE", "MAX_RESPONSE_AGE",
                     "MAX_RESPONSE_BYTES", "REQUEST_TIMEOUT", "METADATA_MAX_BYTES"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{SETTING_NAME}['{name}'] must be positive.")
        for name in ("METADATA_CONNECT_TIMEOUT", "METADATA_READ_TIMEOUT", "METADATA_TIMEOUT"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{SETTING_NAME}['{name}'] must be positive.")
        if self.SIGNATURE_BACKEND not in SIGNATURE_BACKENDS:
            raise ConfigurationError(
                f"{SETTING_NAME}['SIGNATURE_BACKEND'] must be one of "
                f"{', '.join(repr(b) for b in SIGNATURE_BACKENDS)}, got {self.SIGNATURE_BACKEND!r}."
            )
        if self.METADATA_SIGNING_CERTIFICATE or self.METADATA_SIGNING_FINGERPRINTS:
            from .metadata.signature import MetadataSignaturePins

            MetadataSignaturePins.from_settings(self)  # raises ConfigurationError naming the key
        for name in _ID_LIST_KEYS:
            if not all(isinstance(v, str) and v.strip() for v in getattr(self, name)):
                raise ConfigurationError(
                    f"{SETTING_NAME}['{name}'] must be a list of Entra group object ids "
                    "or app role values (non-empty strings)."
                )
        for name in ("LOGIN_REDIRECT_URL", "LOGOUT_REDIRECT_URL"):
            value = getattr(self, name)
            if value and not value.startswith("/"):
                raise ConfigurationError(
                    f"{SETTING_NAME}['{name}'] must be a path on this site, such as '/'."
                )


@cache
def get_settings() -> SSOSettings:
    """The site's ``THOROPASS_SSO`` settings; raises ConfigurationError naming a bad key."""
    raw = getattr(django_settings, SETTING_NAME, None)
    if raw is None:
        raise ConfigurationError(
            f"settings.{SETTING_NAME} is missing: add a dict with at least BASE_URL and "
            "METADATA_URL (or TENANT_ID and APP_ID)."
        )
    if not isinstance(raw, dict):
        raise ConfigurationError(f"settings.{SETTING_NAME} must be a dict.")
    return SSOSettings.from_dict(raw)


@receiver(setting_changed)
def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "CACHES", "AUTHENTICATION_BACKENDS"):
        get_settings.cache_clear()
        from .runtime import forget_runtime

        forget_runtime()
