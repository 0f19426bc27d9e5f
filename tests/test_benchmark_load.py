"""The benchmark's load generator counts what the server really answered.

Not a timed test: it checks that ``benchmarks.load.post_all`` sends every body once,
counts only 302s to the expected place as sign-ins, and reports the rest as errors,
against a real local HTTP server that closes each connection as gunicorn's sync
workers do.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks.load import post_all


class _Handler(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(body)
        if body.startswith(b"good"):
            self.send_response(302)
            self.send_header("Location", "/home/")
        elif body.startswith(b"elsewhere"):
            self.send_response(302)
            self.send_header("Location", "/error/")
        else:
            self.send_response(403)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    _Handler.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_every_body_is_sent_once_and_only_good_answers_count(server):
    bodies = [b"good-%d" % i for i in range(30)] + [b"elsewhere", b"refused", b"refused"]
    result = post_all(server, "/saml2/acs/", bodies, concurrency=4, request_timeout=10)
    assert sorted(_Handler.received) == sorted(bodies)
    assert (result.sent, result.ok) == (33, 30)
    assert result.errors == {"HTTP 302": 1, "HTTP 403": 2}
    assert len(result.latencies_ms) == 30 and result.wall_s > 0


def test_a_refused_connection_is_an_error_not_a_hang():
    from .processes import refused_port

    with refused_port() as port:
        result = post_all(f"http://127.0.0.1:{port}", "/noop/", [b"x"] * 3, request_timeout=5)
    assert (result.sent, result.ok) == (3, 0)
    assert sum(result.errors.values()) == 3
