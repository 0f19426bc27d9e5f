"""Include with ``path("entra-standin/", include("thoropass_sso.standin.urls"))`` (development only)."""

from __future__ import annotations

from django.urls import path, reverse

from . import views

app_name = "thoropass_sso_standin"

urlpatterns = [
    path("", views.my_apps, name="root"),
    path("myapps/", views.my_apps, name="myapps"),
    path("metadata/<slug:name>.xml", views.metadata, name="metadata"),
    path("<str:tenant_id>/saml2", views.sso, name="sso"),
]


def metadata_url(base_url: str, name: str) -> str:
    """The stand-in tenant ``name``'s metadata URL on the site at ``base_url``."""
    return f"{base_url.rstrip('/')}{reverse('thoropass_sso_standin:metadata', args=[name])}"
