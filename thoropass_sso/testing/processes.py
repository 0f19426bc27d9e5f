"""Starting and stopping real server processes on 127.0.0.1 for tests and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(process: subprocess.Popen, port: int, *, timeout: float,
                  describe: Callable[[], str] = lambda: "") -> None:
    """Return once ``port`` accepts connections; raise if ``process`` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                state = "exited" if process.poll() is not None else "did not listen in time"
                raise RuntimeError(f"server on port {port} {state}:\n{describe()}") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate ``process``, killing it if it does not exit within ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def serving(argv: Sequence[str], *, port: int, cwd: Path | str, env: dict[str, str],
            stdout: int | IO[Any] | None = subprocess.DEVNULL,
            start_timeout: float = 30) -> Iterator[subprocess.Popen]:
    """Run ``argv`` (a server listening on 127.0.0.1:``port``) for the duration of the block.

    Its stderr goes to a temporary file, never a pipe nobody reads (a chatty server
    would block once the pipe filled), and is shown if the server fails to start.
    """
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=stdout, stderr=errors,
                                   text=True)

        def what_it_said() -> str:
            errors.seek(0)
            return errors.read()[-4000:]

        try:
            wait_for_port(process, port, timeout=start_timeout, describe=what_it_said)
            yield process
        finally:
            stop(process)
