"""Several hosts behind a load balancer are one site: the example project, twice.

Two gunicorn servers (separate processes, two workers each) run the example project
with the same THOROPASS_SSO_BASE_URL, secret key, database and replay store -- in the
PostgreSQL sessions a PostgreSQL database and the run's Redis (DATABASE_URL, REDIS_URL),
on SQLite a shared file and the used-id table. The test plays the load balancer,
choosing the host for each request, and proves that:

- a sign-in begun on host A (the login redirect, which sets the signed pending cookie)
  completes on host B, and the session it creates is valid on both;
- a response used on one host is refused on the other (SP- and IdP-initiated);
- a metadata refresh, ``manage.py refresh_entra_metadata`` run as its own process as
  cron would, reaches every worker of both hosts within METADATA_RELOAD_INTERVAL.
"""

from __future__ import annotations

import re
import time
from contextlib import ExitStack

import pytest
import requests
from lxml import etree

from thoropass_sso.replay import _digest
from thoropass_sso.testing import EntraStandIn, EntraUser, make_signing_key_pair
from thoropass_sso.testing.metadata_server import MetadataServer, Reply

from .databases import count_rows
from .example_site import Listener, example_env, gunicorn, manage

pytestmark = pytest.mark.slow

BASE_URL = "http://localhost:8000"  # the load balancer's address; no request goes there
ACS_URL, ENTITY_ID = f"{BASE_URL}/saml2/acs/", f"{BASE_URL}/saml2/metadata/"
RELOAD_INTERVAL = 2  # seconds (THOROPASS_SSO_METADATA_RELOAD_INTERVAL); the default is 30
TIMEOUT = 30


def reason(response: requests.Response) -> str:
    match = re.search(r'data-reason="([a-z_]+)"', response.text)
    return match.group(1) if match else ""


def used_id_stored(env: dict[str, str], xml: bytes) -> bool:
    """Whether the assertion's id is in the replay store the example project was given."""
    digest = _digest("assertion", etree.fromstring(xml).find(
        "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion").get("ID"))
    if env.get("REDIS_URL"):
        import redis

        key = f"thoropass-example:1:thoropass_sso:{digest}"  # the example's KEY_PREFIX
        return bool(redis.Redis.from_url(env["REDIS_URL"]).exists(key))
    url = env.get("DATABASE_URL") or f"sqlite:///{env['EXAMPLE_DB_PATH']}"
    return count_rows(url, "SELECT count(*) FROM thoropass_sso_usedmessageid WHERE key = %s",
                      digest) == 1


def tile_sign_in(host: str, entra: EntraStandIn, user: EntraUser) -> requests.Response:
    xml = entra.response_xml(user, acs_url=ACS_URL, audience=ENTITY_ID)
    return requests.post(f"{host}/saml2/acs/", data={"SAMLResponse": entra.post_binding_value(xml)},
                         allow_redirects=False, timeout=TIMEOUT)


def test_two_hosts_sharing_database_and_replay_store_are_one_site(tmp_path) -> None:
    keys = [make_signing_key_pair(), make_signing_key_pair()]
    grace = EntraUser(upn="grace@contoso.example", given_name="Grace",
                      email="grace.hopper@contoso.example")
    with MetadataServer() as idp_host, ExitStack() as stack:
        entra = EntraStandIn(tmp_path / "idp", base_url=idp_host.base_url, signing_keys=keys)
        metadata_path = entra.metadata_path.split("?")[0]
        idp_host.set(metadata_path, Reply(body=entra.metadata_xml(certificates=[keys[0]])))
        listeners = [stack.enter_context(Listener()), stack.enter_context(Listener())]
        env = example_env(tmp_path, listeners[0].port, metadata_url=idp_host.url(entra.metadata_path))
        env.update({"THOROPASS_SSO_BASE_URL": BASE_URL, "DJANGO_SECRET_KEY": "one-site-two-hosts",
                    "THOROPASS_SSO_METADATA_RELOAD_INTERVAL": str(RELOAD_INTERVAL)})
        for command in (("migrate", "--verbosity", "0"), ("refresh_entra_metadata",)):
            done = manage(env, *command)
            assert done.returncode == 0, done.stdout + done.stderr
        host_a, host_b = (stack.enter_context(gunicorn(env, listener, workers=2))
                          for listener in listeners)

        # Begun on A (A sets the pending cookie), finished on B.
        # Mutation: the pending cookie signed with a per-process salt (pending.py) -> B
        # refuses it as unknown_request.
        browser = requests.Session()
        # As a load balancer does, the public host name travels to each host (with DEBUG on,
        # the login page refuses a browser on another host than BASE_URL's: wrong_host).
        browser.headers["Host"] = BASE_URL.split("://", 1)[1]
        login = browser.get(f"{host_a}/saml2/login/?next=/private/", allow_redirects=False,
                            timeout=TIMEOUT)
        assert login.status_code == 302 and login.headers["Location"].startswith(entra.sso_url)
        request = entra.read_authn_request(login.headers["Location"])
        assert (request.acs_url, request.issuer) == (ACS_URL, ENTITY_ID)
        xml = entra.response_xml(grace, acs_url=ACS_URL, audience=ENTITY_ID,
                                 in_response_to=request.id)
        body = {"SAMLResponse": entra.post_binding_value(xml), "RelayState": request.relay_state}
        pending_cookies = browser.cookies.copy()
        finished = browser.post(f"{host_b}/saml2/acs/", data=body, allow_redirects=False,
                                timeout=TIMEOUT)
        assert finished.status_code == 302, reason(finished) or finished.text[:300]
        assert finished.headers["Location"] == "/private/"
        for host in (host_a, host_b):  # one session, valid on every host
            me = browser.get(f"{host}/whoami/", timeout=TIMEOUT).json()
            assert (me["authenticated"], me["upn"]) == (True, grace.upn)

        # Used on B, refused on A: the same POST with the same pending cookie.
        # Mutation: claim_once remembering ids in a per-process set (replay.py) -> accepted.
        replayed = requests.post(f"{host_a}/saml2/acs/", data=body, cookies=pending_cookies,
                                 headers={"Host": browser.headers["Host"]},
                                 allow_redirects=False, timeout=TIMEOUT)
        assert (replayed.status_code, reason(replayed)) == (403, "replay")
        tile = entra.response_xml(grace, acs_url=ACS_URL, audience=ENTITY_ID)
        tile_body = {"SAMLResponse": entra.post_binding_value(tile)}
        assert requests.post(f"{host_a}/saml2/acs/", data=tile_body, allow_redirects=False,
                             timeout=TIMEOUT).status_code == 302
        assert used_id_stored(env, tile)  # in Redis when REDIS_URL is set, else the table
        replayed = requests.post(f"{host_b}/saml2/acs/", data=tile_body, allow_redirects=False,
                                 timeout=TIMEOUT)
        assert (replayed.status_code, reason(replayed)) == (403, "replay")

        # Rollover: Entra signs with the new key, which no worker trusts yet ...
        entra.active_key = 1
        for host in (host_a, host_b):
            for _ in range(4):  # the two workers of each host cache the old certificate
                refused = tile_sign_in(host, entra, grace)
                assert (refused.status_code, reason(refused)) == (403, "signature_invalid")
        # ... until the metadata is refreshed once, by a process of its own, as cron does.
        # Mutation: the registry never re-reading stored metadata (registry.py _cached)
        # -> still signature_invalid below.
        idp_host.set(metadata_path, Reply(body=entra.metadata_xml(certificates=[keys[1]])))
        refreshed = manage(env, "refresh_entra_metadata")
        assert refreshed.returncode == 0, refreshed.stderr
        assert refreshed.stdout.startswith("updated Entra metadata for default: added ")
        # A worker checks the stored metadata at most RELOAD_INTERVAL after its last check,
        # which came before the refresh: from then on, every worker of every host signs in
        # with the new key at the first try. (A lower bound slept, not a race.)
        time.sleep(RELOAD_INTERVAL + 0.25)
        for host in (host_a, host_b):
            for _ in range(6):
                signed_in = tile_sign_in(host, entra, grace)
                assert signed_in.status_code == 302, reason(signed_in)
