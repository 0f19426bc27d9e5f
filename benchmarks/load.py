"""A bounded HTTP load generator: a fixed number of POSTs, fixed concurrency, timeouts.

Threads with plain ``http.client`` (gunicorn's sync workers close every
connection, so each request opens one). It stops by itself: when every body
has been sent once, or at the deadline, whichever comes first.
"""

from __future__ import annotations

import http.client
import threading
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


def post_all(base_url: str, path: str, bodies: list[bytes], *, concurrency: int = 4,
             expect_location: str = "/home/", request_timeout: float = 30.0,
             deadline_s: float = 300.0) -> LoadResult:
    parts = urlsplit(base_url)
    host, port = parts.hostname, parts.port
    result = LoadResult()
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))
    stop_at = time.monotonic() + deadline_s

    def worker() -> None:
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            if time.monotonic() > stop_at:
                result.timed_out = True
                return
            start = time.perf_counter()
            try:
                connection = http.client.HTTPConnection(host, port, timeout=request_timeout)
                connection.request("POST", path, body=bodies[index], headers={
                    "Content-Type": "application/x-www-form-urlencoded", "Connection": "close"})
                response = connection.getresponse()
                response.read()
                connection.close()
                good = response.status == 302 and response.getheader("Location") == expect_location
                problem = None if good else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as exc:
                problem = type(exc).__name__
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                result.sent += 1
                if problem is None:
                    result.ok += 1
                    result.latencies_ms.append(elapsed)
                else:
                    result.errors[problem] = result.errors.get(problem, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=deadline_s + request_timeout + 5)
    result.wall_s = time.perf_counter() - began
    return result
