"""Issue 3, item 5 across OS processes: two real gunicorn servers share one
file-based SQLite database, and through it the replay store: the default
(thoropass_sso's table) and a Django database cache named by REPLAY_CACHE.
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

from thoropass_sso.pending import COOKIE_NAME
from thoropass_sso.testing import EntraStandIn, EntraUser
from thoropass_sso.testing.flows import response_for
from thoropass_sso.testing.metadata_server import MetadataServer, Reply

from .conftest import ACS_URL, BASE_URL, SP_ENTITY_ID
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


@pytest.fixture(scope="module", params=["database", "database cache"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, entra: EntraStandIn,
    metadata_server: MetadataServer,
) -> Iterator[tuple[Server, Server]]:
    """One database (migrate, cache table, metadata via the real command); two servers on it."""
    replay_store = {"REPLAY_CACHE": "default"} if request.param == "database cache" else {}
    workdir = tmp_path_factory.mktemp("processes")
    metadata_server.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml()))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings_processes",
        "PYTHONPATH": str(ROOT),
        "THOROPASS_TEST_DB": str(workdir / "site.sqlite3"),
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


def _rejections(server: Server, code: str) -> int:
    return server.log.read_text().count(f"sign-in rejected reason={code} ")


def test_sp_initiated_replay_to_another_process(
    site: tuple[Server, Server], entra: EntraStandIn, ada: EntraUser
) -> None:
    one, two = site
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
    replayed = two.request("POST", "/saml2/acs/", body, pending)  # the same POST, byte for byte
    assert replayed.status == 403 and _reason(replayed) == "replay"
    assert _rejections(two, "replay") == before + 1


def test_unsolicited_replay_to_another_process(
    site: tuple[Server, Server], entra: EntraStandIn, ada: EntraUser
) -> None:
    one, two = site
    xml = entra.response_xml(ada, acs_url=ACS_URL, audience=SP_ENTITY_ID)
    body = urlencode({"SAMLResponse": entra.post_binding_value(xml)})
    assert one.request("POST", "/saml2/acs/", body).status == 302

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
