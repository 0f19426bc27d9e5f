"""The per-process, ready-to-use state of a connection.

Building it (parsing metadata, loading certificates into python-xmlsec keys,
or writing them to files for the ``xmlsec1`` fallback backend) costs
milliseconds, so it is built once and reused. Freshness without restarts: at
most every ``METADATA_RELOAD_INTERVAL`` seconds a worker asks the database for
the stored document's hash (one indexed query) and rebuilds only if it changed.
The sign-in path never touches the network and never re-parses unchanged metadata.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta

from .conf import ENTRA_ISSUER, SSOSettings, get_settings
from .exceptions import ConfigurationError, MetadataNotStored
from .metadata.parse import IdpMetadata, parse_stored_metadata
from .models import Connection
from .saml.redirect_binding import load_public_keys
from .saml.response import Expectations, ResponseVerifier
from .saml.signature import InProcessBackend, SignatureBackend


@dataclass(frozen=True)
class ConnectionRuntime:
    connection_id: int
    name: str
    tenant_id: str
    metadata: IdpMetadata
    verifier: ResponseVerifier
    checked_at: float


_lock = threading.Lock()
_runtimes: dict[str, ConnectionRuntime] = {}


def forget_runtime() -> None:
    """Drop every cached runtime (settings changed, or a test wants a clean slate)."""
    with _lock:
        _runtimes.clear()


def _build(connection: Connection, conf: SSOSettings) -> ConnectionRuntime:
    metadata = parse_stored_metadata(connection.metadata_xml)
    tenant_id = metadata.tenant_id
    if conf.tenant_id and conf.tenant_id != tenant_id:
        raise ConfigurationError(
            f"The stored metadata is for tenant {tenant_id} but THOROPASS_SSO names tenant "
            f"{conf.tenant_id}: run 'manage.py refresh_entra_metadata'."
        )
    pems = [c.pem for c in metadata.signing_certificates]
    expectations = Expectations(
        issuer=ENTRA_ISSUER.format(tenant_id=tenant_id),
        tenant_id=tenant_id,
        audience=conf.sp_entity_id,
        acs_url=conf.acs_url,
        public_keys=load_public_keys(pems),  # what logout messages are checked with
        clock_skew=timedelta(seconds=conf.CLOCK_SKEW),
        max_age=timedelta(seconds=conf.MAX_RESPONSE_AGE),
        allow_sha1=conf.ALLOW_SHA1,
        max_bytes=conf.MAX_RESPONSE_BYTES,
        signature_backend=signature_backend(conf, pems),
    )
    return ConnectionRuntime(
        connection_id=connection.pk,
        name=connection.name,
        tenant_id=tenant_id,
        metadata=metadata,
        verifier=ResponseVerifier(expectations),
        checked_at=time.monotonic(),
    )


def signature_backend(conf: SSOSettings, pems: list[bytes]) -> SignatureBackend:
    """The one place THOROPASS_SSO['SIGNATURE_BACKEND'] is acted on (built once per runtime).

    ``xmlsec1`` writes the trusted certificates to files here, not per request;
    without the program it raises ConfigurationError (a 503 page, and check E006).
    The default imports python-xmlsec here, not before: where it does not import,
    that is a ConfigurationError too (check E007), and ``xmlsec1`` works without it.
    """
    if conf.SIGNATURE_BACKEND == "xmlsec1":
        from .saml.xmlsec1 import Xmlsec1Backend

        return Xmlsec1Backend(pems)
    return InProcessBackend.from_certificates(pems)


def get_runtime(name: str | None = None) -> ConnectionRuntime:
    """The runtime of connection ``name`` (default: the configured one).

    Raises MetadataNotStored when ``refresh_entra_metadata`` has not run yet.
    """
    conf = get_settings()
    name = name or conf.CONNECTION
    current = _runtimes.get(name)
    now = time.monotonic()
    if current is not None and now - current.checked_at < conf.METADATA_RELOAD_INTERVAL:
        return current
    stored = (
        Connection.objects.filter(name=name).values_list("pk", "metadata_sha256").first()
    )
    if stored is None or not stored[1]:
        raise MetadataNotStored(
            f"No Entra metadata is stored for connection {name!r}: "
            "run 'python manage.py refresh_entra_metadata'."
        )
    if current is not None and current.metadata.sha256 == stored[1]:
        refreshed = replace(current, checked_at=now)
    else:
        refreshed = _build(Connection.objects.get(pk=stored[0]), conf)
    with _lock:
        _runtimes[name] = refreshed
    return refreshed
