"""In stand-in mode, write the stand-in's metadata file first; then run the real command.

The real command then fetches it (from a file:// URL) exactly as it fetches
Entra's App Federation Metadata URL.
"""

from django.conf import settings

from thoropass_sso.management.commands.refresh_entra_metadata import Command as RefreshCommand


class Command(RefreshCommand):
    def handle(self, *args, **options) -> None:
        if settings.STANDIN_ENABLED and not options.get("check"):
            from demo.standin import get_demo_standin

            standin = get_demo_standin()
            settings.STANDIN_METADATA_FILE.parent.mkdir(parents=True, exist_ok=True)
            settings.STANDIN_METADATA_FILE.write_bytes(standin.metadata_xml())
        super().handle(*args, **options)
