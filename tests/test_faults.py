"""Faults of the parts: PostgreSQL and Redis going away during sign-ins, and coming back.

A real gunicorn site (one worker, persistent database connections, as a production site
runs) on a PostgreSQL cluster and a Redis of this module's own (tests/servers.py), which
the tests really stop (PostgreSQL's fast shutdown, Redis's SIGTERM) and start again on
the same port. Responses are really signed and verified. What must hold:

- while a part is down, a sign-in gets the 503 page with its reason
  (``database_unavailable`` / ``replay_store_unavailable``) and a reference that is in
  the log line -- never a 500, and never a response accepted unchecked;
- nothing is half-written: a sign-in cut off inside its transaction leaves no used id,
  no user change, and the very same response signs in once the database is back;
- service resumes by itself: the first sign-in after the part is back succeeds, with no
  restart of the site, also when the site's kept connections went stale while it idled.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from lxml import etree

from thoropass_sso.replay import _digest
from thoropass_sso.testing import EntraStandIn, EntraUser
from thoropass_sso.testing.flows import response_for
from thoropass_sso.testing.metadata_server import MetadataServer, Reply

from .conftest import ACS_URL, BASE_URL, SP_ENTITY_ID
from .databases import count_rows
from .processes import Listener, stop, wait_until_serving
from .servers import PostgresServer, RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 15  # per request; a request that hangs on a dead part fails the test
ASSERTION = "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    # Persistent, as a replay store's Redis must be: a restart keeps the used ids.
    with RedisServer(persistent=True) as server:
        yield server


@pytest.fixture(autouse=True)
def parts_running(postgres: PostgresServer, redis_server: RedisServer) -> Iterator[None]:
    """Whatever a test did, the next one finds both servers up."""
    yield
    for server in (postgres, redis_server):
        if not server.running:
            server.start()


@dataclass
class Site:
    base: str
    log: Path
    database_url: str
    pause: Path

    def post_response(self, entra: EntraStandIn, xml: bytes,
                      browser: requests.Session | None = None) -> requests.Response:
        return (browser or requests.Session()).post(
            f"{self.base}/saml2/acs/", data={"SAMLResponse": entra.post_binding_value(xml)},
            allow_redirects=False, timeout=TIMEOUT)

    def rejection_logged(self, reason: str, reference: str) -> bool:
        return f"sign-in rejected reason={reason} reference={reference} status=503" \
            in self.log.read_text()

    def server_errors(self) -> list[str]:
        said = self.log.read_text()
        return [line for line in said.splitlines()
                if "Internal Server Error" in line or line.startswith("Traceback")]


def _page(response: requests.Response) -> tuple[str, str]:
    reason = re.search(r'data-reason="([a-z_]+)"', response.text)
    reference = re.search(r'data-reason="[a-z_]+">([0-9A-F]+)<', response.text)
    return (reason.group(1) if reason else "", reference.group(1) if reference else "")


def expect_unavailable(site: Site, response: requests.Response, reason: str) -> None:
    """The 503 page: the reason, a reference, and that reference in the log line."""
    assert response.status_code == 503, (response.status_code, response.text[:300])
    on_page, reference = _page(response)
    assert on_page == reason and reference
    assert site.rejection_logged(reason, reference), site.log.read_text()[-2000:]


@pytest.fixture
def make_site(tmp_path, postgres: PostgresServer, redis_server: RedisServer, entra: EntraStandIn,
              metadata_server: MetadataServer) -> Iterator:
    """Start the site (gunicorn, 1 worker) on a fresh database of this module's cluster."""
    started = []

    def start(**sso: object) -> Site:
        name = f"faults_{uuid.uuid4().hex[:12]}"  # left over if a test ends with the cluster down
        database_url = postgres.create_database(name)
        metadata_server.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml()))
        pause = tmp_path / f"pause{len(started)}"
        pause.mkdir()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings_processes",
            "PYTHONPATH": str(ROOT),
            "THOROPASS_TEST_SITE_DATABASE_URL": database_url,
            "THOROPASS_TEST_REDIS_URL": redis_server.url(),
            "THOROPASS_TEST_PAUSE_DIR": str(pause),
            "THOROPASS_TEST_SSO": json.dumps({
                "BASE_URL": BASE_URL, "METADATA_URL": metadata_server.url(entra.metadata_path),
                "TENANT_ID": entra.tenant_id, "ADAPTER": "tests.fault_adapter.PausingAdapter",
                **sso}),
        }
        for command in (["migrate", "--verbosity", "0"], ["createcachetable"],
                        ["refresh_entra_metadata"]):
            subprocess.run([sys.executable, "-m", "django", *command], cwd=ROOT, env=env,
                           check=True, timeout=120, capture_output=True)
        listener = Listener()
        log = tmp_path / f"site{len(started)}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "django.core.wsgi:get_wsgi_application()",
             "--bind", listener.bind, "--workers", "1", "--timeout", "60"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
            pass_fds=(listener.fileno(),))
        started.append((process, listener, name))
        wait_until_serving(process, listener.port, timeout=60, describe=log.read_text)
        return Site(listener.base_url, log, database_url, pause)

    try:
        yield start
    finally:
        for process, listener, name in reversed(started):
            stop(process)
            listener.close()
            if postgres.running:
                postgres.drop_database(name)


def unsolicited(entra: EntraStandIn, user: EntraUser) -> bytes:
    return entra.response_xml(user, acs_url=ACS_URL, audience=SP_ENTITY_ID)


def assertion_digest(xml: bytes) -> str:
    return _digest("assertion", etree.fromstring(xml).find(ASSERTION).get("ID"))


def identity_row(site: Site, user: EntraUser) -> tuple:
    import psycopg

    with psycopg.connect(site.database_url) as connection:
        return connection.execute(
            "SELECT i.upn, i.last_sign_in, u.first_name FROM thoropass_sso_entraidentity i "
            "JOIN auth_user u ON u.id = i.user_id WHERE i.object_id = %s",
            [user.object_id]).fetchone()


def test_postgres_stopped_during_sign_ins_is_a_503_and_service_resumes(
        make_site, postgres: PostgresServer, entra: EntraStandIn, ada: EntraUser) -> None:
    site = make_site()
    assert site.post_response(entra, unsolicited(entra, ada)).status_code == 302
    signed_in = requests.Session()
    assert site.post_response(entra, unsolicited(entra, ada), signed_in).status_code == 302
    # A browser that began an SP-initiated sign-in, and a My Apps response, both in flight.
    browser = requests.Session()
    login = browser.get(f"{site.base}/saml2/login/?next=/deep/link/", allow_redirects=False,
                        timeout=TIMEOUT)
    request = entra.read_authn_request(login.headers["Location"])
    sp_body = {"SAMLResponse": entra.post_binding_value(response_for(entra, ada, request)),
               "RelayState": request.relay_state}
    idp_xml = unsolicited(entra, ada)

    postgres.stop()
    # Mutation: remove the `except DATABASE_UNAVAILABLE` clause in views/acs.py -> a 500 here.
    expect_unavailable(site, site.post_response(entra, idp_xml), "database_unavailable")
    expect_unavailable(site, browser.post(f"{site.base}/saml2/acs/", data=sp_body,
                                          allow_redirects=False, timeout=TIMEOUT),
                       "database_unavailable")
    # Signing in again or out needs the session, which is in the database.
    expect_unavailable(site, signed_in.get(f"{site.base}/saml2/login/", allow_redirects=False,
                                           timeout=TIMEOUT), "database_unavailable")
    expect_unavailable(site, signed_in.get(f"{site.base}/saml2/logout/", allow_redirects=False,
                                           timeout=TIMEOUT), "database_unavailable")

    postgres.start()
    # Back by itself, no restart of the site: the responses refused during the outage sign
    # in now (nothing of them was kept), the SP-initiated one to its deep link.
    assert site.post_response(entra, idp_xml).status_code == 302
    finished = browser.post(f"{site.base}/saml2/acs/", data=sp_body, allow_redirects=False,
                            timeout=TIMEOUT)
    assert finished.status_code == 302 and finished.headers["Location"] == "/deep/link/"
    # The sign-out that failed did not pretend: that browser is still signed in.
    assert signed_in.get(f"{site.base}/home/", timeout=TIMEOUT).text == f"home of {ada.upn}"
    assert site.server_errors() == []


def test_a_sign_in_cut_off_inside_its_transaction_leaves_nothing_behind(
        make_site, postgres: PostgresServer, entra: EntraStandIn, ada: EntraUser) -> None:
    site = make_site()
    assert site.post_response(entra, unsolicited(entra, ada)).status_code == 302
    before = identity_row(site, ada)
    renamed = EntraUser(upn=ada.upn, object_id=ada.object_id, given_name="Renamed",
                        email=ada.email)
    xml = unsolicited(entra, renamed)

    # The sign-in stops after recording its used ids and locking the user, uncommitted.
    (site.pause / "armed").touch()
    result: dict[str, requests.Response] = {}
    posting = threading.Thread(target=lambda: result.update(r=site.post_response(entra, xml)))
    posting.start()
    assert _wait_for(site.pause / "paused"), "the sign-in never reached its transaction"
    postgres.stop()  # fast shutdown: the open transaction is rolled back, its backend ends
    (site.pause / "go").touch()
    posting.join(TIMEOUT * 2)
    expect_unavailable(site, result["r"], "database_unavailable")

    postgres.start()
    assert identity_row(site, ada) == before  # neither the rename nor last_sign_in
    assert count_rows(site.database_url, "SELECT count(*) FROM thoropass_sso_usedmessageid "
                      "WHERE key = %s", assertion_digest(xml)) == 0
    # Mutation: the ACS's writes outside transaction.atomic() (views/acs.py) -> the used
    # ids were committed before the cut, and this same response is refused as a replay.
    assert site.post_response(entra, xml).status_code == 302
    assert identity_row(site, ada)[2] == "Renamed"
    assert site.server_errors() == []


def test_redis_stopped_during_sign_ins_is_a_503_never_a_replay_and_service_resumes(
        make_site, redis_server: RedisServer, entra: EntraStandIn, ada: EntraUser) -> None:
    site = make_site(REPLAY_CACHE="redis")
    used = unsolicited(entra, ada)
    assert site.post_response(entra, used).status_code == 302
    fresh = unsolicited(entra, ada)
    before = identity_row(site, ada)

    redis_server.stop()
    # Mutation: claim_once answering True when the cache raises (replay.py, fail open)
    # -> the replay below is accepted (302).
    expect_unavailable(site, site.post_response(entra, used), "replay_store_unavailable")
    refused = site.post_response(entra, fresh)
    expect_unavailable(site, refused, "replay_store_unavailable")
    assert refused.elapsed.total_seconds() < TIMEOUT / 2  # refused at once, not after a hang
    assert identity_row(site, ada) == before

    redis_server.start()
    # A persistent Redis kept the used id: still a replay. The refused response left
    # nothing, and signs in.
    replayed = site.post_response(entra, used)
    assert replayed.status_code == 403 and _page(replayed)[0] == "replay"
    assert site.post_response(entra, fresh).status_code == 302
    assert site.server_errors() == []


def test_the_first_sign_in_after_both_parts_restarted_while_idle_succeeds(
        make_site, postgres: PostgresServer, redis_server: RedisServer, entra: EntraStandIn,
        ada: EntraUser) -> None:
    site = make_site(REPLAY_CACHE="redis")
    assert site.post_response(entra, unsolicited(entra, ada)).status_code == 302
    # No request in between: the worker's kept database and Redis connections are stale.
    postgres.stop()
    postgres.start()
    redis_server.stop()
    redis_server.start()
    # Mutation: CONN_HEALTH_CHECKS off (tests/settings_processes.py) -> this first sign-in
    # is a 503. (Redis needs no setting: redis-py's pool finds a connection the server
    # closed when it hands it out, and reconnects.)
    first = site.post_response(entra, unsolicited(entra, ada))
    assert first.status_code == 302, _page(first)
    assert site.server_errors() == []


def _wait_for(path: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
