"""Issue 14: every mistake of a newcomer's first hour gets a one-line answer naming the fix,
where the person is -- ``check``, the command they ran, or the page in front of them."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.template import Context, RequestContext, Template
from django.test import Client

from thoropass_sso.testing.commands import run_command
from thoropass_sso.testing.flows import idp_initiated
from thoropass_sso.testing.metadata_server import Reply

from .conftest import ACS_URL, SP_ENTITY_ID

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
README_PLACEHOLDER = ("https://login.microsoftonline.com/<tenant-id>/federationmetadata/2007-06/"
                      "federationmetadata.xml?appid=<app-id>")


def check_ids() -> dict[str, object]:
    return {m.id: m for m in run_checks() if m.id.startswith("thoropass_sso")}


# -- check: errors with ids and hints ---------------------------------------------------

@pytest.mark.parametrize("base_url", ["http://localhost:8000/saml2/", "https://a.example/?x=1",
                                      "https://a.example/#top"])
def test_a_base_url_with_a_path_query_or_fragment_is_e009_with_the_fix(settings, db, base_url):
    settings.THOROPASS_SSO = {"BASE_URL": base_url}
    found = check_ids()
    assert list(found) == ["thoropass_sso.E009"]
    assert "scheme and host only" in found["thoropass_sso.E009"].msg
    assert found["thoropass_sso.E009"].hint.startswith("Use 'http")


@pytest.mark.parametrize(("key", "value"), [
    ("METADATA_URL", README_PLACEHOLDER),
    ("TENANT_ID", "your-tenant-id"),
    ("BASE_URL", "https://<your-site>"),
])
def test_a_placeholder_left_in_a_url_or_id_is_e010(settings, db, key, value):
    settings.THOROPASS_SSO = {"BASE_URL": "https://app.example.com", "APP_ID": "x", key: value}
    found = check_ids()
    assert list(found) == ["thoropass_sso.E010"]
    assert key in found["thoropass_sso.E010"].msg


# -- the commands: one line and an exit status, never a traceback --------------------------

def _manage(env_sso: dict, *args: str, migrate: bool = True, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_processes",
           # A file of its own on every run: these are about what the commands say.
           "THOROPASS_TEST_SITE_DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
           "THOROPASS_TEST_SSO": json.dumps(env_sso), "PYTHONPATH": str(ROOT)}
    if migrate:
        subprocess.run([sys.executable, "-m", "django", "migrate", "-v0"], env=env, cwd=ROOT,
                       check=True, capture_output=True, timeout=120)
    return subprocess.run([sys.executable, "-m", "django", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
@pytest.mark.parametrize(("sso", "says"), [
    ({"BASE_URL": "https://app.example.com", "METADATA_URL": "/tmp/x.xml"}, "must be an https:// URL"),
    ({"BASE_URL": "https://app.example.com", "METADATA_URL": README_PLACEHOLDER}, "placeholder"),
    ({"BASE_URL": "http://localhost:8000/saml2/", "METADATA_URL": "https://login.microsoftonline.com/x"},
     "scheme and host only"),
], ids=["a-file-path", "the-readme-placeholder", "base-url-with-a-path"])
@pytest.mark.parametrize("command", [("refresh_entra_metadata",), ("entra_setup",),
                                     ("entra_connection", "list")])
def test_configuration_mistakes_are_one_line_and_exit_2(tmp_path, sso, says, command):
    done = _manage(sso, *command, migrate=False, tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CommandError: ") and says in lines[0]


@pytest.mark.slow
def test_forgetting_migrate_is_named_by_check_the_commands_and_the_pages(tmp_path):
    sso = {"BASE_URL": "http://testserver",
           "METADATA_URL": "https://login.microsoftonline.com/"
                           "72f988bf-86f1-41af-91ab-2d7cd011db47/federationmetadata/2007-06/"
                           "federationmetadata.xml?appid=4f2f0b7e-8a3c-4e55-9d61-1a2b3c4d5e6f"}
    checked = _manage(sso, "check", migrate=False, tmp_path=tmp_path)
    assert "thoropass_sso.W009" in checked.stderr and "run 'python manage.py migrate'" in \
        checked.stderr.replace("Run", "run")
    for command in (("refresh_entra_metadata",), ("entra_setup",), ("entra_connection", "list")):
        done = _manage(sso, *command, migrate=False, tmp_path=tmp_path)
        assert (done.returncode, done.stderr.strip()) == (2, "CommandError: thoropass_sso's tables "
                                                          "do not exist yet: run 'python manage.py "
                                                          "migrate'"), command
    pages = _manage(sso, "shell", "-c", (
        "from django.test import Client; c = Client(raise_request_exception=False); "
        "r = c.get('/saml2/login/'); print(r.status_code, b'data-reason=\"misconfigured\"' "
        "in r.content)"), migrate=False, tmp_path=tmp_path)
    assert pages.stdout.strip().splitlines()[-1] == "503 True", pages.stderr[-2000:]
    assert "run 'python manage.py migrate'" in pages.stderr  # the log line says how


def test_a_redirecting_metadata_url_names_where_it_redirects(sso_settings, db, metadata_server, entra):
    metadata_server.set("/moved", Reply(status=302, body=b"", headers={
        "Location": "https://login.example.net/elsewhere.xml"}))
    result = run_command("refresh_entra_metadata", "--url", metadata_server.url("/moved"))
    assert result.exit_code == 3
    assert "HTTP 302 from 127.0.0.1" in result.output
    assert "redirecting to https://login.example.net/elsewhere.xml" in result.output


# -- the pages --------------------------------------------------------------------------

def _reason(response) -> str:
    return response.content.decode().split('data-reason="')[1].split('"')[0]


def test_a_missing_backend_is_a_503_misconfigured_not_not_allowed(
        client, entra, ada, stored_metadata, settings, caplog):
    # Under WSGI no system check runs: the page and the log line must say what is wrong.
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
        response = idp_initiated(client, entra, ada, acs_url=ACS_URL, audience=SP_ENTITY_ID)
    assert (response.status_code, _reason(response)) == (503, "misconfigured")
    assert "EntraBackend is not in AUTHENTICATION_BACKENDS" in caplog.text


def test_a_browser_on_another_host_name_is_told_so_not_that_it_took_too_long(
        stored_metadata, settings, caplog):
    settings.DEBUG = True
    with caplog.at_level(logging.WARNING, logger="thoropass_sso"):
        response = Client(HTTP_HOST="127.0.0.1").get("/saml2/login/")
    assert (response.status_code, _reason(response)) == (400, "wrong_host")
    assert 'href="http://testserver/saml2/login/"' in response.content.decode()
    assert "browser on 127.0.0.1, BASE_URL is testserver" in caplog.text


def test_off_debug_only_the_browsers_own_referer_proves_a_wrong_host(stored_metadata, settings):
    settings.DEBUG = False
    # A proxy that does not forward Host looks like another host: the sign-in goes ahead...
    assert Client(HTTP_HOST="127.0.0.1").get("/saml2/login/").status_code == 302
    # ...as it does from another site's link (a customer portal, Entra's My Apps).
    assert Client(HTTP_HOST="127.0.0.1").get(
        "/saml2/login/", HTTP_REFERER="https://myapps.microsoft.com/").status_code == 302
    # The browser itself says it is on 127.0.0.1: refused, with the reason.
    refused = Client(HTTP_HOST="127.0.0.1").get("/saml2/login/",
                                                 HTTP_REFERER="http://127.0.0.1/reports/")
    assert (refused.status_code, _reason(refused)) == (400, "wrong_host")


def test_with_debug_on_the_error_page_shows_the_reason_and_its_fix(client, stored_metadata, settings):
    from thoropass_sso.hints import HINTS

    settings.DEBUG = True
    page = client.post("/saml2/acs/", {"SAMLResponse": "PHg+"}).content.decode()
    assert 'id="developer-hint"' in page and "<code>malformed</code>" in page
    assert HINTS["malformed"].split(":")[0].replace("'", "&#x27;") in page
    settings.DEBUG = False
    assert 'id="developer-hint"' not in client.post("/saml2/acs/", {"SAMLResponse": "PHg+"}
                                                    ).content.decode()


def test_every_reason_has_its_hint_in_the_troubleshooting_guide():
    from thoropass_sso.hints import HINTS
    from thoropass_sso.reasons import Reason

    guide = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert set(HINTS) == {r.code for r in Reason}
    missing = [code for code, hint in HINTS.items() if f"| `{code}` " not in guide
               or hint not in guide]
    assert missing == []


def test_opening_the_acs_in_a_browser_says_what_it_is(client, sso_settings):
    response = client.get("/saml2/acs/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    page = response.content.decode()
    assert "receives sign-ins from Microsoft" in page and 'href="http://testserver/saml2/login/"' in page


def test_signing_out_lands_on_a_confirmation(client, entra, ada, stored_metadata, settings):
    settings.LOGOUT_REDIRECT_URL = None  # Django's default: the site names no page
    settings.THOROPASS_SSO = {**settings.THOROPASS_SSO, "SINGLE_LOGOUT": False}
    from thoropass_sso.testing.flows import sign_in

    assert sign_in(client, entra, ada).status_code == 302
    out = client.post("/saml2/logout/")
    assert out["Location"] == "/saml2/signed-out/"
    page = client.get(out["Location"]).content.decode()
    assert 'id="signed-out"' in page and 'href="http://testserver/saml2/login/"' in page


def test_the_sign_in_button_links_to_the_sign_on_url_with_the_current_page(rf, sso_settings):
    request = rf.get("/reports/?q=1")
    html = Template("{% load thoropass_sso %}{% entra_sign_in_button %}").render(
        RequestContext(request))
    assert 'href="/saml2/login/?next=%2Freports%2F%3Fq%3D1"' in html
    assert "Sign in with Microsoft" in html and "#f25022" in html
    named = Template('{% load thoropass_sso %}{% entra_sign_in_button next="/" connection="acme" '
                     'label="Sign in with Acme" %}').render(Context({}))
    assert 'href="/saml2/login/?next=%2F&amp;connection=acme"' in named and "Sign in with Acme" in named


def test_sp_metadata_uses_the_md_and_ds_prefixes(client, sso_settings):
    body = client.get("/saml2/metadata/").content.decode()
    assert body.startswith("<?xml") and "<md:EntityDescriptor" in body
    assert 'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"' in body and "ns0:" not in body
    assert f'<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ' \
           f'Location="{ACS_URL}"' in body


# -- packaging and the test kit ----------------------------------------------------------------

def test_importing_the_package_installs_no_warnings_filter():
    before = list(warnings.filters)
    done = subprocess.run([sys.executable, "-c", (
        "import warnings; before = list(warnings.filters); import thoropass_sso, "
        "thoropass_sso.saml.pysaml2; print(warnings.filters == before)")],
        capture_output=True, text=True, check=True, timeout=60, cwd=ROOT)
    assert done.stdout.strip() == "True"
    assert "CFB has been moved" not in done.stderr  # pysaml2's notice stays out of the way
    assert warnings.filters == before


@pytest.mark.slow
def test_the_pytest_plugin_without_settings_fails_in_pytest_djangos_own_words(tmp_path):
    (tmp_path / "test_site.py").write_text(
        'pytest_plugins = ["thoropass_sso.testing.pytest_plugin"]\n\n'
        "def test_it(client, entra_sso):\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
                           str(tmp_path / "test_site.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert "Requested setting" not in output and "ImproperlyConfigured" not in output, output
    assert "no Django settings" in output, output
