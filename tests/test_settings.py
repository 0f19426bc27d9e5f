"""THOROPASS_SSO: one dict, read lazily into a typed object; errors name the key."""

from __future__ import annotations

import pytest

from thoropass_sso.conf import get_settings
from thoropass_sso.exceptions import ConfigurationError

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "4f2f0b7e-8a3c-4e55-9d61-1a2b3c4d5e6f"


def configure(settings, **values) -> None:
    settings.THOROPASS_SSO = values


def test_the_minimum_a_site_writes_derives_everything_else(settings):
    configure(settings, BASE_URL="https://app.example.com/", TENANT_ID=TENANT, APP_ID=APP)
    conf = get_settings()
    assert conf.metadata_url == (
        f"https://login.microsoftonline.com/{TENANT}/federationmetadata/2007-06/"
        f"federationmetadata.xml?appid={APP}")
    assert conf.acs_url == "https://app.example.com/saml2/acs/"
    assert conf.sp_entity_id == "https://app.example.com/saml2/metadata/"
    assert conf.tenant_id == TENANT
    # Entra-correct defaults
    assert conf.ALLOW_SHA1 is False
    assert conf.CREATE_USERS is True
    assert 60 <= conf.CLOCK_SKEW <= 600


def test_the_tenant_is_read_from_the_metadata_url(settings):
    configure(settings, BASE_URL="https://app.example.com",
              METADATA_URL=f"https://login.microsoftonline.com/{TENANT.upper()}/federationmetadata/"
                           f"2007-06/federationmetadata.xml?appid={APP}")
    assert get_settings().tenant_id == TENANT


def test_an_explicit_false_is_kept(settings):
    configure(settings, BASE_URL="https://app.example.com", TENANT_ID=TENANT, APP_ID=APP,
              CREATE_USERS=False)
    assert get_settings().CREATE_USERS is False


def test_changes_are_seen_without_restart(settings):
    configure(settings, BASE_URL="https://one.example.com", TENANT_ID=TENANT, APP_ID=APP)
    assert get_settings().acs_url.startswith("https://one.")
    configure(settings, BASE_URL="https://two.example.com", TENANT_ID=TENANT, APP_ID=APP)
    assert get_settings().acs_url.startswith("https://two.")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"BASE_URL": "https://a.example", "TENANT_ID": TENANT, "APP_ID": APP, "SIGN_REQUEST": True},
         "SIGN_REQUEST"),
        ({"TENANT_ID": TENANT, "APP_ID": APP}, "BASE_URL"),
        ({"BASE_URL": "https://a.example", "TENANT_ID": TENANT}, "APP_ID"),
        ({"BASE_URL": "https://a.example", "APP_ID": APP}, "TENANT_ID"),
        ({"BASE_URL": "https://a.example", "TENANT_ID": "contoso", "APP_ID": APP}, "TENANT_ID"),
        ({"BASE_URL": "app.example.com", "TENANT_ID": TENANT, "APP_ID": APP}, "BASE_URL"),
        ({"BASE_URL": "https://a.example", "METADATA_URL": "ftp://x/y"}, "METADATA_URL"),
        ({"BASE_URL": "https://a.example", "TENANT_ID": TENANT, "APP_ID": APP, "CLOCK_SKEW": "180"},
         "CLOCK_SKEW"),
        ({"BASE_URL": "https://a.example", "TENANT_ID": TENANT, "APP_ID": APP, "ALLOW_SHA1": 1},
         "ALLOW_SHA1"),
        ({"BASE_URL": "https://a.example", "TENANT_ID": TENANT, "APP_ID": APP,
          "LOGIN_REDIRECT_URL": "https://evil.example/"}, "LOGIN_REDIRECT_URL"),
    ],
)
def test_mistakes_raise_an_error_naming_the_key(settings, values, named):
    configure(settings, **values)
    with pytest.raises(ConfigurationError, match=named):
        get_settings()


def test_a_missing_setting_says_what_to_add(settings):
    del settings.THOROPASS_SSO
    with pytest.raises(ConfigurationError, match="THOROPASS_SSO is missing"):
        get_settings()
