from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.management import call_command

from thoropass_sso.runtime import forget_runtime
from thoropass_sso.testing import EntraStandIn, EntraUser, make_signing_key_pair
from thoropass_sso.testing.metadata_server import MetadataServer, Reply

BASE_URL = "http://testserver"
ACS_URL = f"{BASE_URL}/saml2/acs/"
SP_ENTITY_ID = f"{BASE_URL}/saml2/metadata/"


@pytest.fixture(scope="session")
def signing_key():
    return make_signing_key_pair()


@pytest.fixture(scope="session")
def entra(tmp_path_factory, signing_key) -> EntraStandIn:
    """One stand-in tenant for the session (key generation and IdP setup are not free)."""
    return EntraStandIn(tmp_path_factory.mktemp("entra"), signing_keys=[signing_key])


@pytest.fixture(scope="session")
def metadata_server():
    with MetadataServer() as server:
        yield server


@pytest.fixture
def sso_settings(settings, entra, metadata_server):
    """THOROPASS_SSO pointing at the stand-in's metadata on the local HTTP server."""
    metadata_server.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml()))
    settings.THOROPASS_SSO = {
        "BASE_URL": BASE_URL,
        "METADATA_URL": metadata_server.url(entra.metadata_path),
        "TENANT_ID": entra.tenant_id,
    }
    forget_runtime()
    cache.clear()
    yield settings
    forget_runtime()


@pytest.fixture
def stored_metadata(sso_settings, db):
    """Metadata fetched by the real command from the real local server."""
    call_command("refresh_entra_metadata", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture
def ada() -> EntraUser:
    return EntraUser(upn="ada@contoso.example", given_name="Ada", surname="Lovelace",
                     email="ada.lovelace@contoso.example")
