"""Real server processes on 127.0.0.1 for tests and the benchmark, without port races.

A server gets a socket that is already bound and listening (:class:`Listener`),
inherited as a file descriptor (gunicorn's ``--bind fd://N``): the port is ours
from the moment it is chosen, so no other process can take it between "this
port is free" and "the server listens" (what ``free_port()`` used to risk).
Readiness is an HTTP answer, not a connect: a listening socket accepts
connections before the server is up.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


class Listener:
    """A TCP socket bound to a free port on 127.0.0.1 and listening, to hand to a server."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(128)
        self.socket.set_inheritable(True)

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fileno(self) -> int:
        return self.socket.fileno()

    @property
    def bind(self) -> str:
        """gunicorn's --bind value for this socket."""
        return f"fd://{self.fileno()}"

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 where connections are refused, for as long as the block runs."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))  # bound, not listening: connect() gets ECONNREFUSED
    try:
        yield holder.getsockname()[1]
    finally:
        holder.close()


def wait_until_serving(process: subprocess.Popen, port: int, *, timeout: float,
                       describe=lambda: "") -> None:
    """Return once the server on ``port`` answers HTTP; raise if it dies or never answers."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited:\n{describe()}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/__thoropass_ready__")
            connection.getresponse().read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on port {port} did not answer in time:\n{describe()}") \
                    from None
            time.sleep(0.05)
        finally:
            connection.close()


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
def serving(argv: Sequence[str], *, listener: Listener, cwd: Path | str, env: dict[str, str],
            stdout: int | IO[Any] | None = subprocess.DEVNULL,
            start_timeout: float = 60) -> Iterator[subprocess.Popen]:
    """Run ``argv`` (a server on ``listener``'s socket, e.g. gunicorn ``--bind listener.bind``).

    The listener stays open afterwards (a test may start another server on the same
    address); its owner closes it.

    Its stderr goes to a temporary file, never a pipe nobody reads (a chatty server
    would block once the pipe filled), and is shown if the server fails to start.
    """
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=stdout, stderr=errors,
                                   text=True, pass_fds=(listener.fileno(),))

        def what_it_said() -> str:
            errors.seek(0)
            return errors.read()[-4000:]

        try:
            wait_until_serving(process, listener.port, timeout=start_timeout, describe=what_it_said)
            yield process
        finally:
            stop(process)
