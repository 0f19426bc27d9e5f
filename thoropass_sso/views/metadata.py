"""``GET /saml2/metadata/``: this site's SP metadata (Entra can import it)."""

from __future__ import annotations

from djangosaml2 import views as djangosaml2_views

_SP_CONFIG_LOADER = "thoropass_sso.saml.spconfig.sp_config"


class MetadataView(djangosaml2_views.MetadataView):
    config_loader_path = _SP_CONFIG_LOADER
