"""Print what the Entra admin types into the portal, and the stored metadata's state."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand

from ...conf import get_settings
from ...metadata.parse import parse_metadata
from ...models import Connection
from .refresh_entra_metadata import describe


class Command(BaseCommand):
    help = "Show the values for Entra's Basic SAML Configuration and the stored metadata's state."

    def handle(self, *args, **options) -> None:
        conf = get_settings()
        lines = [
            "Entra admin center > Enterprise applications > (your app) > Single sign-on > SAML",
            "Basic SAML Configuration:",
            f"  Identifier (Entity ID):       {conf.sp_entity_id}",
            f"  Reply URL (ACS URL):          {conf.acs_url}",
            f"  Sign on URL:                  {conf.login_url}",
            f"  Logout Url:                   {conf.logout_url}",
            f"This site's SP metadata:        {conf.sp_metadata_url}",
            f"App Federation Metadata URL:    {conf.metadata_url}",
        ]
        connection = Connection.objects.filter(name=conf.CONNECTION).first()
        if connection is None or not connection.has_metadata:
            lines.append("Stored metadata: none yet; run 'python manage.py refresh_entra_metadata'")
        else:
            metadata = parse_metadata(connection.metadata_xml.encode())
            age = datetime.now(UTC) - connection.metadata_checked_at
            lines.append(f"Stored metadata: {metadata.entity_id}, confirmed "
                         f"{int(age.total_seconds() // 3600)} h ago")
            lines.extend(f"  signing certificate {describe(c)}" for c in metadata.signing_certificates)
        self.stdout.write("\n".join(lines))
