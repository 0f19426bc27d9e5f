"""Fetch, validate and store the tenant's App Federation Metadata.

Safe from cron on every host: a failed or invalid fetch never replaces the
stored copy, the outcome is one line, and the exit status tells monitoring
what happened:

    0  stored, updated or unchanged
    3  could not fetch (network, TLS, HTTP status, timeout, size limit)
    4  fetched but invalid (not metadata, wrong tenant, no usable certificate,
       signature not verified by the pinned certificate)
    5  --check found a problem (or nothing is stored)

See docs/metadata.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...conf import SSOSettings, get_settings
from ...exceptions import MetadataFetchError, MetadataInvalid
from ...metadata.fetch import fetch_metadata
from ...metadata.parse import SigningCertificate, parse_metadata, parse_stored_metadata
from ...metadata.signature import MetadataSignaturePins
from ...metadata.store import StoreOutcome, store_metadata
from ...models import Connection

EXIT_OK = 0
EXIT_FETCH_FAILED = 3
EXIT_INVALID = 4
EXIT_CHECK_FAILED = 5

# A successful refresh still mentions a certificate this close to expiry, so
# the cron log shows the problem before --check monitoring pages someone.
EXPIRY_NOTICE_DAYS = 30


def describe(cert: SigningCertificate) -> str:
    """'AB:CD:…' (first 8 bytes of the SHA-256 fingerprint) and the expiry date."""
    return f"{cert.short_fingerprint} (expires {cert.not_after:%Y-%m-%d})"


def _kept(connection_name: str) -> str:
    """How the failure line describes what stays in place."""
    connection = Connection.objects.filter(name=connection_name).first()
    if connection is None or not connection.has_metadata:
        return "nothing is stored yet"
    changed = connection.metadata_changed_at
    when = f" from {changed:%Y-%m-%d %H:%M} UTC" if changed else ""
    return f"kept the stored copy{when}"


class Command(BaseCommand):
    help = (
        "Fetch the Entra App Federation Metadata URL, validate it and store it for sign-in. "
        "Exit 0 stored/unchanged, 3 could not fetch, 4 fetched but invalid, 5 --check failed."
    )
    # This command is how a site repairs a failing check (no metadata, expired
    # certificate), so it must run whatever the system checks say.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", help="Fetch this URL instead of THOROPASS_SSO's metadata URL.")
        parser.add_argument("--check", action="store_true",
                            help="Fetch nothing and write nothing; exit 5 if the stored metadata needs care.")
        parser.add_argument("--expiry-days", type=int, default=30, metavar="N",
                            help="With --check: fail when the newest signing certificate expires "
                                 "within N days (default 30).")
        parser.add_argument("--max-age-hours", type=float, default=48.0, metavar="M",
                            help="With --check: fail when the stored copy was last confirmed by a "
                                 "refresh more than M hours ago (default 48).")

    def handle(self, *args: object, **options: object) -> None:
        conf = get_settings()
        if options["check"]:
            self._check(conf.CONNECTION, int(options["expiry_days"]), float(options["max_age_hours"]))
            return
        url = str(options["url"] or conf.metadata_url)
        name = conf.CONNECTION
        try:
            data = fetch_metadata(
                url,
                timeout=conf.METADATA_TIMEOUT,
                connect_timeout=conf.METADATA_CONNECT_TIMEOUT,
                read_timeout=conf.METADATA_READ_TIMEOUT,
                max_bytes=conf.METADATA_MAX_BYTES,
            )
        except MetadataFetchError as exc:
            raise CommandError(f"could not fetch Entra metadata for {name}: {exc}; {_kept(name)}",
                               returncode=EXIT_FETCH_FAILED) from None
        try:
            metadata = parse_metadata(data, expected_tenant_id=conf.tenant_id,
                                      signature_pins=MetadataSignaturePins.from_settings(conf))
        except MetadataInvalid as exc:
            raise CommandError(f"fetched Entra metadata for {name} is invalid: {exc}; {_kept(name)}",
                               returncode=EXIT_INVALID) from None
        outcome = store_metadata(name, url, data, metadata)
        self.stdout.write(self._summary(name, outcome, conf))

    def _summary(self, name: str, outcome: StoreOutcome, conf: SSOSettings) -> str:
        metadata = outcome.metadata
        certs = ", ".join(describe(c) for c in metadata.signing_certificates)
        if outcome.first:
            line = (f"stored Entra metadata for {name}: {metadata.entity_id}, "
                    f"signing certificates {certs}")
        elif not outcome.changed:
            line = f"Entra metadata for {name} unchanged: signing certificates {certs}"
        else:
            changes = [f"added {describe(c)}" for c in outcome.added]
            changes += [f"removed {describe(c)}" for c in outcome.removed]
            if not changes:
                changes = ["endpoints changed, signing certificates unchanged"]
            line = (f"updated Entra metadata for {name}: {'; '.join(changes)}; "
                    f"now trusting {len(metadata.signing_certificates)} signing "
                    f"certificate{'s' if len(metadata.signing_certificates) != 1 else ''}")
        if metadata.signed_by:
            line += f"; metadata signature verified ({metadata.signed_by[:23]})"
        newest = metadata.signing_certificates[0]
        days_left = (newest.not_after - datetime.now(UTC)).days
        if days_left < EXPIRY_NOTICE_DAYS:
            line += (f"; WARNING: the newest signing certificate expires in {days_left} days, "
                     "create and activate a new one in Entra")
        return line

    def _check(self, name: str, expiry_days: int, max_age_hours: float) -> None:
        connection = Connection.objects.filter(name=name).first()
        if connection is None or not connection.has_metadata:
            raise CommandError(f"no Entra metadata stored for {name}: run refresh_entra_metadata",
                               returncode=EXIT_CHECK_FAILED)
        try:
            metadata = parse_stored_metadata(connection.metadata_xml)
        except MetadataInvalid as exc:
            raise CommandError(f"the stored Entra metadata for {name} is unreadable: {exc}",
                               returncode=EXIT_CHECK_FAILED) from None
        now = datetime.now(UTC)
        newest = metadata.signing_certificates[0]
        problems = []
        if newest.not_after <= now:
            problems.append(f"every signing certificate has expired (newest {describe(newest)})")
        elif newest.not_after - now < timedelta(days=expiry_days):
            problems.append(f"newest signing certificate {describe(newest)} expires within "
                            f"{expiry_days} days")
        checked = connection.metadata_checked_at
        if checked is None or now - checked > timedelta(hours=max_age_hours):
            age = f"{(now - checked).total_seconds() / 3600:.0f} hours ago" if checked else "never"
            problems.append(f"stored copy last confirmed {age} (limit {max_age_hours:g} hours): "
                            "is the refresh job running?")
        if problems:
            raise CommandError(f"Entra metadata for {name}: {'; '.join(problems)}",
                               returncode=EXIT_CHECK_FAILED)
        hours = (now - checked).total_seconds() / 3600
        self.stdout.write(f"Entra metadata for {name} OK: newest signing certificate "
                          f"{describe(newest)}, confirmed {hours:.1f} hours ago")
