"""Run the example project as a real server, the way outside test suites drive it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example_project"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``python example_project/manage.py ...`` from the repository root."""
    return subprocess.run([sys.executable, "example_project/manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def example_env(tmp_path: Path, port: int, metadata_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "THOROPASS_SSO_"))}
    env.update({
        "THOROPASS_SSO_BASE_URL": f"http://127.0.0.1:{port}",
        "EXAMPLE_DB_PATH": str(tmp_path / "example.sqlite3"),
        "EXAMPLE_STATE_DIR": str(tmp_path / "state"),
    })
    if metadata_url:
        env["THOROPASS_SSO_METADATA_URL"] = metadata_url
    return env


@contextmanager
def gunicorn(env: dict[str, str], port: int, workers: int = 2) -> Iterator[str]:
    """``cd example_project && gunicorn example_project.wsgi`` on 127.0.0.1:port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "example_project.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--timeout", "30"],
        cwd=EXAMPLE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/whoami/", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read() if process.stdout else ""
                    raise RuntimeError(f"gunicorn did not start:\n{output}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
