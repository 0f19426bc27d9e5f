"""The stand-in's system checks."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Tags, Warning, register

from . import conf as standin_conf


@register(Tags.security, "thoropass_sso")
def check_standin(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from ..conf import get_settings
    from ..exceptions import ConfigurationError

    try:
        conf = get_settings()
    except ConfigurationError:
        return []  # thoropass_sso.E001 says what is wrong
    if standin_conf.is_allowed(conf.base_url):
        return []
    return [Warning(
        "thoropass_sso.standin is installed on a site that is neither in DEBUG nor on localhost: "
        "it stays off (its pages answer 404) and signs nobody in.",
        hint="Remove 'thoropass_sso.standin' from INSTALLED_APPS and its URLs in production.",
        id="thoropass_sso_standin.W001",
    )]
