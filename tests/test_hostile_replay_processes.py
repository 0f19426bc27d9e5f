"""Issue 3, item 5 across OS processes: two real gunicorn servers share one
database (a SQLite file, or PostgreSQL in the PostgreSQL sessions), and through it
the replay store: the default (thoropass_sso's table), a Django database cache
named by REPLAY_CACHE, and -- when the run has a Redis -- a RedisCache.
A sign-in through server 1 replayed to server 2 is refused with reason ``replay``."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from lxml import etree

from thoropass_sso.pending import COOKIE_NAME
from thoropass_sso.replay import _digest
from thoropass_sso.testing import EntraStandIn, EntraUser
from thoropass_sso.testing.flows import response_for
from thoropass_sso.testing.metadata_server import MetadataServer, Reply

from .conftest import ACS_URL, BASE_URL, SP_ENTITY_ID
from .databases import REDIS_URL, count_rows, site_database
from .processes import Listener, stop, wait_until_serving

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 15.0


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log: Path

    def request(
        self, method: str, path: str, body: str = "", cookie: str = ""
    ) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        headers = {"Host": "127.0.0.1"}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if cookie:
            headers["Cookie"] = cookie
        connection.request(method, path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.body = response.read().decode(errors="replace")  # type: ignore[attr-defined]
        connection.close()
        return response


def _reason(response: http.client.HTTPResponse) -> str:
    match = re.search(r'data-reason="([a-z_]+)"', response.body)  # type: ignore[attr-defined]
    return match.group(1) if match else ""


STORES = {"database": {}, "database cache": {"REPLAY_CACHE": "default"},
          # tests/settings.py defines the "redis" cache when the run has a Redis.
          **({"redis": {"REPLAY_CACHE": "redis"}} if REDIS_URL else {})}


@dataclass
class Site:
    servers: tuple[Server, Server]
    store: str
    database_url: str


@pytest.fixture(scope="module", params=list(STORES))
def store(request: pytest.FixtureRequest) -> str:
    # Named ``store`` so tests/security_doc.py folds the stores into one row per test:
    # which of them a run has varies with the run (Redis only where one is started).
    return request.param


@pytest.fixture(scope="module")
def site(
    store: str, tmp_path_factory: pytest.TempPathFactory, entra: EntraStandIn,
    metadata_server: MetadataServer,
) -> Iterator[Site]:
    """One database (migrate, cache table, metadata via the real command); two servers on it."""
    workdir = tmp_path_factory.mktemp("processes")
    with site_database(workdir) as database_url:
        for servers in _two_servers(workdir, database_url, STORES[store], entra,
                                    metadata_server):
            yield Site(servers, store, database_url)


def _two_servers(workdir: Path, database_url: str, replay_store: dict, entra: EntraStandIn,
                 metadata_server: MetadataServer) -> Iterator[tuple[Server, Server]]:
    metadata_server.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml()))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_processes",
        "PYTHONPATH": str(ROOT),
        "THOROPASS_TEST_SITE_DATABASE_URL": database_url,
        "THOROPASS_TEST_SSO": json.dumps(
            {
                "BASE_URL": BASE_URL,
                "METADATA_URL": metadata_server.url(entra.metadata_path),
                "TENANT_ID": entra.tenant_id,
                **replay_store,
            }
        ),
    }
    for command in (
        ["migrate", "--verbosity", "0"],
        ["createcachetable"],
        ["refresh_entra_metadata"],
    ):
        subprocess.run(
            [sys.executable, "-m", "django", *command],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
        )

    servers: list[Server] = []
    listeners = [Listener(), Listener()]
    try:
        for index, listener in enumerate(listeners, start=1):
            log = workdir / f"server{index}.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "django.core.wsgi:get_wsgi_application()",
                 "--bind", listener.bind, "--workers", "1", "--timeout", "30"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                pass_fds=(listener.fileno(),),
            )
            servers.append(Server(listener.port, process, log))
        for server in servers:
            wait_until_serving(server.process, server.port, timeout=START_TIMEOUT,
                               describe=server.log.read_text)
        assert servers[0].process.pid != servers[1].process.pid
        yield servers[0], servers[1]
    finally:
        for server in servers:
            stop(server.process)
        for listener in listeners:
            listener.close()


def stored_in(site: Site, digest: str) -> bool:
    """Whether the used id ``digest`` is in the site's replay store, read from outside."""
    if site.store == "redis":
        import redis

        # tests/settings.py: KEY_PREFIX "thoropass-tests", Django's key version 1.
        return bool(redis.Redis.from_url(REDIS_URL).exists(
            f"thoropass-tests:1:thoropass_sso:{digest}"))
    table, column = (("thoropass_sso_usedmessageid", "key") if site.store == "database" else
                     ("thoropass_sso_test_cache", "cache_key"))
    value = digest if site.store == "database" else f":1:thoropass_sso:{digest}"
    return count_rows(site.database_url, f"SELECT count(*) FROM {table} WHERE {column} = %s",  # noqa: S608
                      value) == 1


def _rejections(server: Server, code: str) -> int:
    return server.log.read_text().count(f"sign-in rejected reason={code} ")


def test_sp_initiated_replay_to_another_process(
    site: Site, entra: EntraStandIn, ada: EntraUser
) -> None:
    one, two = site.servers
    login = one.request("GET", "/saml2/login/?" + urlencode({"next": "/deep/link/"}))
    assert login.status == 302
    cookie = SimpleCookie(login.headers["Set-Cookie"])[COOKIE_NAME].value
    request = entra.read_authn_request(login.headers["Location"])
    xml = response_for(entra, ada, request)
    body = urlencode(
        {"SAMLResponse": entra.post_binding_value(xml), "RelayState": request.relay_state}
    )
    pending = f"{COOKIE_NAME}={cookie}"

    first = one.request("POST", "/saml2/acs/", body, pending)
    assert first.status == 302 and first.headers["Location"] == "/deep/link/", first.body  # type: ignore[attr-defined]

    before = _rejections(two, "replay")
    # Mutation: claim_once remembering used ids per process (replay.py) -> accepted here.
    replayed = two.request("POST", "/saml2/acs/", body, pending)  # the same POST, byte for byte
    assert replayed.status == 403 and _reason(replayed) == "replay"
    assert _rejections(two, "replay") == before + 1


def test_unsolicited_replay_to_another_process(
    site: Site, entra: EntraStandIn, ada: EntraUser
) -> None:
    one, two = site.servers
    xml = entra.response_xml(ada, acs_url=ACS_URL, audience=SP_ENTITY_ID)
    body = urlencode({"SAMLResponse": entra.post_binding_value(xml)})
    assert one.request("POST", "/saml2/acs/", body).status == 302
    # The used id is where the servers share it: the store under test, in the database
    # of this run's kind (SQLite file, or PostgreSQL), or in the Redis.
    assertion_id = etree.fromstring(xml).find(
        "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion").get("ID")
    assert stored_in(site, _digest("assertion", assertion_id))

    replayed = two.request("POST", "/saml2/acs/", body)
    assert replayed.status == 403 and _reason(replayed) == "replay"

    # Control: process 2 signs in a fresh response, so the refusal was the replay alone.
    fresh = urlencode(
        {
            "SAMLResponse": entra.post_binding_value(
                entra.response_xml(ada, acs_url=ACS_URL, audience=SP_ENTITY_ID)
            )
        }
    )
    assert two.request("POST", "/saml2/acs/", fresh).status == 302
