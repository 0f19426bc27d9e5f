"""Two customer tenants under one Identifier: the gallery model, for the many-tenants tests.

``contoso`` is the settings-defined connection ``default`` (the ``entra`` stand-in of
conftest.py); ``fabrikam`` is a second stand-in tenant with its own signing key,
added as data with the real ``entra_connection add`` command, its metadata served
by the real local HTTP server. Both post to the same ACS with the same Audience.

Modules import the fixtures from here (``from tests.tenants import fabrikam, two_tenants``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from thoropass_sso.testing import EntraStandIn
from thoropass_sso.testing.commands import run_command
from thoropass_sso.testing.metadata_server import MetadataServer, Reply

CONTOSO_DOMAIN = "contoso.example"
FABRIKAM_DOMAIN = "fabrikam.example"


@dataclass
class Tenants:
    contoso: EntraStandIn  # connection "default", from settings
    fabrikam: EntraStandIn  # connection "fabrikam", from the database
    server: MetadataServer

    def add(self, name: str, standin: EntraStandIn, *extra: str):
        """``entra_connection add NAME --metadata-url <its local URL> ...`` (the real command)."""
        self.server.set(standin.metadata_path.split("?")[0], Reply(body=standin.metadata_xml()))
        return run_command("entra_connection", "add", name, "--metadata-url",
                           self.server.url(standin.metadata_path), *extra)


@pytest.fixture(scope="session")
def fabrikam(tmp_path_factory) -> EntraStandIn:
    return EntraStandIn(tmp_path_factory.mktemp("fabrikam"))


@pytest.fixture
def two_tenants(sso_settings, stored_metadata, entra, fabrikam, metadata_server) -> Tenants:
    sso_settings.THOROPASS_SSO = {
        **sso_settings.THOROPASS_SSO,
        # The test server is http on loopback: allowed here as the example project allows it.
        "METADATA_ALLOWED_HOSTS": ["127.0.0.1"],
        "METADATA_ALLOW_HTTP": True,
        "DOMAINS": [CONTOSO_DOMAIN],
    }
    tenants = Tenants(contoso=entra, fabrikam=fabrikam, server=metadata_server)
    result = tenants.add("fabrikam", fabrikam, "--domain", FABRIKAM_DOMAIN,
                         "--display-name", "Fabrikam")
    assert result.exit_code == 0, result.output
    return tenants
