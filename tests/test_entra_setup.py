"""entra_setup prints exactly what the admin types into Entra, and the stored metadata's state."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from thoropass_sso.models import Connection
from thoropass_sso.testing import make_signing_key_pair
from thoropass_sso.testing.commands import run_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def https_site(sso_settings):
    sso_settings.THOROPASS_SSO = {**sso_settings.THOROPASS_SSO,
                                  "BASE_URL": "https://app.example.com/"}
    return sso_settings


def portal_lines(metadata_url: str) -> list[str]:
    return [
        "Entra admin center > Enterprise applications > (your app) > Single sign-on > SAML",
        "Basic SAML Configuration:",
        "  Identifier (Entity ID):                       https://app.example.com/saml2/metadata/",
        "  Reply URL (Assertion Consumer Service URL):   https://app.example.com/saml2/acs/",
        "  Sign on URL (Optional):                       https://app.example.com/saml2/login/",
        "  Logout Url (Optional):                        https://app.example.com/saml2/logout/",
        "This site:",
        "  SP metadata URL (or 'Upload metadata file'):  https://app.example.com/saml2/metadata/",
        f"  App Federation Metadata Url (fetched from):   {metadata_url}",
    ]


def test_before_any_metadata_is_stored(https_site):
    result = run_command("entra_setup")
    assert result.exit_code == 0
    assert result.lines == [
        *portal_lines(https_site.THOROPASS_SSO["METADATA_URL"]),
        "Stored metadata (default): none yet; run 'python manage.py refresh_entra_metadata'",
    ]


def test_with_stored_metadata_lists_entity_certificates_and_age(https_site, stored_metadata, entra,
                                                               signing_key):
    old = make_signing_key_pair(valid_days=400, not_before=datetime.now(UTC) - timedelta(days=395))
    Connection.objects.update(
        metadata_xml=entra.metadata_xml(certificates=[signing_key, old]).decode(),
        metadata_changed_at=timezone.now() - timedelta(days=3, minutes=1),
        metadata_checked_at=timezone.now() - timedelta(hours=2, minutes=1),
    )
    result = run_command("entra_setup")
    assert result.exit_code == 0
    lines = result.lines
    assert lines[:9] == portal_lines(https_site.THOROPASS_SSO["METADATA_URL"])
    assert lines[9] == "Stored metadata (default):"
    assert lines[10] == f"  Entity:                                       {entra.issuer}"
    assert re.fullmatch(r"  Last changed: +\d{4}-\d\d-\d\d \d\d:\d\d UTC \(3 days ago\)", lines[11])
    assert re.fullmatch(r"  Last confirmed by a refresh: +\d{4}-\d\d-\d\d \d\d:\d\d UTC "
                        r"\(2 hours ago\)", lines[12])
    # Newest first; each with its fingerprint, expiry date and days left.
    assert re.fullmatch(r"  Signing certificate: +[0-9A-F:]{23} \(expires \d{4}-\d\d-\d\d\), "
                        r"109\d days left", lines[13]), lines[13]
    assert re.fullmatch(r"  Signing certificate: +[0-9A-F:]{23} \(expires \d{4}-\d\d-\d\d\), "
                        r"[45] days left", lines[14]), lines[14]
    assert len(lines) == 15


def test_expired_certificate_is_marked(https_site, stored_metadata, entra):
    expired = make_signing_key_pair(valid_days=1, not_before=datetime.now(UTC) - timedelta(days=5))
    Connection.objects.update(metadata_xml=entra.metadata_xml(certificates=[expired]).decode())
    result = run_command("entra_setup")
    assert result.lines[-1].endswith(", EXPIRED")


def test_custom_entity_id_is_what_the_admin_types(https_site, db):
    https_site.THOROPASS_SSO = {**https_site.THOROPASS_SSO, "SP_ENTITY_ID": "urn:contoso:app"}
    result = run_command("entra_setup")
    assert "  Identifier (Entity ID):                       urn:contoso:app" in result.lines
