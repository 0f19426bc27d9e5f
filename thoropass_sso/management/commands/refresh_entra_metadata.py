"""Fetch, validate and store the tenant's App Federation Metadata.

Safe from cron on every host: a failed or invalid fetch never replaces the
stored copy, the outcome is one line, and the exit status tells monitoring
what happened (0 stored or unchanged, 3 could not fetch, 4 fetched but invalid,
5 --check found a problem).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from ...conf import get_settings
from ...exceptions import MetadataFetchError, MetadataInvalid
from ...metadata.fetch import fetch_metadata
from ...metadata.parse import IdpMetadata, SigningCertificate, parse_metadata
from ...metadata.store import StoreOutcome, store_metadata
from ...models import Connection

EXIT_FETCH_FAILED = 3
EXIT_INVALID = 4
EXIT_CHECK_FAILED = 5


def describe(cert: SigningCertificate) -> str:
    return f"{cert.short_fingerprint} (expires {cert.not_after:%Y-%m-%d})"


class Command(BaseCommand):
    help = "Fetch the Entra App Federation Metadata URL, validate it and store it for sign-in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", help="Fetch this URL instead of THOROPASS_SSO's metadata URL.")
        parser.add_argument("--check", action="store_true",
                            help="Write nothing; exit non-zero if the stored metadata needs care.")
        parser.add_argument("--expiry-days", type=int, default=30,
                            help="With --check: fail when the newest certificate expires within N days.")
        parser.add_argument("--max-age-hours", type=float, default=48.0,
                            help="With --check: fail when the stored copy was last confirmed more than M hours ago.")

    def handle(self, *args, **options) -> None:
        conf = get_settings()
        if options["check"]:
            self._check(conf.CONNECTION, options["expiry_days"], options["max_age_hours"])
            return
        url = options["url"] or conf.metadata_url
        try:
            data = fetch_metadata(url, timeout=conf.METADATA_TIMEOUT, max_bytes=conf.METADATA_MAX_BYTES)
        except MetadataFetchError as exc:
            raise CommandError(f"could not fetch Entra metadata: {exc}; the stored copy is unchanged",
                               returncode=EXIT_FETCH_FAILED) from None
        try:
            metadata = parse_metadata(data, expected_tenant_id=conf.tenant_id)
        except MetadataInvalid as exc:
            raise CommandError(f"fetched Entra metadata is invalid: {exc}; the stored copy is unchanged",
                               returncode=EXIT_INVALID) from None
        outcome = store_metadata(conf.CONNECTION, url, data, metadata)
        self.stdout.write(self._summary(conf.CONNECTION, outcome))

    def _summary(self, name: str, outcome: StoreOutcome) -> str:
        metadata: IdpMetadata = outcome.metadata
        certs = ", ".join(describe(c) for c in metadata.signing_certificates)
        if outcome.first:
            return f"stored Entra metadata for {name}: {metadata.entity_id}, signing certificates {certs}"
        if not outcome.changed:
            return f"Entra metadata for {name} unchanged: signing certificates {certs}"
        changes = [f"added {describe(c)}" for c in outcome.added]
        changes += [f"removed {describe(c)}" for c in outcome.removed]
        if not changes:
            changes = ["document changed, signing certificates unchanged"]
        return f"updated Entra metadata for {name}: {'; '.join(changes)}"

    def _check(self, name: str, expiry_days: int, max_age_hours: float) -> None:
        connection = Connection.objects.filter(name=name).first()
        if connection is None or not connection.has_metadata:
            raise CommandError(f"no Entra metadata stored for {name}: run refresh_entra_metadata",
                               returncode=EXIT_CHECK_FAILED)
        metadata = parse_metadata(connection.metadata_xml.encode())
        now = datetime.now(UTC)
        newest = metadata.signing_certificates[0]
        problems = []
        if newest.not_after - now < timedelta(days=expiry_days):
            problems.append(f"newest signing certificate {describe(newest)} expires within {expiry_days} days")
        checked = connection.metadata_checked_at
        if checked is None or now - checked > timedelta(hours=max_age_hours):
            problems.append(f"stored copy last confirmed more than {max_age_hours:g} hours ago")
        if problems:
            raise CommandError(f"Entra metadata for {name}: {'; '.join(problems)}",
                               returncode=EXIT_CHECK_FAILED)
        self.stdout.write(f"Entra metadata for {name} OK: newest signing certificate {describe(newest)}")
