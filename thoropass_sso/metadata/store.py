"""Storing the last good metadata of a connection, atomically, in the database.

The database is what every worker on every host already shares, so a refresh
on one host reaches all of them (see :mod:`thoropass_sso.runtime`). Only
documents that passed :func:`~thoropass_sso.metadata.parse.parse_metadata`
reach :func:`store_metadata`; a failed fetch or an invalid document never
touches the row, so the last good copy stays in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ..exceptions import MetadataInvalid, TenantChanged
from ..models import Connection, db_datetime
from .parse import IdpMetadata, SigningCertificate, normalize_document, parse_stored_metadata


@dataclass(frozen=True)
class StoreOutcome:
    """What a refresh did to the stored copy."""

    changed: bool
    first: bool
    added: tuple[SigningCertificate, ...]
    removed: tuple[SigningCertificate, ...]
    metadata: IdpMetadata


def store_metadata(connection_name: str, url: str, data: bytes, metadata: IdpMetadata, *,
                   repin: bool = False, create: dict | None = None) -> StoreOutcome:
    """Replace the stored document of ``connection_name`` with ``data`` (already validated).

    One transaction with the row locked: two hosts refreshing at the same moment
    serialize, and a crash half-way leaves the previous copy intact. The tenant
    is pinned when metadata is first stored: a document for another tenant is
    refused (TenantChanged) unless ``repin`` says the operator means it -- a
    metadata URL that names no tenant (a proxy, a domain-style URL) must never
    quietly hand a customer's connection to someone else's tenant.
    ``create``: field values for a connection that does not exist yet.
    """
    now = timezone.now()
    with transaction.atomic():
        connection, _ = Connection.objects.select_for_update().get_or_create(
            name=connection_name, defaults=create or {})
        if connection.tenant_id and connection.tenant_id != metadata.tenant_id and not repin:
            raise TenantChanged(connection.tenant_id, metadata.tenant_id)
        previous: IdpMetadata | None = None
        if connection.metadata_xml:
            try:
                previous = parse_stored_metadata(connection.metadata_xml)
            except MetadataInvalid:
                previous = None  # unreadable stored copy: replace it, report as first
        first = previous is None
        changed = first or previous.content_key != metadata.content_key
        old = {c.sha256_fingerprint: c for c in previous.signing_certificates} if previous else {}
        new = {c.sha256_fingerprint: c for c in metadata.signing_certificates}
        changed = changed or connection.tenant_id != metadata.tenant_id
        connection.metadata_url = url
        connection.metadata_checked_at = now
        connection.last_error = ""
        connection.last_error_at = None
        if changed:
            connection.metadata_xml = normalize_document(data).decode("utf-8")
            connection.metadata_sha256 = metadata.sha256
            connection.tenant_id = metadata.tenant_id
            connection.idp_entity_id = metadata.entity_id
            connection.metadata_changed_at = now
            connection.certificates_expire_at = db_datetime(metadata.signing_certificates[0].not_after)
        connection.save()
    return StoreOutcome(
        changed=changed,
        first=first,
        added=tuple(c for f, c in new.items() if f not in old),
        removed=tuple(c for f, c in old.items() if f not in new),
        metadata=metadata,
    )


def record_refresh_error(connection_name: str, message: str) -> None:
    """Note a failed refresh on the connection (shown in the admin); the stored copy stays."""
    Connection.objects.filter(name=connection_name).update(
        last_error=message[:2000], last_error_at=timezone.now())
