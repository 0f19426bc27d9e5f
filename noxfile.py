"""The test matrix. ``./dev test`` runs every session below in order; ``./dev test ARGS`` runs
the quick default session with ARGS for pytest (see ``./dev``; ``nox -l`` lists them).

| session                    | Python | Django  | database         | replay stores also on | browser test |
|----------------------------|--------|---------|------------------|-----------------------|--------------|
| lint                       | 3.11   |         |                  |                       |              |
| tests-django5.2-sqlite     | 3.11   | 5.2 LTS | SQLite           |                       | yes          |
| tests-django5.2-postgres   | 3.11   | 5.2 LTS | PostgreSQL       | Redis                 |              |
| tests-django6.0-postgres   | 3.12   | 6.0     | PostgreSQL       | Redis                 |              |

Every test session runs the whole suite (the browser test, which drives Chromium, in the
first one only, and after it the fixed sample of mutants of ``./dev mutate --sample``). The
PostgreSQL sessions run it under ``python -m tests.servers --postgres --redis``, which
starts a throwaway PostgreSQL cluster and a Redis for that pytest run and stops them
afterwards, also when it fails (tests/servers.py); the fault tests start servers of their
own to stop and restart. Interpreters are found on PATH, in pyenv (~/.pyenv/versions) or
through THOROPASS_PYTHON311 / THOROPASS_PYTHON312; nothing is ever downloaded. A missing
interpreter fails its session with a message saying how to get it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
RUFF = "ruff==0.17.6"

nox.options.sessions = ["lint", "tests-django5.2-sqlite", "tests-django5.2-postgres",
                        "tests-django6.0-postgres"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"
nox.options.default_venv_backend = "venv"


def interpreter(version: str) -> str | None:
    """An absolute path to a working ``python<version>`` (with venv), or None."""
    override = os.environ.get(f"THOROPASS_PYTHON{version.replace('.', '')}", "")
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = [override, shutil.which(f"python{version}") or "",
                  *sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python"), reverse=True),
                  f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in filter(None, candidates):
        try:
            found = subprocess.run(
                [candidate, "-c", "import sys, venv, ensurepip; print(sys.executable, "
                 "'%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30, check=False).stdout.split()
        except OSError:
            continue
        if len(found) == 2 and found[1] == version:
            return found[0]
    return None


PYTHONS = {version: interpreter(version) for version in ("3.11", "3.12")}


def need(session: nox.Session, version: str) -> None:
    """Fail (never skip) a session whose Python is missing, saying how to get it. Such a
    session runs on nox's own interpreter only to say so."""
    if PYTHONS[version] is None:
        session.error(
            f"Python {version} was not found (PATH, ~/.pyenv/versions, /usr/bin). Install it "
            f"(pyenv install {version}; or your OS's python{version} with its venv module) or "
            f"point THOROPASS_PYTHON{version.replace('.', '')} at it.")


def install(session: nox.Session, *requirements: str) -> None:
    """pip install, skipped when this venv already has exactly these requirements for
    this setup.cfg and pyproject.toml (reused venvs make a local re-run quick)."""
    digest = hashlib.sha256("\n".join(requirements).encode()
                            + (ROOT / "setup.cfg").read_bytes()
                            + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = Path(session.virtualenv.location) / ".thoropass-installed"
    if stamp.exists() and stamp.read_text() == digest:
        session.log("requirements unchanged, not reinstalling")
        return
    session.install("--quiet", "--disable-pip-version-check", *requirements)
    stamp.write_text(digest)


def selects_tests(posargs: list[str]) -> bool:
    """Whether pytest arguments pick some tests (``-k replay``, a path), not only say how
    to report (``-q``, as .ci/run passes): a partial run skips the mutation sample."""
    selecting = {"-k", "-m", "--lf", "--last-failed", "--deselect", "-x", "--exitfirst"}
    return any(arg in selecting or not arg.startswith("-") for arg in posargs)


def suite(session: nox.Session, django: str, *, postgres: bool, browser: bool,
          mutation_sample: bool = False) -> None:
    """``django``: a requirement, e.g. "Django>=5.2,<5.3"."""
    install(session, "-e", ".[test]", django)
    session.run("python", "-c", "import django, sys; print('Django', django.get_version(), "
                "'on Python', sys.version.split()[0])")
    pytest = ["python", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs]
    if not browser:
        pytest += ["--ignore", "tests/test_browser_demo.py"]
    # Never inherit a database or Redis from the caller's environment: the session says.
    env = {"THOROPASS_TEST_DATABASE_URL": "", "THOROPASS_TEST_REDIS_URL": "",
           "THOROPASS_TEST_REQUIRE": ""}
    if postgres:
        # The servers live for this pytest run; tests/conftest.py refuses to run without them.
        env["THOROPASS_TEST_REQUIRE"] = "postgres,redis"
        session.run("python", "-m", "tests.servers", "--postgres", "--redis", "--", *pytest, env=env)
    else:
        session.run(*pytest, env=env)
    if mutation_sample and not selects_tests(session.posargs):
        # CI's fixed sample of mutants (docs/mutation-testing.md), in this session's venv:
        # a surviving mutant no one has explained fails the run.
        session.run("python", "-m", "tests.mutation", "--sample", env=env)


@nox.session(python=PYTHONS["3.11"])
def lint(session: nox.Session) -> None:
    """ruff check (configuration in pyproject.toml)."""
    need(session, "3.11")
    install(session, RUFF)
    session.run("ruff", "check", ".")


@nox.session(name="tests-django5.2-sqlite", python=PYTHONS["3.11"])
def tests_django52_sqlite(session: nox.Session) -> None:
    """Django 5.2 LTS, Python 3.11, SQLite; with the browser test, then the mutation sample."""
    need(session, "3.11")
    suite(session, "Django>=5.2,<5.3", postgres=False, browser=True, mutation_sample=True)


@nox.session(name="tests-django5.2-postgres", python=PYTHONS["3.11"])
def tests_django52_postgres(session: nox.Session) -> None:
    """Django 5.2 LTS, Python 3.11, PostgreSQL, and Redis for the replay-store variants."""
    need(session, "3.11")
    suite(session, "Django>=5.2,<5.3", postgres=True, browser=False)


@nox.session(name="tests-django6.0-postgres", python=PYTHONS["3.12"])
def tests_django60_postgres(session: nox.Session) -> None:
    """Django 6.0, Python 3.12, PostgreSQL, and Redis for the replay-store variants."""
    need(session, "3.12")
    suite(session, "Django>=6.0,<6.1", postgres=True, browser=False)
