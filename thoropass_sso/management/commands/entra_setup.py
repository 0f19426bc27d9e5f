"""Print what the Entra admin types into the portal, and the stored metadata's state.

The labels are the portal's own (Enterprise applications > your app > Single
sign-on > SAML > Basic SAML Configuration), so the admin can copy line by line.
They are the same for every customer's tenant (one Identifier, one Reply URL,
one Sign-on URL). Reads settings and the database only; never the network.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ...conf import get_settings
from ...exceptions import ConfigurationError, MetadataInvalid
from ...metadata.parse import parse_stored_metadata
from ...models import Connection
from ._errors import database_problem
from .refresh_entra_metadata import EXIT_CONFIGURATION, describe

LABEL_WIDTH = 46


def _row(label: str, value: str) -> str:
    return f"  {label + ':':<{LABEL_WIDTH}}{value}"


def age(delta: timedelta) -> str:
    """'12 minutes', '5 hours', '3 days': precise enough for an operator."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


class Command(BaseCommand):
    help = "Show the values for Entra's Basic SAML Configuration and the stored metadata's state."
    # Used while setting up, when checks still fail; it only reads.
    requires_system_checks: list[str] = []

    def handle(self, *args: object, **options: object) -> None:
        try:
            self.stdout.write("\n".join(self._lines()))
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=EXIT_CONFIGURATION) from None
        except DatabaseError as exc:
            raise CommandError(database_problem(exc), returncode=EXIT_CONFIGURATION) from None

    def _lines(self) -> list[str]:
        conf = get_settings()
        lines = [
            "Entra admin center > Enterprise applications > (your app) > Single sign-on > SAML",
            "Basic SAML Configuration:",
            _row("Identifier (Entity ID)", conf.sp_entity_id),
            _row("Reply URL (Assertion Consumer Service URL)", conf.acs_url),
            _row("Sign on URL (Optional)", conf.login_url),
            _row("Logout Url (Optional)", conf.logout_url),
            "This site:",
            _row("SP metadata URL (or 'Upload metadata file')", conf.sp_metadata_url),
        ]
        others = Connection.objects.all()
        if conf.defines_connection:
            lines.append(_row("App Federation Metadata Url (fetched from)", conf.metadata_url))
            lines.extend(self._stored_state(conf.CONNECTION))
            others = others.exclude(name=conf.CONNECTION)
        lines.extend(self._own_certificates(conf))
        count = others.count()
        if count or not conf.defines_connection:
            lines.append(f"Customers' connections: {count} (manage.py entra_connection list); "
                         "every tenant uses the values above")
        return lines

    def _own_certificates(self, conf) -> list[str]:
        """The certificates a customer uploads in Entra, each also written as a .cer file."""
        lines: list[str] = []
        for title, pairs in (
                ("Token encryption (Single sign-on > Token encryption > Import certificate; "
                 "Entra ID P1/P2)", conf.encryption_keys),
                ("Signed requests ('Require verification certificates'; Entra then disables "
                 "IdP-initiated sign-in and the Test button)",
                 (conf.signing_key,) if conf.signing_key is not None else ())):
            if not pairs:
                continue
            lines.append(f"{title}:")
            for pair in pairs:
                cer = Path(pair.path).with_suffix(".cer")
                try:
                    cer.write_bytes(pair.cert_der)
                    where = f"upload {cer}"
                except OSError:
                    where = f"could not write {cer}; base64: {pair.cert_b64}"
                lines.append(_row("Certificate", f"{pair.certificate.subject.rfc4514_string()}, "
                                                 f"expires {pair.not_after:%Y-%m-%d}: {where}"))
        return lines

    def _stored_state(self, name: str) -> list[str]:
        connection = Connection.objects.filter(name=name).first()
        if connection is None or not connection.has_metadata:
            return [f"Stored metadata ({name}): none yet; run 'python manage.py "
                    "refresh_entra_metadata'"]
        try:
            metadata = parse_stored_metadata(connection.metadata_xml)
        except MetadataInvalid as exc:
            return [f"Stored metadata ({name}): unreadable ({exc}); run 'python manage.py "
                    "refresh_entra_metadata'"]
        now = datetime.now(UTC)
        lines = [f"Stored metadata ({name}):", _row("Entity", metadata.entity_id)]
        if connection.metadata_changed_at:
            lines.append(_row("Last changed", f"{connection.metadata_changed_at:%Y-%m-%d %H:%M} UTC "
                                              f"({age(now - connection.metadata_changed_at)} ago)"))
        if connection.metadata_checked_at:
            lines.append(_row("Last confirmed by a refresh",
                              f"{connection.metadata_checked_at:%Y-%m-%d %H:%M} UTC "
                              f"({age(now - connection.metadata_checked_at)} ago)"))
        for cert in metadata.signing_certificates:
            left = (cert.not_after - now).days
            state = "EXPIRED" if cert.is_expired(now) else f"{left} days left"
            lines.append(_row("Signing certificate", f"{describe(cert)}, {state}"))
        return lines
