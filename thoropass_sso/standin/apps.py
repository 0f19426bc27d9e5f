from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class StandInConfig(AppConfig):
    name = "thoropass_sso.standin"
    label = "thoropass_sso_standin"
    verbose_name = _("Entra ID stand-in (local development only)")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ..metadata.sources import register
        from . import checks  # noqa: F401  (registers the system checks)
        from .tenants import StandInMetadata, prepare_after_migrate

        register(StandInMetadata())
        post_migrate.connect(prepare_after_migrate, sender=self,
                             dispatch_uid="thoropass_sso_standin.prepare")
