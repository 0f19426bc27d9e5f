"""A bounded HTTP load generator: a fixed number of POSTs, fixed concurrency, timeouts.

One thread and non-blocking sockets (``selectors``), with every request's bytes
built before the clock starts. It shares the machine's CPUs with the server
under test, so it is kept lean: the cheaper the generator, the less it takes
from the faster site, whose ratio it would otherwise understate. gunicorn's
sync workers close every connection, so each request opens one and the
response ends at EOF. It stops by itself: when every body has been sent once,
or at the deadline, whichever comes first; a request open longer than
``request_timeout`` is abandoned and counted as an error.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    timed_out: bool = False

    @property
    def per_second(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def error(self, problem: str) -> None:
        self.errors[problem] = self.errors.get(problem, 0) + 1


@dataclass
class _InFlight:
    sock: socket.socket
    fd: int
    request: memoryview
    started: float
    received: bytearray = field(default_factory=bytearray)


def build_request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


def response_problem(raw: bytes, expect_location: str) -> str | None:
    """None for a 302 to ``expect_location``, else a short description."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return "bad response"
    status = int(parts[1])
    location = next((line.split(":", 1)[1].strip() for line in lines[1:]
                     if line.lower().startswith("location:")), None)
    return None if status == 302 and location == expect_location else f"HTTP {status}"


def post_all(base_url: str, path: str, bodies: list[bytes], *, concurrency: int = 4,
             expect_location: str = "/home/", request_timeout: float = 30.0,
             deadline_s: float = 300.0) -> LoadResult:
    parts = urlsplit(base_url)
    host, port = parts.hostname, parts.port or 80
    requests = [build_request(host, port, path, body) for body in bodies]
    result = LoadResult()
    selector = selectors.DefaultSelector()
    pending = iter(requests)
    in_flight: dict[int, _InFlight] = {}

    def finish(entry: _InFlight, problem: str | None) -> None:
        selector.unregister(entry.sock)
        entry.sock.close()
        del in_flight[entry.fd]
        result.sent += 1
        if problem is None:
            result.ok += 1
            result.latencies_ms.append((time.perf_counter() - entry.started) * 1000)
        else:
            result.error(problem)

    def start_next() -> bool:
        request = next(pending, None)
        if request is None:
            return False
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        entry = _InFlight(sock, sock.fileno(), memoryview(request), time.perf_counter())
        in_flight[entry.fd] = entry
        selector.register(sock, selectors.EVENT_WRITE, entry)
        code = sock.connect_ex((host, port))
        if code not in (0, errno.EINPROGRESS):
            finish(entry, f"connect errno {code}")
        return True

    began = time.perf_counter()
    stop_at = time.monotonic() + deadline_s
    while True:
        while len(in_flight) < concurrency:
            if time.monotonic() > stop_at:
                result.timed_out = result.timed_out or next(pending, None) is not None
                break
            if not start_next():
                break
        if not in_flight:
            break
        for key, events in selector.select(timeout=0.5):
            entry: _InFlight = key.data
            try:
                if events & selectors.EVENT_WRITE:
                    error = entry.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if error:
                        finish(entry, f"connect errno {error}")
                        continue
                    sent = entry.sock.send(entry.request)
                    entry.request = entry.request[sent:]
                    if not entry.request:
                        selector.modify(entry.sock, selectors.EVENT_READ, entry)
                else:
                    chunk = entry.sock.recv(65536)
                    if chunk:
                        entry.received += chunk
                    else:
                        finish(entry, response_problem(bytes(entry.received), expect_location))
            except OSError as exc:
                finish(entry, type(exc).__name__)
        now = time.perf_counter()
        for entry in [e for e in in_flight.values() if now - e.started > request_timeout]:
            finish(entry, "timeout")
    result.wall_s = time.perf_counter() - began
    selector.close()
    return result
