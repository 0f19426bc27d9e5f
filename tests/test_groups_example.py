"""The example project maps the stand-in's groups/roles (or THOROPASS_SSO_GROUP_MAP) onto
Django, visible at /whoami/; its logout goes through single logout with the stand-in."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from .example_site import example_env, gunicorn
from .test_example_project import WHOAMI_KEYS, field, prepare

pytestmark = pytest.mark.slow


def tile_sign_in(base: str, user_index: int) -> requests.Session:
    browser = requests.Session()
    launched = browser.post(f"{base}/entra-standin/myapps/", data={"user": str(user_index)})
    acs = browser.post(f"{base}/saml2/acs/", allow_redirects=False,
                       data={"SAMLResponse": field(launched.text, "SAMLResponse")})
    assert acs.status_code == 302, acs.text
    return browser


def raw_get(url: str, browser: requests.Session):
    """GET ``url`` byte for byte, with the browser's cookies."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    connection.request("GET", f"{parts.path}?{parts.query}", headers={"Cookie": cookie})
    return connection.getresponse()


def test_demo_mapping_and_env_mapping_show_in_whoami_and_logout_is_single(tmp_path, listener):
    port = listener.port
    env = example_env(tmp_path, port)
    prepare(env)
    with gunicorn(env, listener) as base:
        adele = tile_sign_in(base, 0)
        me = adele.get(f"{base}/whoami/").json()
        assert set(me) == WHOAMI_KEYS
        assert me["groups"] == ["Administrators", "Engineering"]
        assert (me["is_staff"], me["is_superuser"]) == (True, True)
        megan = tile_sign_in(base, 1).get(f"{base}/whoami/").json()
        assert megan["groups"] == ["Marketing", "Readers"]
        assert (megan["is_staff"], megan["is_superuser"]) == (False, False)

        # Logout: to the stand-in's SLO URL with a LogoutRequest, back with its signed response.
        to_entra = adele.get(f"{base}/saml2/logout/", allow_redirects=False)
        assert "SAMLRequest=" in to_entra.headers["Location"]
        back = adele.get(to_entra.headers["Location"], allow_redirects=False)
        assert "SAMLResponse=" in back.headers["Location"]
        assert "%2f" in back.headers["Location"] or "%2b" in back.headers["Location"]
        # requests/urllib3 would upper-case the escapes (breaking the signature, as any
        # re-encoding does); a browser follows Location verbatim, so do that here.
        done = raw_get(back.headers["Location"], adele)
        assert done.status == 302, done.read()[-400:]
        assert done.getheader("Location") == "/"
        assert adele.get(f"{base}/whoami/").status_code == 401

    env["THOROPASS_SSO_GROUP_MAP"] = json.dumps({
        "ROLE_MAP": {"Reader": ["Readers", "Newsletter"]}, "STAFF_ROLES": ["Reader"]})
    with gunicorn(env, listener) as base:
        # Mirror mode: the demo mapping's groups are no longer managed, so they stay;
        # the new mapping adds its groups and manages is_staff.
        megan = tile_sign_in(base, 1).get(f"{base}/whoami/").json()
        assert megan["groups"] == ["Marketing", "Newsletter", "Readers"]
        assert (megan["is_staff"], megan["is_superuser"]) == (True, False)
