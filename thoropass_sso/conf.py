"""The ``THOROPASS_SSO`` setting, read lazily into one typed, frozen object.

Nothing here runs at import time: :func:`get_settings` reads Django's settings
on first use, caches the result, and forgets it when Django reports a settings
change (``override_settings`` in tests), so every caller sees one consistent
view.

Two kinds of keys live in the one dict (docs/settings.md):

- site-wide keys: this site's SAML identity (``BASE_URL``, ``SP_ENTITY_ID``),
  limits, clocks, stores and the adapter -- the same for every customer;
- the keys of the *settings-defined connection* (``METADATA_URL`` or
  ``TENANT_ID`` + ``APP_ID``, and its policy: ``GROUP_MAP``, ``CREATE_USERS``...):
  a single-tenant site's one tenant, stored as the connection named
  ``CONNECTION`` ("default"). Other customers' connections are data
  (:class:`~thoropass_sso.models.Connection` rows) with their policy on the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from . import entra
from .exceptions import ConfigurationError
from .policy import POLICY_FIELDS, ConnectionPolicy, FrozenMap, PolicyError

if TYPE_CHECKING:
    from .saml.sp import SPIdentity

SETTING_NAME = "THOROPASS_SSO"

# Kept for code that imported them from here; entra.py is where they live.
ENTRA_METADATA_URL = entra.METADATA_URL_FORMAT
ENTRA_ISSUER = entra.ISSUER_FORMAT
TENANT_ID_RE = entra.TENANT_ID_RE


SIGNATURE_BACKENDS = ("python-xmlsec", "xmlsec1")

# The settings-defined connection's policy: THOROPASS_SSO key -> ConnectionPolicy field.
# (LOGIN_REDIRECT_URL is also the site-wide fallback landing path, so it is not here.)
POLICY_KEYS = {name.upper(): name for name in POLICY_FIELDS if name != "landing_path"}


@dataclass(frozen=True)
class SSOSettings:
    """Every option of ``THOROPASS_SSO``, with Entra-correct defaults.

    Required: ``BASE_URL``. ``METADATA_URL`` (or ``TENANT_ID`` + ``APP_ID``)
    defines the settings' own connection; without them every connection is a
    database row. See docs/settings.md for each option.
    """

    # -- this site, the same for every customer ----------------------------
    BASE_URL: str = ""
    SP_ENTITY_ID: str = ""
    ADAPTER: str = "thoropass_sso.adapter.EntraAdapter"
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
    # Offered on the Sign-on URL's email page when no connection has the address's domain.
    PASSWORD_LOGIN_URL: str = ""
    NAME_ID_FORMAT: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    # Single logout: /saml2/logout/ also signs the user out of Entra when the session
    # came from an Entra sign-in. Off: local logout only.
    SINGLE_LOGOUT: bool = True

    # Fetching metadata (refresh_entra_metadata): the TCP/TLS handshake, each wait
    # for bytes, and the whole exchange are bounded separately (see metadata/fetch.py).
    METADATA_CONNECT_TIMEOUT: float = 5.0
    METADATA_READ_TIMEOUT: float = 10.0
    METADATA_TIMEOUT: float = 30.0
    METADATA_MAX_BYTES: int = 2 * 1024 * 1024
    METADATA_RELOAD_INTERVAL: int = 30
    # Metadata URLs of connections added as data must be https:// on Entra's hosts
    # (entra.METADATA_HOSTS); these open that up, e.g. for a loopback test server.
    METADATA_ALLOWED_HOSTS: tuple[str, ...] = ()
    METADATA_ALLOW_HTTP: bool = False
    # How many connections each process keeps ready (least recently used dropped first).
    CONNECTION_CACHE_SIZE: int = 500
    # This site's key pairs (PEM files of a private key and its certificate; created by
    # `manage.py entra_sp_key create`). Token encryption: every listed key is published
    # and tried (the first is the current one; two during a rollover). Signed requests:
    # the key that signs AuthnRequests and logout messages for connections that ask.
    ENCRYPTION_KEYS: tuple[str, ...] = ()
    SIGNING_KEY: str = ""

    # -- the settings-defined connection (a single-tenant site's tenant) -----
    CONNECTION: str = "default"
    DISPLAY_NAME: str = ""
    TENANT_ID: str = ""
    APP_ID: str = ""
    METADATA_URL: str = ""
    DOMAINS: tuple[str, ...] = ()
    # Optional pinning of the metadata document's own signature: a PEM certificate
    # and/or SHA-256 fingerprints of certificates allowed to sign it. When either is
    # set, unsigned metadata or metadata signed by anything else is refused.
    METADATA_SIGNING_CERTIFICATE: str = ""
    METADATA_SIGNING_FINGERPRINTS: tuple[str, ...] = ()
    # Its policy (ConnectionPolicy; docs/groups-and-policy.md). Group keys are group
    # object ids; role keys are app role values (case-sensitive).
    CREATE_USERS: bool = True
    ALLOW_GUESTS: bool = True
    ALLOW_IDP_INITIATED: bool = True
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
    RESTRICT_EMAIL_DOMAINS: bool = False
    SSO_REQUIRED: bool = False
    REQUIRE_ENCRYPTION: bool = False
    SIGN_REQUESTS: bool = False

    # Not a key: True when the local stand-in (thoropass_sso.standin) is the site's connection.
    standin_connection: bool = False

    # ---- derived values -------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.BASE_URL.rstrip("/")

    @cached_property
    def acs_url(self) -> str:
        return f"{self.base_url}{sp_path('acs')}"

    @cached_property
    def sp_metadata_url(self) -> str:
        return f"{self.base_url}{sp_path('metadata')}"

    @cached_property
    def login_url(self) -> str:
        return f"{self.base_url}{sp_path('login')}"

    @cached_property
    def logout_url(self) -> str:
        return f"{self.base_url}{sp_path('logout')}"

    @property
    def sp_entity_id(self) -> str:
        return self.SP_ENTITY_ID or self.sp_metadata_url

    @cached_property
    def sp_identity(self) -> SPIdentity:
        from .saml.sp import SPIdentity

        return SPIdentity(entity_id=self.sp_entity_id, acs_url=self.acs_url,
                          logout_url=self.logout_url, name_id_format=self.NAME_ID_FORMAT)

    @property
    def defines_connection(self) -> bool:
        """True when these settings define the connection ``CONNECTION``: they name a tenant,
        or the local stand-in stands in for one (docs/testing.md)."""
        return bool(self.METADATA_URL or self.TENANT_ID or self.standin_connection)

    @property
    def metadata_url(self) -> str:
        """The settings-defined connection's metadata URL ('' when the settings define none)."""
        if self.METADATA_URL:
            return self.METADATA_URL
        if self.TENANT_ID:
            return entra.metadata_url_for(self.TENANT_ID, self.APP_ID)
        if self.standin_connection:
            from .standin.urls import metadata_url

            return metadata_url(self.base_url, self.CONNECTION)
        return ""

    @cached_property
    def encryption_keys(self) -> tuple:
        """The SP encryption key pairs (thoropass_sso.keys.SPKeyPair), read once."""
        from .keys import load_key_file

        return tuple(load_key_file(path, "ENCRYPTION_KEYS") for path in self.ENCRYPTION_KEYS)

    @cached_property
    def signing_key(self):
        """The SP signing key pair, or None."""
        from .keys import load_key_file

        return load_key_file(self.SIGNING_KEY, "SIGNING_KEY") if self.SIGNING_KEY else None

    @cached_property
    def settings_domains(self) -> tuple[str, ...]:
        """The settings-defined connection's email domains, normalized."""
        from .domains import normalize_claimable_domain

        domains = self.DOMAINS
        if not domains and self.standin_connection:
            from .standin.conf import tenants

            domains = tuple(t.domain for t in tenants()[:1] if t.domain)
        return tuple(normalize_claimable_domain(d) for d in domains)

    @property
    def tenant_id(self) -> str:
        """The configured tenant, or the one named in the metadata URL; may be ''."""
        if self.TENANT_ID:
            return self.TENANT_ID.lower()
        return entra.tenant_in_metadata_url(self.METADATA_URL)

    @cached_property
    def connection_policy(self) -> ConnectionPolicy:
        """The settings-defined connection's policy."""
        values: dict[str, Any] = {name: getattr(self, key) for key, name in POLICY_KEYS.items()}
        values["landing_path"] = self.LOGIN_REDIRECT_URL
        return ConnectionPolicy.from_values(values, key_of=_policy_key)

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
        values: dict[str, Any] = {}
        for name, value in raw.items():
            default = getattr(defaults, name)
            try:
                if isinstance(default, FrozenMap):
                    value = FrozenMap.parse(f"{SETTING_NAME}['{name}']", value)
            except PolicyError as exc:
                raise ConfigurationError(str(exc)) from None
            # Lists are accepted where a tuple is the default (settings files use both).
            if isinstance(default, tuple) and isinstance(value, list):
                value = tuple(value)
            expected = type(default)
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                expected_name = "dict" if expected is FrozenMap else expected.__name__
                raise ConfigurationError(
                    f"{SETTING_NAME}['{name}'] must be a {expected_name}, "
                    f"not {type(value).__name__}."
                )
            values[name] = value
        from .standin.conf import provides_connection

        obj = cls(**values, standin_connection=provides_connection(raw))
        obj._validate()
        return obj

    def _validate_placeholders(self) -> None:
        from .metadata.urls import looks_like_placeholder

        for name in _PLACEHOLDER_KEYS:
            value = getattr(self, name)
            if value and looks_like_placeholder(value):
                raise ConfigurationError(
                    f"{SETTING_NAME}['{name}'] still holds a placeholder: {value!r}.",
                    check_id="E010",
                    hint="Replace it with your own value: the tenant id and App Federation "
                         "Metadata Url are on the Entra admin center (docs/entra-portal.md).")

    def _validate(self) -> None:
        if not self.BASE_URL:
            raise ConfigurationError(
                f"{SETTING_NAME}['BASE_URL'] is required: the site's public URL, "
                "for example 'https://app.example.com'."
            )
        self._validate_placeholders()
        parts = urlsplit(self.BASE_URL)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"{SETTING_NAME}['BASE_URL'] must be an absolute http(s) URL, "
                f"got {self.BASE_URL!r}."
            )
        if parts.path.strip("/") or parts.query or parts.fragment:
            # The paths come from the URLconf (reverse()); a path here is doubled into every
            # URL -- http://host/saml2/ + /saml2/acs/ -- and Entra's responses meet a 404.
            origin = f"{parts.scheme}://{parts.netloc}"
            raise ConfigurationError(
                f"{SETTING_NAME}['BASE_URL'] must be the site's scheme and host only, got "
                f"{self.BASE_URL!r}.",
                check_id="E009",
                hint=f"Use {origin!r}: the /saml2/... paths come from your URLconf. A site served "
                     "under a sub-path sets FORCE_SCRIPT_NAME instead.")
        if self.APP_ID and not (self.TENANT_ID or self.METADATA_URL):
            raise ConfigurationError(
                f"{SETTING_NAME}['TENANT_ID'] is required with APP_ID (or set "
                f"{SETTING_NAME}['METADATA_URL'] to the App Federation Metadata URL)."
            )
        if self.TENANT_ID and not self.APP_ID and not self.METADATA_URL:
            raise ConfigurationError(
                f"{SETTING_NAME}['APP_ID'] is required with TENANT_ID (or set "
                f"{SETTING_NAME}['METADATA_URL'] to the App Federation Metadata URL)."
            )
        if self.TENANT_ID and not entra.TENANT_ID_RE.match(self.TENANT_ID):
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
                     "MAX_RESPONSE_BYTES", "REQUEST_TIMEOUT", "METADATA_MAX_BYTES",
                     "METADATA_CONNECT_TIMEOUT", "METADATA_READ_TIMEOUT", "METADATA_TIMEOUT",
                     "CONNECTION_CACHE_SIZE"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{SETTING_NAME}['{name}'] must be positive.")
        if self.METADATA_RELOAD_INTERVAL < 0:
            raise ConfigurationError(f"{SETTING_NAME}['METADATA_RELOAD_INTERVAL'] must not be negative.")
        if self.SIGNATURE_BACKEND not in SIGNATURE_BACKENDS:
            raise ConfigurationError(
                f"{SETTING_NAME}['SIGNATURE_BACKEND'] must be one of "
                f"{', '.join(repr(b) for b in SIGNATURE_BACKENDS)}, got {self.SIGNATURE_BACKEND!r}."
            )
        if self.METADATA_SIGNING_CERTIFICATE or self.METADATA_SIGNING_FINGERPRINTS:
            from .metadata.signature import MetadataSignaturePins

            MetadataSignaturePins.from_settings(self)  # raises ConfigurationError naming the key
        try:
            self.connection_policy  # noqa: B018 - validates the policy keys
        except PolicyError as exc:
            raise ConfigurationError(str(exc)) from None
        for name in ("LOGIN_REDIRECT_URL", "LOGOUT_REDIRECT_URL", "PASSWORD_LOGIN_URL"):
            value = getattr(self, name)
            if value and (not value.startswith("/") or value.startswith("//")):
                raise ConfigurationError(
                    f"{SETTING_NAME}['{name}'] must be a path on this site, such as '/'."
                )
        from .domains import DomainError, normalize_claimable_domain

        for domain in self.DOMAINS:
            try:
                normalize_claimable_domain(domain)
            except DomainError as exc:
                raise ConfigurationError(f"{SETTING_NAME}['DOMAINS']: {exc}.") from None


_PLACEHOLDER_KEYS = ("BASE_URL", "METADATA_URL", "TENANT_ID", "APP_ID", "SP_ENTITY_ID")


def _policy_key(field_name: str) -> str:
    key = "LOGIN_REDIRECT_URL" if field_name == "landing_path" else field_name.upper()
    return f"{SETTING_NAME}['{key}']"


def sp_path(name: str) -> str:
    """The path of one of thoropass_sso's views, wherever the site mounted its URLs."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(f"thoropass_sso:{name}")
    except NoReverseMatch:
        raise ConfigurationError(
            "thoropass_sso's URLs are not in the URLconf: add "
            "path('saml2/', include('thoropass_sso.urls')) to your urls.py."
        ) from None


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
    if setting in (SETTING_NAME, "CACHES", "AUTHENTICATION_BACKENDS", "ROOT_URLCONF",
                   "FORCE_SCRIPT_NAME"):
        get_settings.cache_clear()
        from .registry import registry

        registry.forget()
