"""The stand-in's tenants: made once, kept in the database, turned into connections.

``migrate`` (post_migrate) creates the configured tenants -- a signing key and
the demo users with their object ids -- and a connection for every tenant but
the first (the first is the settings-defined connection, stored by
``refresh_entra_metadata`` like any tenant's). Each tenant's metadata is served
at ``/entra-standin/metadata/<name>.xml``; :class:`StandInMetadata` answers for
that URL in-process, so the refresh works before the server runs.
"""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from ..conf import get_settings
from ..testing.certificates import SigningKeyPair, make_signing_key_pair
from ..testing.entra import EntraStandIn, EntraUser
from . import conf as standin_conf
from .models import StandInTenant, StandInUser

logger = logging.getLogger("thoropass_sso")


def ensure_tenants() -> list[StandInTenant]:
    """The configured tenants, created (key, users) where missing; existing ones are kept as they are."""
    made: list[StandInTenant] = []
    for position, spec in enumerate(standin_conf.tenants()):
        with transaction.atomic():
            tenant = StandInTenant.objects.filter(name=spec.name).first()
            if tenant is None:
                pair = make_signing_key_pair()
                tenant = StandInTenant.objects.create(
                    name=spec.name, display_name=spec.display_name, domain=spec.domain,
                    tenant_id=(spec.tenant_id or str(uuid.uuid4())).lower(),
                    app_id=spec.app_id or str(uuid.uuid4()),
                    key_pem=pair.key_pem.decode(), cert_pem=pair.cert_pem.decode(),
                    position=position)
                logger.info("stand-in tenant %s created (tenant %s)", spec.name, tenant.tenant_id)
            for index, user in enumerate(spec.users):
                StandInUser.objects.get_or_create(tenant=tenant, upn=user.upn, defaults={
                    "given_name": user.given_name, "surname": user.surname, "email": user.email,
                    # Generated once, then kept: the same person is the same Django user
                    # after every restart.
                    "object_id": (user.object_id or str(uuid.uuid4())).lower(),
                    "groups": list(user.groups), "roles": list(user.roles),
                    "guest_identity_provider": user.guest_identity_provider,
                    "position": index,
                })
        made.append(tenant)
    return made


def entra_users(tenant: StandInTenant) -> list[EntraUser]:
    return [EntraUser(upn=u.upn, given_name=u.given_name, surname=u.surname, email=u.email,
                      object_id=u.object_id, groups=tuple(u.groups), roles=tuple(u.roles),
                      guest_identity_provider=u.guest_identity_provider)
            for u in tenant.users.all()]


def standin_for(tenant: StandInTenant) -> EntraStandIn:
    """The signing stand-in for ``tenant`` (built once per process and key)."""
    return _standin(tenant.tenant_id, tenant.app_id, tenant.key_pem, tenant.cert_pem,
                    idp_base_url())


@lru_cache(maxsize=32)
def _standin(tenant_id: str, app_id: str, key_pem: str, cert_pem: str, base_url: str) -> EntraStandIn:
    return EntraStandIn(tenant_id=tenant_id, app_id=app_id, base_url=base_url,
                        signing_keys=[SigningKeyPair(key_pem.encode(), cert_pem.encode())])


def idp_base_url() -> str:
    """Where the stand-in's pages are (its "login.microsoftonline.com")."""
    from django.urls import reverse

    site = get_settings().base_url
    root = reverse("thoropass_sso_standin:root").rstrip("/")
    return standin_conf.idp_base_url(site) or f"{site}{root}"


def metadata_document(tenant: StandInTenant) -> bytes:
    return standin_for(tenant).metadata_xml()


class StandInMetadata:
    """Answers ``refresh_entra_metadata`` for the stand-in's metadata URLs, in-process."""

    def _tenant_name(self, url: str) -> str | None:
        from django.urls import NoReverseMatch, reverse

        conf = get_settings()
        if not conf.standin_connection:
            return None
        try:
            prefix = reverse("thoropass_sso_standin:metadata", args=["x"])[: -len("x.xml")]
        except NoReverseMatch:
            return None
        parts = urlsplit(url)
        site_host = urlsplit(conf.base_url).hostname
        if parts.hostname not in {site_host, "localhost", "127.0.0.1", "::1"}:
            return None
        if not parts.path.startswith(prefix) or not parts.path.endswith(".xml"):
            return None
        return parts.path[len(prefix):-len(".xml")]

    def claims(self, url: str) -> bool:
        return self._tenant_name(url) is not None

    def document(self, url: str) -> bytes:
        tenant = StandInTenant.objects.filter(name=self._tenant_name(url)).first()
        if tenant is None:
            ensure_tenants()
            tenant = StandInTenant.objects.filter(name=self._tenant_name(url)).first()
        if tenant is None:
            from ..exceptions import MetadataFetchError

            raise MetadataFetchError(f"the stand-in has no tenant at {urlsplit(url).path}")
        return metadata_document(tenant)


def ensure_connections() -> None:
    """A connection for each configured tenant after the first (which is the settings')."""
    from ..connections import Actor, claimable_domains, record
    from ..metadata.parse import parse_metadata
    from ..metadata.store import store_metadata
    from ..models import Connection, ConnectionDomain
    from .urls import metadata_url

    conf = get_settings()
    for tenant in ensure_tenants()[1:]:
        if Connection.objects.filter(name=tenant.name).exists():
            continue
        document = metadata_document(tenant)
        url = metadata_url(conf.base_url, tenant.name)
        with transaction.atomic():
            store_metadata(tenant.name, url, document, parse_metadata(document), create={
                "display_name": tenant.display_name, "status": Connection.Status.ACTIVE})
            connection = Connection.objects.get(name=tenant.name)
            if tenant.domain:
                for domain in claimable_domains([tenant.domain], conf=conf, connection=connection):
                    ConnectionDomain.objects.create(connection=connection, domain=domain)
            record(connection, "added", Actor("stand-in"), f"stand-in tenant {tenant.tenant_id}")


def prepare_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: make the stand-in's tenants and their connections, when it is in use."""
    from django.db import DEFAULT_DB_ALIAS

    if using != DEFAULT_DB_ALIAS:
        return
    try:
        conf = get_settings()
    except Exception:  # noqa: BLE001 - a broken configuration is check E001's to report
        return
    if not conf.standin_connection:
        return
    ensure_connections()
