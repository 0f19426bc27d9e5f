"""One connection, ready to verify sign-ins: built from its row (and the settings).

Building costs milliseconds (parsing metadata, loading certificates into
python-xmlsec keys, or writing them to files for the ``xmlsec1`` fallback),
so the registry (registry.py) builds each connection once per metadata version
and keeps it; nothing here caches.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import entra
from .conf import SSOSettings
from .exceptions import ConfigurationError
from .metadata.parse import IdpMetadata, parse_stored_metadata
from .models import Connection
from .policy import ConnectionPolicy
from .saml.redirect_binding import load_public_keys
from .saml.response import IdpTrust
from .saml.signature import InProcessBackend, SignatureBackend


@dataclass(frozen=True)
class ConnectionConfig:
    """What the adapter, the signals and the views see of one connection.

    ``from_settings`` is True for the connection a single-tenant site defines in
    ``THOROPASS_SSO`` (its policy then comes from the settings, not the row).
    """

    id: int
    name: str
    display_name: str
    status: str
    tenant_id: str
    policy: ConnectionPolicy
    domains: tuple[str, ...] = ()
    from_settings: bool = False

    @property
    def issuer(self) -> str:
        return entra.issuer_for(self.tenant_id)

    @property
    def is_active(self) -> bool:
        return self.status == Connection.Status.ACTIVE

    @property
    def is_disabled(self) -> bool:
        return self.status == Connection.Status.DISABLED

    @property
    def is_draft(self) -> bool:
        return self.status == Connection.Status.DRAFT

    @property
    def label(self) -> str:
        return self.display_name or self.name


@dataclass(frozen=True)
class ConnectionRuntime:
    config: ConnectionConfig
    metadata: IdpMetadata
    trust: IdpTrust
    revision: str


def config_of(row: Connection, conf: SSOSettings, domains: tuple[str, ...]) -> ConnectionConfig:
    from_settings = conf.defines_connection and row.name == conf.CONNECTION
    if from_settings:
        policy = conf.connection_policy
        domains = conf.settings_domains
    else:
        policy = ConnectionPolicy.from_row(row)
    display_name = row.display_name or (conf.DISPLAY_NAME if from_settings else "")
    return ConnectionConfig(
        id=row.pk, name=row.name, display_name=display_name, status=row.status,
        tenant_id=row.tenant_id, policy=policy, domains=domains, from_settings=from_settings,
    )


def build(row: Connection, conf: SSOSettings, domains: tuple[str, ...],
          previous: ConnectionRuntime | None = None) -> ConnectionRuntime:
    """The runtime of ``row``; reuses ``previous``'s keys when its metadata is unchanged."""
    config = config_of(row, conf, domains)
    if previous is not None and previous.metadata.sha256 == row.metadata_sha256:
        return ConnectionRuntime(config=config, metadata=previous.metadata, trust=previous.trust,
                                 revision=row.revision)
    metadata = parse_stored_metadata(row.metadata_xml)
    if metadata.tenant_id != row.tenant_id:
        raise ConfigurationError(
            f"The stored metadata of connection {row.name!r} is for tenant {metadata.tenant_id} "
            f"but the connection is pinned to tenant {row.tenant_id or '(none)'}: run "
            f"'manage.py refresh_entra_metadata --connection {row.name}'."
        )
    if config.from_settings and conf.tenant_id and conf.tenant_id != metadata.tenant_id:
        raise ConfigurationError(
            f"The stored metadata is for tenant {metadata.tenant_id} but THOROPASS_SSO names tenant "
            f"{conf.tenant_id}: run 'manage.py refresh_entra_metadata'."
        )
    pems = [c.pem for c in metadata.signing_certificates]
    trust = IdpTrust(
        issuer=entra.issuer_for(metadata.tenant_id),
        tenant_id=metadata.tenant_id,
        signature_backend=signature_backend(conf.SIGNATURE_BACKEND, pems),
        public_keys=load_public_keys(pems),  # what logout messages are checked with
    )
    return ConnectionRuntime(config=config, metadata=metadata, trust=trust, revision=row.revision)


def signature_backend(name: str, pems: list[bytes]) -> SignatureBackend:
    """The one place THOROPASS_SSO['SIGNATURE_BACKEND'] is acted on: once per connection
    build for sign-in, and for a pinned metadata document's own signature.

    ``xmlsec1`` writes the trusted certificates to files here, not per request;
    without the program it raises ConfigurationError (a 503 page, and check E006).
    The default imports python-xmlsec here, not before: where it does not import,
    that is a ConfigurationError too (check E007), and ``xmlsec1`` works without it.
    """
    if name == "xmlsec1":
        from .saml.xmlsec1 import Xmlsec1Backend

        return Xmlsec1Backend(pems)
    return InProcessBackend.from_certificates(pems)


def signing_key_for(config: ConnectionConfig, conf: SSOSettings):
    """The key that signs requests to ``config``'s tenant, or None when it wants none."""
    if not config.policy.sign_requests:
        return None
    if conf.signing_key is None:
        raise ConfigurationError(
            f"Connection {config.name!r} signs its requests, but THOROPASS_SSO['SIGNING_KEY'] is "
            "not set: create one with 'python manage.py entra_sp_key create PATH'.")
    return conf.signing_key


def forget_runtime() -> None:
    """Drop every cached connection (kept for tests and sites that called it)."""
    from .registry import registry

    registry.forget()


def get_runtime(name: str | None = None) -> ConnectionRuntime:
    """The runtime of connection ``name`` (default: the settings-defined one)."""
    from .registry import registry

    return registry.for_name(name)
