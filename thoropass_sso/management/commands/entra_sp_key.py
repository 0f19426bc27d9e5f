"""This site's own key pairs, for Entra's token encryption and for signed requests.

    entra_sp_key create PATH [--days N]   a new RSA-2048 key and self-signed certificate (0600)
    entra_sp_key show PATH                its certificate: fingerprint, expiry, base64

Then name the file in THOROPASS_SSO['ENCRYPTION_KEYS'] (a list: during a rollover,
the new key first, the old one second, both published and both tried) or
THOROPASS_SSO['SIGNING_KEY'], and upload the certificate in Entra: ``manage.py
entra_setup`` writes the ``.cer`` to upload. Exit 0, or 1 refused (the line says why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...exceptions import ConfigurationError
from ...keys import DEFAULT_VALID_DAYS, create_key_file, load_key_file
from ...metadata.signature import format_fingerprint


class Command(BaseCommand):
    help = "Create or show this site's key pairs (token encryption, signed requests)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser("create", help="Write a new key pair to PATH (never overwrites).")
        create.add_argument("path", type=Path)
        create.add_argument("--days", type=int, default=DEFAULT_VALID_DAYS)
        create.add_argument("--common-name", default="thoropass_sso service provider")
        show = sub.add_parser("show", help="Print the certificate of the key pair at PATH.")
        show.add_argument("path", type=Path)

    def handle(self, *args: object, **options: Any) -> None:
        path: Path = options["path"]
        if options["action"] == "create":
            if options["days"] <= 0:
                raise CommandError("--days must be positive", returncode=1)
            if not create_key_file(path, options["common_name"], valid_days=options["days"]):
                raise CommandError(f"{path} already exists: keys are never overwritten "
                                   "(choose a new name for the next key)", returncode=1)
        try:
            pair = load_key_file(str(path), "path")
        except ConfigurationError as exc:
            raise CommandError(str(exc).replace("THOROPASS_SSO['path'] names ", ""),
                               returncode=1) from None
        verb = "created" if options["action"] == "create" else "key pair"
        self.stdout.write(f"{verb} {path}: certificate {format_fingerprint(pair.cert_der)[:23]}, "
                          f"expires {pair.not_after:%Y-%m-%d}; name it in THOROPASS_SSO"
                          "['ENCRYPTION_KEYS'] or ['SIGNING_KEY'], then upload the .cer that "
                          "'manage.py entra_setup' writes")
