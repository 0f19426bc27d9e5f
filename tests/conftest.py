from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from django.core.management import call_command

from thoropass_sso.runtime import forget_runtime
from thoropass_sso.testing import EntraStandIn, EntraUser, make_signing_key_pair
from thoropass_sso.testing.metadata_server import MetadataServer, Reply

from . import databases, security_doc

BASE_URL = "http://testserver"
ACS_URL = f"{BASE_URL}/saml2/acs/"
SP_ENTITY_ID = f"{BASE_URL}/saml2/metadata/"

# Signature backends (THOROPASS_SSO['SIGNATURE_BACKEND']) that every hostile-input test
# (tests/test_hostile_*.py) and every test marked ``every_signature_backend`` runs on.
# Both by default; THOROPASS_SSO_TEST_SIGNATURE_BACKENDS=python-xmlsec narrows a quick run.
DEFAULT_SIGNATURE_BACKEND = "python-xmlsec"
SIGNATURE_BACKENDS = os.environ.get(
    "THOROPASS_SSO_TEST_SIGNATURE_BACKENDS", "python-xmlsec,xmlsec1"
).split(",")
# Not re-run per backend: it starts two gunicorn servers to test the replay cache
# across processes, which no verification path takes part in (test_hostile_replay
# covers replay on both backends in-process).
_SINGLE_BACKEND_MODULES = {"test_hostile_replay_processes"}


def pytest_configure(config):
    # docs/security-tests.md is written from, and checked against, what the hostile tests
    # proved; a plugin of its own, so its hooks run beside this file's (not instead).
    if not config.pluginmanager.has_plugin("thoropass-security-doc"):
        config.pluginmanager.register(security_doc, "thoropass-security-doc")
    config.addinivalue_line(
        "markers", "every_signature_backend: run the test once per signature backend "
        "(automatic for tests/test_hostile_*.py)",
    )
    config.addinivalue_line(
        "markers", "postgres: needs the run to be on PostgreSQL (the nox PostgreSQL sessions); "
        "deselected on SQLite",
    )
    config.addinivalue_line(
        "markers", "redis: needs the run's Redis (THOROPASS_TEST_REDIS_URL); deselected without",
    )
    # The nox sessions say which servers they started; if one did not reach the tests,
    # that is an error, not a run that quietly covers less (noxfile.py).
    required = set(filter(None, os.environ.get("THOROPASS_TEST_REQUIRE", "").split(",")))
    missing = (({"postgres"} - ({"postgres"} if databases.ON_POSTGRES else set()))
               | ({"redis"} - ({"redis"} if databases.REDIS_URL else set()))) & required
    if missing:
        raise pytest.UsageError(f"THOROPASS_TEST_REQUIRE={','.join(sorted(required))} but no "
                                f"{' or '.join(sorted(missing))} was given to this run: start it "
                                "with python -m tests.servers (noxfile.py)")


def pytest_report_header(config):
    where = "PostgreSQL" if databases.ON_POSTGRES else "SQLite"
    return [f"thoropass_sso tests: database {where}; "
            f"Redis {'yes' if databases.REDIS_URL else 'no (replay-store tests on Redis deselected)'}"]


def pytest_collection_modifyitems(config, items):
    """Tests for a server this run does not have are deselected (listed as such), not skipped."""
    absent = {"postgres": not databases.ON_POSTGRES, "redis": not databases.REDIS_URL}
    keep, drop = [], []
    for item in items:
        needs = [name for name in absent if item.get_closest_marker(name) is not None]
        (drop if any(absent[name] for name in needs) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_generate_tests(metafunc):
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    wanted = (module.startswith("test_hostile_") and module not in _SINGLE_BACKEND_MODULES) \
        or metafunc.definition.get_closest_marker("every_signature_backend") is not None
    if wanted and "signature_backend" in metafunc.fixturenames:
        metafunc.parametrize("signature_backend", SIGNATURE_BACKENDS, indirect=True)


@pytest.fixture
def signature_backend(request, monkeypatch):
    """THOROPASS_SSO['SIGNATURE_BACKEND'] for ``sso_settings`` (the default unless parametrized).

    When parametrized, every runtime the test builds must really use that backend: a
    test that replaced THOROPASS_SSO wholesale (dropping the key) would otherwise pass
    on the default path while claiming to cover the other one.
    """
    wanted = getattr(request, "param", DEFAULT_SIGNATURE_BACKEND)
    if not hasattr(request, "param"):
        yield wanted
        return
    from thoropass_sso import runtime

    built: list[str] = []
    choose = runtime.signature_backend

    def recording(*args, **kwargs):
        backend = choose(*args, **kwargs)
        built.append(backend.name)
        return backend

    monkeypatch.setattr(runtime, "signature_backend", recording)
    yield wanted
    # Something ran, and only on the wanted backend. Regression (issue 16): this used to be
    # ``<=``, which also held when nothing was built at all -- a variant that never verified
    # anything passed as covering the backend.
    assert built, f"no signature was verified with {wanted} in this test"
    assert set(built) == {wanted}, f"runtimes built with {built}, not only {wanted}"


@pytest.fixture
def listener():
    """A listening socket on 127.0.0.1 for a server process to inherit (tests/processes.py)."""
    from .processes import Listener

    with Listener() as bound:
        yield bound


@pytest.fixture(scope="session")
def signing_key():
    return make_signing_key_pair()


@pytest.fixture(scope="session")
def entra(tmp_path_factory, signing_key) -> EntraStandIn:
    """One stand-in tenant for the session (key generation and IdP setup are not free)."""
    return EntraStandIn(tmp_path_factory.mktemp("entra"), signing_keys=[signing_key])


@pytest.fixture(scope="session")
def metadata_server():
    with MetadataServer() as server:
        yield server


@pytest.fixture
def sso_settings(settings, entra, metadata_server, signature_backend):
    """THOROPASS_SSO pointing at the stand-in's metadata on the local HTTP server."""
    metadata_server.set(entra.metadata_path.split("?")[0], Reply(body=entra.metadata_xml()))
    settings.THOROPASS_SSO = {
        "BASE_URL": BASE_URL,
        "METADATA_URL": metadata_server.url(entra.metadata_path),
        "TENANT_ID": entra.tenant_id,
    }
    if signature_backend != DEFAULT_SIGNATURE_BACKEND:
        settings.THOROPASS_SSO["SIGNATURE_BACKEND"] = signature_backend
    forget_runtime()
    cache.clear()
    yield settings
    forget_runtime()


@pytest.fixture
def stored_metadata(sso_settings, db):
    """Metadata fetched by the real command from the real local server."""
    call_command("refresh_entra_metadata", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.fixture
def ada() -> EntraUser:
    return EntraUser(upn="ada@contoso.example", given_name="Ada", surname="Lovelace",
                     email="ada.lovelace@contoso.example")
