"""A real HTTP server on 127.0.0.1 that serves metadata documents (and faults) to tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/xml"
    delay: float = 0.0
    truncate_after: int | None = None  # declare the full length, send fewer bytes
    drip_interval: float = 0.0  # send the body one byte at a time, pausing this long between
    headers: dict[str, str] = field(default_factory=dict)


class MetadataServer:
    """Serve ``Reply`` objects by path; ``set(path, reply)`` changes them between requests."""

    def __init__(self) -> None:
        self._replies: dict[str, Reply | Callable[[], Reply]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests.append(self.path)
                reply = server._replies.get(self.path) or server._replies.get(self.path.split("?")[0])
                if callable(reply):
                    reply = reply()
                if reply is None:
                    reply = Reply(404, b"<html><body>Not found</body></html>", "text/html")
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                body = reply.body if reply.truncate_after is None else reply.body[: reply.truncate_after]
                try:
                    if reply.drip_interval:
                        # A slow-drip server: every read gets a byte just in time,
                        # so only a total deadline stops the client.
                        for index in range(len(body)):
                            self.wfile.write(body[index : index + 1])
                            self.wfile.flush()
                            time.sleep(reply.drip_interval)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def set(self, path: str, reply: Reply | Callable[[], Reply]) -> None:
        self._replies[path] = reply

    def __enter__(self) -> MetadataServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
