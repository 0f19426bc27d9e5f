from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ThoropassSSOConfig(AppConfig):
    name = "thoropass_sso"
    verbose_name = _("Sign in with Microsoft Entra ID")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            conf,  # noqa: F401  (connects the setting_changed receiver)
            registry,  # noqa: F401  (connects the receivers that drop changed connections)
        )
