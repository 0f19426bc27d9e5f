"""Operating connections: add, refresh, pause, resume, remove -- the same for the admin and commands.

Each operation validates first and changes nothing on failure, saves the row
(which changes its ``revision``, so every worker sees the change within
``METADATA_RELOAD_INTERVAL``; registry.py) and writes one
:class:`~thoropass_sso.models.ConnectionEvent` for the customer's audit trail.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from . import entra
from .conf import SSOSettings, get_settings
from .domains import DomainError, normalize_claimable_domain
from .exceptions import OperationRefused, ThoropassSSOError
from .metadata.fetch import fetch_metadata
from .metadata.parse import IdpMetadata, parse_metadata
from .metadata.signature import MetadataSignaturePins
from .metadata.store import StoreOutcome, record_refresh_error, store_metadata
from .metadata.urls import check_metadata_url
from .models import Connection, ConnectionDomain, ConnectionEvent

logger = logging.getLogger("thoropass_sso")


@dataclass(frozen=True)
class Actor:
    """Who did something, as the audit trail shows it."""

    label: str

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(f"user:{user.pk} {user.get_username()}"[:200])

    @classmethod
    def for_command(cls) -> Actor:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "?"
        return cls(f"command:{name}"[:200])


def record(connection: Connection, action: str, actor: Actor, detail: str = "") -> None:
    ConnectionEvent.objects.create(connection=connection, connection_name=connection.name,
                                   action=action, actor=actor.label, detail=detail[:500])
    logger.info("connection %s: %s by %s%s", connection.name, action, actor.label,
                f" ({detail})" if detail else "")


def is_settings_connection(name: str, conf: SSOSettings | None = None) -> bool:
    conf = conf or get_settings()
    return conf.defines_connection and name == conf.CONNECTION


# -- metadata ----------------------------------------------------------------------------
def fetch_and_parse(url: str, *, conf: SSOSettings, settings_connection: bool):
    """Fetch ``url`` and validate it as Entra metadata: (bytes, IdpMetadata)."""
    if not settings_connection:
        url = check_metadata_url(url, conf)
    data = fetch_metadata(url, timeout=conf.METADATA_TIMEOUT,
                          connect_timeout=conf.METADATA_CONNECT_TIMEOUT,
                          read_timeout=conf.METADATA_READ_TIMEOUT,
                          max_bytes=conf.METADATA_MAX_BYTES)
    expected = conf.tenant_id if settings_connection else entra.tenant_in_metadata_url(url)
    pins = MetadataSignaturePins.from_settings(conf) if settings_connection else None
    return data, parse_metadata(data, expected_tenant_id=expected, signature_pins=pins,
                                expected_from="THOROPASS_SSO" if settings_connection else "the URL")


def refresh(name: str, *, url: str | None = None, repin: bool = False,
            actor: Actor | None = None) -> StoreOutcome:
    """Fetch, validate and store one connection's metadata.

    Raises MetadataFetchError / MetadataInvalid (TenantChanged, MetadataURLRefused)
    and records the failure on the row; the stored copy stays as it was.
    """
    conf = get_settings()
    settings_connection = is_settings_connection(name, conf)
    row = Connection.objects.filter(name=name).first()
    if url is None:
        url = conf.metadata_url if settings_connection else (row.metadata_url if row else "")
    if not url:
        raise OperationRefused(f"connection {name!r} has no metadata URL")
    try:
        data, metadata = fetch_and_parse(url, conf=conf, settings_connection=settings_connection)
        outcome = store_metadata(name, url, data, metadata, repin=repin)
    except ThoropassSSOError as exc:
        if row is not None:
            record_refresh_error(name, str(exc))
        raise
    if outcome.changed or repin:
        connection = Connection.objects.get(name=name)
        what = "stored" if outcome.first else ("re-pinned" if repin else "metadata changed")
        record(connection, what, actor or Actor.for_command(), f"tenant {metadata.tenant_id}")
    return outcome


# -- the connection itself ----------------------------------------------------------------
def add(name: str, metadata_url: str, *, domains: Iterable[str] = (), display_name: str = "",
        status: str = Connection.Status.ACTIVE, actor: Actor, policy: dict | None = None,
        ) -> tuple[Connection, StoreOutcome]:
    """Create a connection from a pasted metadata URL: fetched, validated and stored, or nothing."""
    conf = get_settings()
    if Connection.objects.filter(name=name).exists():
        raise OperationRefused(f"a connection named {name!r} already exists")
    normalized = claimable_domains(domains, conf=conf)
    data, metadata = fetch_and_parse(metadata_url, conf=conf, settings_connection=False)
    return add_fetched(name, metadata_url, data, metadata, domains=normalized,
                       display_name=display_name, status=status, actor=actor, policy=policy)


def add_fetched(name: str, metadata_url: str, data: bytes, metadata: IdpMetadata, *,
                domains: Iterable[str], display_name: str, status: str, actor: Actor,
                policy: dict | None = None) -> tuple[Connection, StoreOutcome]:
    """Create a connection from metadata already fetched and validated (:func:`fetch_and_parse`)."""
    if Connection.objects.filter(name=name).exists():
        raise OperationRefused(f"a connection named {name!r} already exists")
    if status not in Connection.Status.values:
        raise OperationRefused(f"unknown status {status!r}")
    other = Connection.objects.filter(tenant_id=metadata.tenant_id).first()
    if other is not None:
        raise OperationRefused(f"tenant {metadata.tenant_id} already has a connection, "
                               f"{other.name!r}: one connection per tenant")
    domains = list(domains)
    try:
        with transaction.atomic():
            outcome = store_metadata(name, metadata_url.strip(), data, metadata, create={
                "display_name": display_name, "status": status, **(policy or {})})
            connection = Connection.objects.get(name=name)
            for domain in domains:
                ConnectionDomain.objects.create(connection=connection, domain=domain)
            record(connection, "added", actor,
                   f"status {status}, tenant {metadata.tenant_id}"
                   + (f", domains {', '.join(domains)}" if domains else ""))
    except IntegrityError:
        # Another process added the same name, tenant or domain at the same moment.
        raise OperationRefused(f"connection {name!r}, its tenant or one of its domains was "
                               "taken at the same moment; try again") from None
    return connection, outcome


def claimable_domains(domains: Iterable[str], *, conf: SSOSettings,
                      connection: Connection | None = None) -> list[str]:
    """``domains`` normalized, each free to claim for ``connection``; else OperationRefused."""
    settings_domains = set(conf.settings_domains) if conf.defines_connection else set()
    result: list[str] = []
    for value in domains:
        try:
            domain = normalize_claimable_domain(value)
        except DomainError as exc:
            raise OperationRefused(str(exc)) from None
        owner = ConnectionDomain.objects.filter(domain=domain).select_related("connection").first()
        if owner is not None and (connection is None or owner.connection_id != connection.pk):
            raise OperationRefused(f"{domain} already belongs to connection {owner.connection.name!r}")
        if domain in settings_domains and (connection is None
                                           or not is_settings_connection(connection.name, conf)):
            raise OperationRefused(f"{domain} belongs to the settings-defined connection "
                                   f"{conf.CONNECTION!r} (THOROPASS_SSO['DOMAINS'])")
        if domain not in result:
            result.append(domain)
    return result


def add_domains(connection: Connection, domains: Iterable[str], *, actor: Actor) -> list[str]:
    normalized = claimable_domains(domains, conf=get_settings(), connection=connection)
    added = [d for d in normalized
             if not ConnectionDomain.objects.filter(connection=connection, domain=d).exists()]
    for domain in added:
        ConnectionDomain.objects.create(connection=connection, domain=domain)
    if added:
        record(connection, "domains added", actor, ", ".join(added))
    return added


def remove_domains(connection: Connection, domains: Iterable[str], *, actor: Actor) -> list[str]:
    wanted = {d.strip().lower().rstrip(".") for d in domains}
    removed = sorted(ConnectionDomain.objects.filter(connection=connection, domain__in=wanted)
                     .values_list("domain", flat=True))
    if removed:
        ConnectionDomain.objects.filter(connection=connection, domain__in=removed).delete()
        record(connection, "domains removed", actor, ", ".join(removed))
    return removed


def set_status(connection: Connection, status: str, *, actor: Actor) -> bool:
    """Activate, disable or re-enable; returns False when it already had that status."""
    if status not in Connection.Status.values:
        raise OperationRefused(f"unknown status {status!r}")
    if connection.status == status:
        return False
    if status == Connection.Status.ACTIVE and not connection.has_metadata:
        raise OperationRefused(f"connection {connection.name!r} has no metadata yet: refresh it first")
    previous = connection.status
    connection.status = status
    connection.save(update_fields=["status"])
    action = {Connection.Status.ACTIVE: "activated" if previous == Connection.Status.DRAFT
              else "enabled", Connection.Status.DISABLED: "disabled",
              Connection.Status.DRAFT: "made a draft"}[status]
    record(connection, action, actor)
    return True


def remove(connection: Connection, *, actor: Actor) -> None:
    """Delete a connection that nobody ever signed in through; refused otherwise."""
    users = connection.identities.count()
    if users:
        raise OperationRefused(
            f"connection {connection.name!r} has {users} user{'s' if users != 1 else ''} who signed "
            f"in through it: disable it instead (entra_connection disable {connection.name}); "
            "users and their identities are never deleted with a connection")
    name = connection.name
    record(connection, "removed", actor)
    connection.delete()
    logger.info("connection %s removed", name)
