"""pytest fixtures for sites that use thoropass_sso: sign users in through the real SAML path.

Enable in your ``conftest.py``::

    pytest_plugins = ["thoropass_sso.testing.pytest_plugin"]

then::

    def test_reports(client, entra_sso):
        response = entra_sso.sign_in(client, upn="ada@contoso.example", groups=["<group id>"],
                                     next_path="/reports/")
        assert response["Location"] == "/reports/"

``entra_sso`` points ``THOROPASS_SSO`` at an Entra stand-in (keeping your other keys, such as
ADAPTER or group mappings), serves its metadata from a real local HTTP server and stores it with
the real ``refresh_entra_metadata`` command. Responses are really signed and really verified;
nothing is mocked, so your tests exercise the same checks as production.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

# Nothing of Django or thoropass_sso is imported here at import time: without
# DJANGO_SETTINGS_MODULE that would fail inside this plugin ("Requested setting
# USE_I18N...") before pytest-django could say what is missing, in its own words.
from .entra import EntraStandIn, EntraUser
from .metadata_server import MetadataServer, Reply

if TYPE_CHECKING:
    from django.test import Client

TEST_BASE_URL = "http://testserver"
SETTING_NAME = "THOROPASS_SSO"


@dataclass
class EntraSSO:
    """The stand-in tenant wired to the site under test.

    ``encrypt``: responses come with token encryption, for the site's first
    ENCRYPTION_KEYS certificate (the ``entra_sso_encrypted`` fixture turns it on).
    """

    standin: EntraStandIn
    base_url: str = TEST_BASE_URL
    encrypt: bool = False

    def _options(self, encrypt: bool | None) -> dict[str, Any]:
        if not (self.encrypt if encrypt is None else encrypt):
            return {}
        from ..conf import get_settings

        keys = get_settings().encryption_keys
        assert keys, "encrypt=True needs THOROPASS_SSO['ENCRYPTION_KEYS'] (entra_sso_encrypted)"
        return {"encrypt_for": keys[0].cert_pem}

    @property
    def acs_url(self) -> str:
        return f"{self.base_url}/saml2/acs/"

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/saml2/metadata/"

    def user(self, upn: str = "ada@contoso.example", **fields: Any) -> EntraUser:
        """An Entra user; any ``EntraUser`` field (groups, roles, email, object_id...) may be given."""
        return EntraUser(upn=upn, **fields)

    def sign_in(self, client: Client, user: EntraUser | None = None, *,
                next_path: str | None = None, encrypt: bool | None = None, **fields: Any):
        """SP-initiated sign-in; returns the ACS response (302 to ``next_path`` on success)."""
        from .flows import sign_in

        return sign_in(client, self.standin, user or self.user(**fields), next_path=next_path,
                       **self._options(encrypt))

    def launch(self, client: Client, user: EntraUser | None = None, *,
               relay_state: str | None = None, encrypt: bool | None = None, **fields: Any):
        """IdP-initiated sign-in, as from the My Apps tile."""
        from .flows import idp_initiated

        return idp_initiated(client, self.standin, user or self.user(**fields),
                             acs_url=self.acs_url, audience=self.entity_id, relay_state=relay_state,
                             **self._options(encrypt))


@pytest.fixture(scope="session")
def entra_standin(tmp_path_factory) -> EntraStandIn:
    return EntraStandIn(tmp_path_factory.mktemp("entra-standin"))


@pytest.fixture(scope="session")
def entra_metadata_server() -> Iterator[MetadataServer]:
    with MetadataServer() as server:
        yield server


@pytest.fixture
def entra_sso(settings, db, entra_standin, entra_metadata_server) -> Iterator[EntraSSO]:
    from django.core.cache import caches
    from django.core.management import call_command

    from ..runtime import forget_runtime

    path = entra_standin.metadata_path
    entra_metadata_server.set(path.split("?")[0], Reply(body=entra_standin.metadata_xml()))
    current = dict(getattr(settings, SETTING_NAME, {}) or {})
    for key in ("TENANT_ID", "APP_ID", "SP_ENTITY_ID"):
        current.pop(key, None)
    current.update({"BASE_URL": TEST_BASE_URL, "METADATA_URL": entra_metadata_server.url(path)})
    setattr(settings, SETTING_NAME, current)
    forget_runtime()
    call_command("refresh_entra_metadata", stdout=io.StringIO())
    yield EntraSSO(entra_standin)
    forget_runtime()
    if current.get("REPLAY_CACHE"):
        caches[current["REPLAY_CACHE"]].clear()


@pytest.fixture
def entra_sso_encrypted(entra_sso, settings, tmp_path) -> EntraSSO:
    """``entra_sso`` with Entra's token encryption: the site gets an encryption key (a fresh
    file in ``tmp_path``), requires encrypted assertions, and every response is encrypted."""
    from ..keys import create_key_file

    path = tmp_path / "sp-encryption.pem"
    create_key_file(path, "thoropass_sso test encryption")
    setattr(settings, SETTING_NAME, {**getattr(settings, SETTING_NAME),
                                      "ENCRYPTION_KEYS": [str(path)], "REQUIRE_ENCRYPTION": True})
    entra_sso.encrypt = True
    return entra_sso
