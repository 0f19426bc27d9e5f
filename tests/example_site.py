"""Run the example project as a real server, the way outside test suites drive it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import databases
from .processes import Listener, serving

__all__ = ["Listener", "example_env", "gunicorn", "manage"]


REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example_project"


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``python example_project/manage.py ...`` from the repository root."""
    return subprocess.run([sys.executable, "example_project/manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def example_env(tmp_path: Path, port: int, metadata_url: str = "") -> dict[str, str]:
    """The example project's environment. On the run's PostgreSQL (a fresh database,
    DATABASE_URL) and Redis (REDIS_URL) when it has them, else on a SQLite file."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "THOROPASS_SSO_")) and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({
        "THOROPASS_SSO_BASE_URL": f"http://127.0.0.1:{port}",
        "EXAMPLE_DB_PATH": str(tmp_path / "example.sqlite3"),
        "EXAMPLE_STATE_DIR": str(tmp_path / "state"),
    })
    if databases.ON_POSTGRES:
        env["DATABASE_URL"] = databases.new_postgres_database("example")
    if databases.REDIS_URL:
        env["REDIS_URL"] = databases.REDIS_URL
    if metadata_url:
        env["THOROPASS_SSO_METADATA_URL"] = metadata_url
    return env


@contextmanager
def gunicorn(env: dict[str, str], listener: Listener, workers: int = 2) -> Iterator[str]:
    """``cd example_project && gunicorn example_project.wsgi`` on ``listener``'s socket."""
    argv = [sys.executable, "-m", "gunicorn", "example_project.wsgi", "--bind", listener.bind,
            "--workers", str(workers), "--timeout", "30"]
    with serving(argv, listener=listener, cwd=EXAMPLE, env=env):
        yield listener.base_url
