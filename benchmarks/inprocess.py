"""In-process measurements of one site: a WSGI call loop, no network, no server.

Run by ``python -m benchmarks`` in a fresh process per site (Django settings are
per process). DJANGO_SETTINGS_MODULE and BENCH_* name the site.

``time``: warm up, then time each sign-in POST to /saml2/acs/ (one fresh response
each) and POSTs to /noop/ and /login-floor/, interleaved; prints JSON with the
milliseconds.
``rss``: sign in COUNT times with responses read from stdin (made by another
process, fresh, so nothing here holds them) and prints resident-set sizes from
/proc/self/status before and after.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

RELAY_STATE = "/home/"
COLD_REQUESTS = 5  # not counted anywhere: imports, first connection, caches filling


def form_body(saml_response: str) -> bytes:
    return urlencode({"SAMLResponse": saml_response, "RelayState": RELAY_STATE}).encode()


class WSGICaller:
    """Call a WSGI application the way gunicorn's sync worker does, minus the socket."""

    def __init__(self, application, base_url: str) -> None:
        self.application = application
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, str(parts.port or 80)

    def post(self, path: str, body: bytes) -> tuple[int, str]:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
            "SERVER_NAME": self.host, "SERVER_PORT": self.port, "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": f"{self.host}:{self.port}", "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http", "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        started: list = []
        result = self.application(environ, lambda status, headers, exc_info=None: started.append(
            (status, headers)))
        try:
            for _chunk in result:
                pass
        finally:
            if hasattr(result, "close"):
                result.close()  # request_finished: Django closes the DB connection here
        status, headers = started[0]
        location = next((v for k, v in headers if k.lower() == "location"), "")
        return int(status.split()[0]), location


def signed_in(status: int, location: str) -> bool:
    return status == 302 and location == RELAY_STATE


def proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _setup() -> WSGICaller:
    import django
    from django.core.wsgi import get_wsgi_application

    django.setup(set_prefix=False)
    return WSGICaller(get_wsgi_application(), os.environ["BENCH_BASE_URL"])


def interleaved(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(kind, index) for every request, the kinds spread evenly through the run.

    Timing the sign-ins, then the no-ops, then the login-only requests would put
    them minutes apart on a machine whose speed drifts; interleaved, every ratio
    compares requests timed under the same conditions.
    """
    slots = [((index + 0.5) / count, kind, index)
             for kind, count in counts.items() for index in range(count)]
    return [(kind, index) for _, kind, index in sorted(slots)]


def run_time(args: argparse.Namespace) -> dict:
    bodies = [form_body(line) for line in Path(args.responses).read_text().split()]
    noop_body = bodies[0]
    caller = _setup()
    timings: dict[str, list[float]] = {"acs": [], "first": [], "noop": [], "floor": []}
    failures = 0
    first_failure = ""

    def timed(path: str, body: bytes) -> float:
        nonlocal failures, first_failure
        start = time.perf_counter()
        status, location = caller.post(path, body)
        elapsed = (time.perf_counter() - start) * 1000
        if not signed_in(status, location):
            failures += 1
            if failures == 1:
                first_failure = f"{path} answered {status} {location!r}"
                print(f"{path} failed: {status} {location!r}", file=sys.stderr)
        return elapsed

    # Warm-up: each user's first sign-in (it creates the user), timed apart, and a few
    # of each reference request; the very first requests also pay for imports.
    for index, body in enumerate(bodies[:args.warmup]):
        elapsed = timed("/saml2/acs/", body)
        if index >= COLD_REQUESTS:
            timings["first"].append(elapsed)
    for _ in range(COLD_REQUESTS):
        timed("/noop/", noop_body)
        timed("/login-floor/", noop_body)
    sign_ins = bodies[args.warmup:]
    paths = {"noop": "/noop/", "floor": "/login-floor/"}
    for kind, index in interleaved({"acs": len(sign_ins), "noop": args.noop, "floor": args.noop}):
        if kind == "acs":
            timings["acs"].append(timed("/saml2/acs/", sign_ins[index]))
        else:
            timings[kind].append(timed(paths[kind], noop_body))
    return {"acs_ms": timings["acs"], "first_ms": timings["first"], "noop_ms": timings["noop"],
            "floor_ms": timings["floor"], "failures": failures, "first_failure": first_failure}


def run_rss(args: argparse.Namespace) -> dict:
    caller = _setup()
    failures = done = 0
    before = None
    for index, line in enumerate(sys.stdin):
        if index == args.warmup:
            before = {"rss_kb": proc_status_kb("VmRSS"), "hwm_kb": proc_status_kb("VmHWM")}
        if index >= args.warmup + args.count:
            break
        done += index >= args.warmup
        status, location = caller.post("/saml2/acs/", form_body(line.strip()))
        if not signed_in(status, location):
            failures += 1
            if failures == 1:
                print(f"sign-in failed: {status} {location!r}", file=sys.stderr)
    if before is None:
        raise RuntimeError("the response stream ended during warm-up")
    return {**{f"before_{k}": v for k, v in before.items()},
            "after_rss_kb": proc_status_kb("VmRSS"), "after_hwm_kb": proc_status_kb("VmHWM"),
            "sign_ins": done, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    timing = sub.add_parser("time")
    timing.add_argument("--responses", required=True)
    timing.add_argument("--noop", type=int, default=500)
    timing.add_argument("--warmup", type=int, default=COLD_REQUESTS)
    rss = sub.add_parser("rss")
    rss.add_argument("--count", type=int, default=10_000)
    rss.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    result = run_time(args) if args.mode == "time" else run_rss(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
