"""The embedded Entra stand-in used when no THOROPASS_SSO_METADATA_URL is set."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from thoropass_sso.conf import get_settings
from thoropass_sso.testing import EntraStandIn, EntraUser
from thoropass_sso.testing.persistent import persistent_standin

DEMO_USERS = [
    EntraUser(upn="adele.vance@contoso.example", given_name="Adele", surname="Vance",
              email="adele.vance@contoso.example",
              object_id="5f0c1a3e-6a47-4b53-9d0e-2c7f9f1b8a01",
              groups=["0c8b2a55-0f1e-4a8a-9c55-2b1f6f2a7e10"], roles=["Admin"]),
    EntraUser(upn="megan.bowen@contoso.example", given_name="Megan", surname="Bowen",
              email="megan.bowen@contoso.example",
              object_id="8e4b7d12-3c0a-4f7e-b1a9-6d2e5c4f3b02",
              groups=["5d7e9a21-4b3c-4e2f-8a1d-9f0e7c6b5a20"], roles=["Reader"]),
    EntraUser(upn="pat.guest_fabrikam.example#EXT#@contoso.example", given_name="Pat",
              surname="Guest", email="pat@fabrikam.example",
              object_id="2a9c6e4f-1b3d-4c5e-9f7a-8b0d1e2f3a03",
              guest_identity_provider="https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/"),
]


@cache
def get_demo_standin() -> EntraStandIn:
    return persistent_standin(
        settings.STANDIN_STATE_DIR,
        tenant_id=settings.STANDIN_TENANT_ID,
        app_id=settings.STANDIN_APP_ID,
        base_url=settings.STANDIN_BASE_URL or f"{get_settings().base_url}/entra-standin",
    )
