"""Fetch, validate and store the App Federation Metadata of every connection (or one).

Safe from cron on every host: a failed or invalid fetch never replaces the
stored copy (and never changes a connection's tenant), each connection's
outcome is one line, and the exit status tells monitoring what happened:

    0  stored, updated or unchanged (every connection)
    2  configuration or database problem (THOROPASS_SSO, migrate not run, ...)
    3  could not fetch (network, TLS, HTTP status, timeout, size limit)
    4  fetched but invalid (not metadata, wrong tenant, no usable certificate,
       signature not verified by the pinned certificate, URL not allowed)
    5  --check found a problem (or nothing is stored)

With several connections, the lines of those that failed go to stderr, a last
line counts them, and the exit status is the most serious one (4 before 3).
See docs/metadata.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from ...conf import SSOSettings, get_settings
from ...connections import Actor, is_settings_connection, refresh
from ...exceptions import (
    ConfigurationError,
    MetadataFetchError,
    MetadataInvalid,
    OperationRefused,
)
from ...metadata.parse import SigningCertificate, parse_stored_metadata
from ...metadata.store import StoreOutcome
from ...models import Connection
from ._errors import database_problem

EXIT_OK = 0
EXIT_CONFIGURATION = 2
EXIT_FETCH_FAILED = 3
EXIT_INVALID = 4
EXIT_CHECK_FAILED = 5
# When several connections fail differently, the exit status is the first of these that occurred.
_SEVERITY = (EXIT_CONFIGURATION, EXIT_INVALID, EXIT_FETCH_FAILED, EXIT_CHECK_FAILED)

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


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    line: str


class Command(BaseCommand):
    help = (
        "Fetch each connection's Entra App Federation Metadata URL, validate it and store it for "
        "sign-in. Exit 0 stored/unchanged, 2 configuration, 3 could not fetch, 4 fetched but "
        "invalid, 5 --check failed."
    )
    # This command is how a site repairs a failing check (no metadata, expired
    # certificate), so it must run whatever the system checks say.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connection", metavar="NAME",
                            help="Only this connection (default: every connection).")
        parser.add_argument("--url", help="With one connection: fetch this URL instead of its own.")
        parser.add_argument("--repin", action="store_true",
                            help="With --connection: accept metadata for another tenant than the "
                                 "one the connection is pinned to (the customer moved tenants).")
        parser.add_argument("--check", action="store_true",
                            help="Fetch nothing and write nothing; exit 5 if stored metadata needs care.")
        parser.add_argument("--expiry-days", type=int, default=30, metavar="N",
                            help="With --check: fail when the newest signing certificate expires "
                                 "within N days (default 30).")
        parser.add_argument("--max-age-hours", type=float, default=48.0, metavar="M",
                            help="With --check: fail when the stored copy was last confirmed by a "
                                 "refresh more than M hours ago (default 48).")

    def handle(self, *args: object, **options: object) -> None:
        try:
            conf = get_settings()
            names = self._names(conf, options.get("connection") or None)
            if (options["url"] or options["repin"]) and len(names) != 1:
                raise CommandError("--url and --repin need --connection NAME",
                                   returncode=EXIT_CONFIGURATION)
            outcomes = []
            for name in names:
                if options["check"]:
                    outcomes.append(self._check(name, int(options["expiry_days"]),
                                                float(options["max_age_hours"])))
                else:
                    outcomes.append(self._refresh(name, options["url"] or None,
                                                  bool(options["repin"]), conf))
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=EXIT_CONFIGURATION) from None
        except DatabaseError as exc:
            raise CommandError(database_problem(exc), returncode=EXIT_CONFIGURATION) from None
        self._report(outcomes)

    def _names(self, conf: SSOSettings, only: str | None) -> list[str]:
        if only:
            if not is_settings_connection(only, conf) and not Connection.objects.filter(name=only).exists():
                raise CommandError(f"no connection named {only!r} (entra_connection list shows them)",
                                   returncode=EXIT_CONFIGURATION)
            return [only]
        names = [conf.CONNECTION] if conf.defines_connection else []
        names += [n for n in Connection.objects.exclude(metadata_url="").order_by("name")
                  .values_list("name", flat=True) if n not in names]
        if not names:
            raise CommandError(
                "no connection to refresh: set THOROPASS_SSO['METADATA_URL'], or add one with "
                "'manage.py entra_connection add NAME --metadata-url URL'",
                returncode=EXIT_CONFIGURATION)
        return names

    def _report(self, outcomes: list[Outcome]) -> None:
        failures = [o for o in outcomes if o.exit_code]
        if len(outcomes) == 1 and failures:
            raise CommandError(failures[0].line, returncode=failures[0].exit_code)
        for outcome in outcomes:
            (self.stderr if outcome.exit_code else self.stdout).write(outcome.line)
        if failures:
            worst = next(code for code in _SEVERITY if any(o.exit_code == code for o in failures))
            raise CommandError(f"{len(failures)} of {len(outcomes)} connections need care",
                               returncode=worst)

    # -- refresh ------------------------------------------------------------------------
    def _refresh(self, name: str, url: str | None, repin: bool, conf: SSOSettings) -> Outcome:
        try:
            outcome = refresh(name, url=url, repin=repin, actor=Actor.for_command())
        except MetadataFetchError as exc:
            return Outcome(EXIT_FETCH_FAILED,
                           f"could not fetch Entra metadata for {name}: {exc}; {_kept(name)}")
        except MetadataInvalid as exc:
            return Outcome(EXIT_INVALID,
                           f"fetched Entra metadata for {name} is invalid: {exc}; {_kept(name)}")
        except OperationRefused as exc:
            return Outcome(EXIT_CONFIGURATION, f"cannot refresh {name}: {exc}")
        return Outcome(EXIT_OK, self._summary(name, outcome))

    def _summary(self, name: str, outcome: StoreOutcome) -> str:
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

    # -- check ---------------------------------------------------------------------------
    def _check(self, name: str, expiry_days: int, max_age_hours: float) -> Outcome:
        connection = Connection.objects.filter(name=name).first()
        if connection is None or not connection.has_metadata:
            return Outcome(EXIT_CHECK_FAILED,
                           f"no Entra metadata stored for {name}: run refresh_entra_metadata")
        try:
            metadata = parse_stored_metadata(connection.metadata_xml)
        except MetadataInvalid as exc:
            return Outcome(EXIT_CHECK_FAILED,
                           f"the stored Entra metadata for {name} is unreadable: {exc}")
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
            return Outcome(EXIT_CHECK_FAILED, f"Entra metadata for {name}: {'; '.join(problems)}")
        hours = (now - checked).total_seconds() / 3600
        return Outcome(EXIT_OK, f"Entra metadata for {name} OK: newest signing certificate "
                                f"{describe(newest)}, confirmed {hours:.1f} hours ago")
