"""A host where ``import xmlsec`` fails (the "lxml & xmlsec libxml2 library version
mismatch" host): with ``SIGNATURE_BACKEND = "xmlsec1"`` it still refreshes pinned metadata
and signs in; with the default backend it says why it cannot, as a check and a 503 page.

Each case runs in a fresh interpreter whose first act is ``sys.modules["xmlsec"] = None``
(so ``import xmlsec`` raises ImportError), before Django or thoropass_sso is imported.
Everything that needs python-xmlsec or pysaml2 signing -- the signed metadata, the signed
SAML responses -- is made here, in the parent, and handed over; the child only verifies.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from thoropass_sso.metadata.signature import format_fingerprint
from thoropass_sso.saml.xmlsec1 import find_xmlsec1
from thoropass_sso.testing import make_signing_key_pair
from thoropass_sso.testing.metadata_server import Reply

from .conftest import ACS_URL, BASE_URL, SP_ENTITY_ID

ROOT = Path(__file__).resolve().parent.parent

CHILD = r'''
import sys
sys.modules["xmlsec"] = None  # "import xmlsec" now raises ImportError, as on the broken host

import json
import os

args = json.loads(sys.stdin.read())
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
from django.conf import settings

settings.THOROPASS_SSO = args["sso"]
import django

django.setup()
from django.core.management import call_command
from django.test import Client, override_settings
from django.test.utils import setup_test_environment

setup_test_environment()
call_command("migrate", verbosity=0)
call_command("createcachetable", verbosity=0)

from thoropass_sso.checks import check_configuration
from thoropass_sso.testing.commands import refresh

out = {}
try:
    import xmlsec  # noqa: F401
    out["import xmlsec"] = "imported"
except ImportError:
    out["import xmlsec"] = "ImportError"
result = refresh()
out["refresh"] = [result.exit_code, result.output]
out["checks"] = sorted(m.id for m in check_configuration(None))
out["acs"] = []
for value in args["saml_responses"]:
    response = Client().post("/saml2/acs/", {"SAMLResponse": value})
    out["acs"].append([response.status_code, response.get("Location", "")])
if args.get("other_metadata_url"):
    with override_settings(THOROPASS_SSO={**args["sso"], "METADATA_URL": args["other_metadata_url"]}):
        result = refresh()
    out["refresh other"] = [result.exit_code, result.output]
out["xmlsec in sys.modules"] = repr(sys.modules.get("xmlsec", "absent"))
print(json.dumps(out))
'''


def run_without_python_xmlsec(**args: object) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    completed = subprocess.run(
        [sys.executable, "-c", CHILD], input=json.dumps(args), capture_output=True, text=True,
        cwd=ROOT, env=env, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def fingerprint(pair) -> str:
    der = x509.load_pem_x509_certificate(pair.cert_pem).public_bytes(serialization.Encoding.DER)
    return format_fingerprint(der)


def idp_initiated(entra, user) -> str:
    return entra.post_binding_value(entra.response_xml(user, acs_url=ACS_URL, audience=SP_ENTITY_ID))


def forged(value: str) -> str:
    """A genuine signed response with the user's name changed after signing."""
    xml = base64.b64decode(value).replace(b"ada@contoso.example", b"eve@contoso.example")
    assert xml != base64.b64decode(value)
    return base64.b64encode(xml).decode()


def sso(entra, metadata_server, **extra: object) -> dict:
    return {"BASE_URL": BASE_URL, "TENANT_ID": entra.tenant_id,
            "METADATA_URL": metadata_server.url(entra.metadata_path), **extra}


@pytest.mark.skipif(find_xmlsec1() is None, reason="needs the xmlsec1 program")
def test_xmlsec1_backend_refreshes_pinned_metadata_and_signs_in_without_python_xmlsec(
        entra, signing_key, metadata_server, ada):
    path = entra.metadata_path.split("?")[0]
    metadata_server.set(path, Reply(body=entra.metadata_xml(signed_by=signing_key)))
    stranger = make_signing_key_pair()
    other = "/without-python-xmlsec/wrongly-signed.xml"
    metadata_server.set(other, Reply(body=entra.metadata_xml(signed_by=stranger)))
    genuine = idp_initiated(entra, ada)

    out = run_without_python_xmlsec(
        sso=sso(entra, metadata_server, SIGNATURE_BACKEND="xmlsec1",
                METADATA_SIGNING_FINGERPRINTS=[fingerprint(signing_key)]),
        saml_responses=[genuine, forged(idp_initiated(entra, ada))],
        other_metadata_url=metadata_server.url(other),
    )

    assert out["import xmlsec"] == "ImportError"
    exit_code, output = out["refresh"]
    assert exit_code == 0, output
    assert output.endswith(f"; metadata signature verified ({fingerprint(signing_key)[:23]})")
    assert "thoropass_sso.E007" not in out["checks"] and "thoropass_sso.E006" not in out["checks"]
    assert out["acs"][0] == [302, "/home/"]  # signed in
    assert out["acs"][1][0] == 403  # the forged copy is refused: the signature is really checked
    exit_code, output = out["refresh other"]
    assert exit_code == 4 and "which is not pinned" in output, output  # pinning really checks
    assert out["xmlsec in sys.modules"] == "None"


def test_default_backend_without_python_xmlsec_is_a_configuration_error_not_a_500(
        entra, metadata_server, ada):
    metadata_server.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml()))

    out = run_without_python_xmlsec(
        sso=sso(entra, metadata_server), saml_responses=[idp_initiated(entra, ada)],
    )

    assert out["import xmlsec"] == "ImportError"
    assert out["refresh"][0] == 0, out["refresh"][1]  # storing metadata needs no python-xmlsec
    assert "thoropass_sso.E007" in out["checks"]
    assert out["acs"] == [[503, ""]]  # the "not ready" page, not a 500
