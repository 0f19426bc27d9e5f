"""The one place that answers "which connection?" and keeps connections ready.

Every lookup -- by name (``?connection=``, the settings-defined connection),
by issuer (the ACS, logout messages from Entra), by email domain (the Sign-on
URL), and "how many can sign in?" (whether the Sign-on URL needs to ask) --
goes through :data:`registry`, which owns the per-process cache of built
connections and its invalidation. Nothing else caches connection state.

The cache is bounded (``CONNECTION_CACHE_SIZE``, least recently used dropped
first), so a site with ten thousand customers keeps in memory only the ones
signing in. Freshness without restarts: at most every
``METADATA_RELOAD_INTERVAL`` seconds per connection, a worker reads the row's
``revision`` (one primary-key query) and rebuilds only when it changed; any
change of a connection (status, policy, domains, metadata) changes it, so
disabling, re-enabling, editing or refreshing reaches every worker on every
host within that interval. The sign-in path never touches the network.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import clock, entra
from .conf import SSOSettings, get_settings
from .exceptions import ConnectionNotFound, MetadataNotStored, SignInRejected
from .models import Connection, ConnectionDomain
from .reasons import Reason
from .runtime import ConnectionRuntime, build
from .saml.decrypt import Decrypter
from .saml.response import Expectations, ResponseVerifier


@dataclass(frozen=True)
class SignOnChoice:
    """How many active connections can sign people in (counted up to 2), and the only one."""

    count: int
    only: str | None


@dataclass
class _Entry:
    runtime: ConnectionRuntime
    checked_at: float


class ConnectionRegistry:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._ids_by_name: dict[str, int] = {}
        self._ids_by_tenant: dict[str, int] = {}
        self._choice: tuple[float, SignOnChoice] | None = None
        self._verifier: tuple[SSOSettings, ResponseVerifier] | None = None

    # -- the site's verifier (the same for every connection) ------------------------
    def verifier(self) -> ResponseVerifier:
        conf = get_settings()
        cached = self._verifier
        if cached is not None and cached[0] is conf:
            return cached[1]
        verifier = ResponseVerifier(Expectations(
            audience=conf.sp_entity_id,
            acs_url=conf.acs_url,
            clock_skew=timedelta(seconds=conf.CLOCK_SKEW),
            max_age=timedelta(seconds=conf.MAX_RESPONSE_AGE),
            allow_sha1=conf.ALLOW_SHA1,
            max_bytes=conf.MAX_RESPONSE_BYTES,
            decrypter=Decrypter(conf.encryption_keys) if conf.ENCRYPTION_KEYS else None,
        ))
        self._verifier = (conf, verifier)
        return verifier

    # -- lookups -----------------------------------------------------------------------
    def for_name(self, name: str | None = None) -> ConnectionRuntime:
        """The connection called ``name`` (default: the settings-defined one), whatever its status.

        Raises MetadataNotStored for the settings-defined connection before its first
        refresh, ConnectionNotFound for any other name without a usable row.
        """
        conf = get_settings()
        name = name or conf.CONNECTION
        runtime = self._cached(self._ids_by_name.get(name), conf)
        if runtime is None or runtime.config.name != name:
            runtime = self._load(Connection.objects.filter(name=name), conf)
        if runtime is None:
            if name == conf.CONNECTION:
                raise MetadataNotStored(
                    f"No Entra metadata is stored for connection {name!r}: "
                    "run 'python manage.py refresh_entra_metadata'."
                )
            raise ConnectionNotFound(f"no connection {name!r} with stored metadata")
        return runtime

    def for_issuer(self, issuer: str) -> ConnectionRuntime:
        """The connection whose pinned tenant ``issuer`` names, whatever its status.

        ``issuer`` is what an unverified message claims: it only chooses whose keys
        verify the message. Unknown issuers are refused (``unknown_issuer``).
        """
        tenant_id = entra.tenant_of_issuer(issuer)
        if not tenant_id:
            raise SignInRejected(Reason.UNKNOWN_ISSUER, "issuer is not an Entra tenant issuer")
        conf = get_settings()
        runtime = self._cached(self._ids_by_tenant.get(tenant_id), conf)
        if runtime is None or runtime.config.tenant_id != tenant_id:
            runtime = self._load(Connection.objects.filter(tenant_id=tenant_id), conf)
        if runtime is None:
            self._not_ready_for(tenant_id, conf)
            raise SignInRejected(Reason.UNKNOWN_ISSUER, "no connection for the issuer's tenant")
        return runtime

    @staticmethod
    def _not_ready_for(tenant_id: str, conf: SSOSettings) -> None:
        """Raise MetadataNotStored when the site, not the sender, is what is missing.

        A newcomer who has not run refresh_entra_metadata yet, or a site with no
        connection at all, should hear "run the command" (a 503), not "your
        organization is not set up here" (meant for a stranger's tenant).
        """
        settings_tenant_unstored = conf.defines_connection and conf.tenant_id in ("", tenant_id)
        if settings_tenant_unstored or not Connection.objects.exclude(metadata_sha256="").exists():
            raise MetadataNotStored(
                "No Entra metadata is stored for this tenant's connection: run 'python manage.py "
                "refresh_entra_metadata' (or add the customer: manage.py entra_connection add)."
            )

    def for_email(self, email: str) -> ConnectionRuntime | None:
        """The connection whose email domains include ``email``'s domain, whatever its status."""
        from .domains import domain_of_email

        domain = domain_of_email(email)
        if not domain:
            return None
        conf = get_settings()
        if conf.defines_connection and domain in conf.settings_domains:
            name = conf.CONNECTION
        else:
            name = (ConnectionDomain.objects.filter(domain=domain)
                    .values_list("connection__name", flat=True).first())
            if name is None:
                return None
        try:
            return self.for_name(name)
        except (ConnectionNotFound, MetadataNotStored):
            return None

    def sign_on_choice(self) -> SignOnChoice:
        """Whether the Sign-on URL can go straight to a tenant (exactly one is active)."""
        conf = get_settings()
        now = clock.monotonic()
        cached = self._choice
        if cached is not None and now - cached[0] < conf.METADATA_RELOAD_INTERVAL:
            return cached[1]
        names = list(
            Connection.objects.filter(status=Connection.Status.ACTIVE)
            .exclude(metadata_sha256="").order_by().values_list("name", flat=True)[:2]
        )
        choice = SignOnChoice(count=len(names), only=names[0] if len(names) == 1 else None)
        self._choice = (now, choice)
        return choice

    def forget(self) -> None:
        """Drop everything cached (settings changed; tests that want a clean slate)."""
        with self._lock:
            self._entries.clear()
            self._ids_by_name.clear()
            self._ids_by_tenant.clear()
            self._choice = None
            self._verifier = None

    def drop(self, connection_id: int) -> None:
        """Forget one connection (it changed in this process; other processes re-check the row)."""
        self._drop(connection_id)
        self._choice = None

    @property
    def cached_count(self) -> int:
        return len(self._entries)

    # -- the cache -----------------------------------------------------------------------
    def _cached(self, connection_id: int | None, conf: SSOSettings) -> ConnectionRuntime | None:
        if connection_id is None:
            return None
        entry = self._entries.get(connection_id)
        if entry is None:
            return None
        now = clock.monotonic()
        with self._lock:
            if connection_id in self._entries:
                self._entries.move_to_end(connection_id)
        if now - entry.checked_at < conf.METADATA_RELOAD_INTERVAL:
            return entry.runtime
        revision = (Connection.objects.filter(pk=connection_id)
                    .values_list("revision", flat=True).first())
        if revision is None:
            self._drop(connection_id)
            return None
        if revision == entry.runtime.revision:
            entry.checked_at = now
            return entry.runtime
        return self._load(Connection.objects.filter(pk=connection_id), conf, previous=entry.runtime)

    def _load(self, rows, conf: SSOSettings, previous: ConnectionRuntime | None = None,
              ) -> ConnectionRuntime | None:
        row = rows.first()
        if row is None or not row.metadata_sha256:
            if previous is not None:
                self._drop(previous.config.id)
            return None
        if previous is None and (entry := self._entries.get(row.pk)) is not None:
            previous = entry.runtime
        domains = tuple(row.domains.order_by("domain").values_list("domain", flat=True))
        runtime = build(row, conf, domains, previous)
        with self._lock:
            self._drop(row.pk)
            self._entries[row.pk] = _Entry(runtime, clock.monotonic())
            self._ids_by_name[runtime.config.name] = row.pk
            if runtime.config.tenant_id:
                self._ids_by_tenant[runtime.config.tenant_id] = row.pk
            while len(self._entries) > conf.CONNECTION_CACHE_SIZE:
                oldest = next(iter(self._entries))
                self._drop(oldest)
        return runtime

    def _drop(self, connection_id: int) -> None:
        with self._lock:
            entry = self._entries.pop(connection_id, None)
            if entry is None:
                return
            config = entry.runtime.config
            if self._ids_by_name.get(config.name) == connection_id:
                del self._ids_by_name[config.name]
            if self._ids_by_tenant.get(config.tenant_id) == connection_id:
                del self._ids_by_tenant[config.tenant_id]


#: The process's registry.
registry = ConnectionRegistry()


@receiver([post_save, post_delete], sender=Connection, dispatch_uid="thoropass_sso.registry.connection")
def _connection_changed(sender: type, instance: Connection, **kwargs: object) -> None:
    # A change made in this process (the admin, a command, a shell) is seen at once
    # here; other processes see the new revision within METADATA_RELOAD_INTERVAL.
    registry.drop(instance.pk)


@receiver([post_save, post_delete], sender=ConnectionDomain,
          dispatch_uid="thoropass_sso.registry.domain")
def _domain_changed(sender: type, instance: ConnectionDomain, **kwargs: object) -> None:
    registry.drop(instance.connection_id)
