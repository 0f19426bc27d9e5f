"""``python -m benchmarks``: stock djangosaml2 vs thoropass_sso vs a no-op POST, side by side.

One run, one machine:
1. each site gets a fresh database, migrated (ours: metadata stored by
   ``refresh_entra_metadata``): a SQLite file, or with ``--database postgres`` a
   database of its own on one throwaway PostgreSQL cluster started for the run;
2. in-process, in rounds that alternate stock and ours: a fresh process per site
   and round calls the WSGI application in a loop and times each sign-in (one
   fresh, really-signed IdP-initiated response each, generated before the timer
   starts), a no-op POST and a login-only POST;
3. both sites under gunicorn with N workers on 127.0.0.1 (for each N of ``--workers``),
   and again in alternating rounds a bounded load generator posts a fixed number of
   fresh responses at fixed concurrency and counts sign-ins per second;
4. ours only: resident memory of one process over many sign-ins.
Then a table and the ratios against the targets of issue 5.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import Listener, serving
from thoropass_sso.testing import make_signing_key_pair

from .inprocess import COLD_REQUESTS, form_body
from .load import LoadResult, post_all
from .responses import USERS, ResponseFactory, standin_for

REPO = Path(__file__).resolve().parent.parent
# ours' ACS median at most this many times Django's login-only median: the SAML work
# (verify, replay, identity, provisioning) costs at most ~1.5x what Django's login costs.
FLOOR_TARGET = 2.5
# The goal (issues 5 and 13): the SAML work within half of Django's login, i.e. the ACS
# within 1.5x Django's own login. Reported, not enforced: docs/benchmarks.md says what
# stands between.
FLOOR_GOAL = 1.5
SITES = {"stock": "stock djangosaml2 ACS", "ours": "thoropass_sso ACS"}

FULL = {"stock_signins": 60, "ours_signins": 600, "noop": 1000, "stock_load": 150,
        "ours_load": 1500, "noop_load": 1500, "floor_load": 500, "rss_signins": 10_000}
QUICK = {"stock_signins": 15, "ours_signins": 150, "noop": 300, "stock_load": 40,
         "ours_load": 400, "noop_load": 400, "floor_load": 150, "rss_signins": 1_000}


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def machine() -> dict[str, str]:
    import django

    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor() or "unknown")
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "django": django.get_version(),
            "python": platform.python_version(), "platform": platform.platform()}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Site:
    name: str  # the settings module, benchmarks.sites.<name>
    directory: Path
    database_url: str = ""  # "" = a SQLite file in directory
    # Bound and listening from the start: the port cannot be taken by anything else.
    listener: Listener = field(default_factory=Listener)
    database: str = ""  # the SQLite file's name; default: the site's name

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BENCH_"))}
        env.update({"BENCH_DIR": str(self.directory), "BENCH_BASE_URL": self.base_url,
                    "BENCH_SITE": self.database or self.name,
                    "BENCH_DATABASE_URL": self.database_url,
                    "DJANGO_SETTINGS_MODULE": f"benchmarks.sites.{self.name}",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                os.environ.get("PYTHONPATH")]))})
        return env

    def run(self, *args: str, stdin=None, timeout: float = 900) -> str:
        done = subprocess.run([sys.executable, *args], cwd=REPO, env=self.env, stdin=stdin,
                              capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise SystemExit(
                f"{' '.join(args[:3])} failed ({self.name}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def prepare(self) -> None:
        self.run("-m", "django", "migrate", "--verbosity", "0")
        if self.name.startswith("ours"):  # ours, ours_many, ours_encrypted
            self.run("-m", "django", "refresh_entra_metadata")

    def factory(self) -> ResponseFactory:
        return ResponseFactory(standin_for(self.directory), acs_url=f"{self.base_url}/saml2/acs/",
                               audience=f"{self.base_url}/saml2/metadata/")

    @contextmanager
    def gunicorn(self, workers: int):
        argv = [sys.executable, "-m", "gunicorn", "benchmarks.wsgi:application", "--bind",
                self.listener.bind, "--workers", str(workers), "--timeout", "120",
                "--log-level", "warning"]
        with serving(argv, listener=self.listener, cwd=REPO, env=self.env,
                     start_timeout=60) as process:
            yield process


def gunicorn_workers_hwm_kb(master_pid: int) -> list[int]:
    """Peak resident set (VmHWM) of each worker of a gunicorn master."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    peaks = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]))
    return peaks


def merge_loads(parts: list[LoadResult]) -> LoadResult:
    """One result for a load phase run in several rounds (sums, and all latencies)."""
    total = LoadResult()
    for part in parts:
        total.sent += part.sent
        total.ok += part.ok
        total.wall_s += part.wall_s
        total.timed_out = total.timed_out or part.timed_out
        total.latencies_ms += part.latencies_ms
        for problem, count in part.errors.items():
            total.errors[problem] = total.errors.get(problem, 0) + count
    return total


def in_rounds(count: int, rounds: int) -> list[int]:
    """``count`` split into ``rounds`` near-equal parts."""
    return [count // rounds + (index < count % rounds) for index in range(rounds)]


def round_order(sites: dict[str, Site], round_index: int) -> list[tuple[str, Site]]:
    """Stock then ours, ours then stock, ...: drift within a round cancels out."""
    order = list(sites.items())
    return order if round_index % 2 == 0 else order[::-1]


def bench_sites(sites: dict[str, Site], opts: argparse.Namespace) -> dict[str, dict]:
    """Both sites, interleaved round by round.

    This machine's speed drifts by tens of percent over minutes (a shared virtual
    machine): measuring one site after the other would fold that drift into the
    ratio. Each round measures both sites, in alternating order, so both see the
    same conditions.
    """
    results: dict[str, dict] = {name: {"inprocess": {"acs_ms": [], "first_ms": [], "noop_ms": [],
                                                     "floor_ms": []}}
                                for name in sites}
    factories = {}
    for name, site in sites.items():
        say(f"{name}: preparing a fresh database")
        site.prepare()
        factories[name] = site.factory()

    counts = {"stock": in_rounds(opts.stock_signins, opts.rounds),
              "ours": in_rounds(opts.ours_signins, opts.rounds)}
    noop_counts = in_rounds(opts.noop, opts.rounds)
    for round_index in range(opts.rounds):
        for name, site in round_order(sites, round_index):
            # Round 1's warm-up is each user's first sign-in (it creates the user), timed
            # apart: the medians are of returning users, as in a Monday-morning storm.
            warmup = USERS if round_index == 0 else COLD_REQUESTS
            count = counts[name][round_index]
            say(f"round {round_index + 1}/{opts.rounds}, {name}: in-process, {count} sign-ins "
                f"and {noop_counts[round_index]} no-op POSTs")
            responses = factories[name].write(
                site.directory / f"{name}-inprocess-{round_index}.txt", count + warmup)
            run = json.loads(site.run(
                "-m", "benchmarks.inprocess", "time", "--responses", str(responses),
                "--noop", str(noop_counts[round_index]), "--warmup", str(warmup)))
            if run["failures"]:
                raise SystemExit(f"{name}: {run['failures']} in-process sign-ins failed")
            merged = results[name]["inprocess"]
            for key in ("acs_ms", "first_ms", "noop_ms", "floor_ms"):
                merged[key] += run[key]

    for workers in opts.workers:
        for name, measured in gunicorn_phase(sites, factories, opts, workers).items():
            results[name].setdefault("gunicorn", {})[workers] = measured
    if opts.rss_signins:
        results["ours"]["rss"] = rss_run(sites["ours"], opts.rss_signins)
    return results


def gunicorn_phase(sites: dict[str, Site], factories: dict, opts: argparse.Namespace,
                   workers: int) -> dict[str, dict]:
    """Both sites under gunicorn with ``workers`` workers, loaded in alternating rounds."""
    measured: dict[str, dict] = {}
    # At least two requests in flight per worker, so that no worker waits for the generator.
    concurrency = max(opts.concurrency, 2 * workers)
    load_counts = {"stock": in_rounds(opts.stock_load, opts.rounds),
                   "ours": in_rounds(opts.ours_load, opts.rounds)}
    load_warmup = 4 * workers
    with ExitStack() as servers:
        running = {name: servers.enter_context(site.gunicorn(workers))
                   for name, site in sites.items()}
        for name, site in sites.items():
            warm_bodies = [form_body(factories[name].post_value()) for _ in range(load_warmup)]
            warm = post_all(site.base_url, "/saml2/acs/", warm_bodies,
                            concurrency=concurrency)
            if warm.ok != load_warmup:
                raise SystemExit(f"{name}: warm-up sign-ins failed: {warm.errors}")
        loads: dict[str, list[LoadResult]] = {name: [] for name in sites}
        for round_index in range(opts.rounds):
            for name, site in round_order(sites, round_index):
                count = load_counts[name][round_index]
                # Made just before they are sent: an IdP-initiated response is only
                # accepted for a few minutes after it was issued.
                say(f"round {round_index + 1}/{opts.rounds}, {name}: generating {count} signed "
                    f"responses, then gunicorn, {workers} workers, concurrency "
                    f"{concurrency}")
                chunk = [form_body(factories[name].post_value()) for _ in range(count)]
                loads[name].append(post_all(site.base_url, "/saml2/acs/", chunk,
                                            concurrency=concurrency,
                                            deadline_s=opts.deadline))
        # The reference views read the form and ignore it: any body of the right size.
        reference_body = form_body(factories["ours"].post_value())
        for name, site in sites.items():
            say(f"{name}: gunicorn, {workers} workers, {opts.noop_load} no-op and "
                f"{opts.floor_load} login-only POSTs")
            measured[name] = {
                "concurrency": concurrency,
                "acs_load": merge_loads(loads[name]).__dict__,
                "noop_load": post_all(site.base_url, "/noop/", [reference_body] * opts.noop_load,
                                      concurrency=concurrency,
                                      deadline_s=opts.deadline).__dict__,
                "floor_load": post_all(site.base_url, "/login-floor/",
                                       [reference_body] * opts.floor_load,
                                       concurrency=concurrency,
                                       deadline_s=opts.deadline).__dict__,
                "workers_hwm_kb": gunicorn_workers_hwm_kb(running[name].pid),
            }
    return measured


def rss_run(site: Site, count: int) -> dict:
    warmup = 200
    say(f"{site.name}: memory, {count} sign-ins in one process (responses streamed in fresh)")
    generator = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.responses", str(site.directory), str(warmup + count),
         f"{site.base_url}/saml2/acs/", f"{site.base_url}/saml2/metadata/"],
        cwd=REPO, env=site.env, stdout=subprocess.PIPE)
    try:
        rss = json.loads(site.run("-m", "benchmarks.inprocess", "rss", "--count", str(count),
                                  "--warmup", str(warmup), stdin=generator.stdout))
    finally:
        generator.stdout.close()
        generator.terminate()
        generator.wait(timeout=15)
    if rss["failures"]:
        raise SystemExit(f"{site.name}: {rss['failures']} sign-ins failed in the memory run")
    return rss


def table_row(label: str, inproc_ms: list[float], load: dict) -> tuple:
    return (label, median(inproc_ms), p90(inproc_ms), len(inproc_ms),
            load["ok"] / load["wall_s"] if load["wall_s"] else 0.0,
            median(load["latencies_ms"]), p90(load["latencies_ms"]), load["ok"],
            sum(load["errors"].values()))


def report(results: dict, opts: argparse.Namespace, started: dict) -> tuple[str, bool]:
    stock, ours = results["stock"], results["ours"]
    database = ("SQLite (a WAL file per site)" if opts.database == "sqlite" else
                f"PostgreSQL {started.get('postgres', '')} (127.0.0.1, a database per site, "
                f"synchronous_commit={opts.synchronous_commit})")
    lines = [
        f"machine: {started['machine']['nproc']} CPUs, {started['machine']['cpu']}, "
        f"Python {started['machine']['python']}, Django {started['machine'].get('django', '?')}",
        f"database: {database}",
        f"load average at start {started['loadavg']}, at end {loadavg()}",
    ]
    checks = []
    for workers in opts.workers:
        rows: list[tuple] = []
        row = lambda *args: rows.append(table_row(*args))  # noqa: B023, E731 - used at once

        served = {name: results[name]["gunicorn"][workers] for name in SITES}
        for name, label in SITES.items():
            row(label, results[name]["inprocess"]["acs_ms"], served[name]["acs_load"])
        row("no-op POST, stock's middleware", stock["inprocess"]["noop_ms"],
            served["stock"]["noop_load"])
        row("no-op POST, ours' middleware", ours["inprocess"]["noop_ms"],
            served["ours"]["noop_load"])
        row("Django login only, stock's site", stock["inprocess"]["floor_ms"],
            served["stock"]["floor_load"])
        row("Django login only, ours' site", ours["inprocess"]["floor_ms"],
            served["ours"]["floor_load"])
        server = f"gunicorn {workers} workers, concurrency {served['ours']['concurrency']}"
        lines += [
            "",
            f"{'':32} {'in-process (ms)':>26} | {server:>46}",
            f"{'':32} {'median':>8} {'p90':>8} {'n':>8} | {'req/s':>9} {'median ms':>10} "
            f"{'p90 ms':>8} {'ok':>7} {'errors':>7}",
        ]
        for label, med, nine, n, rps, lmed, l90, ok, errors in rows:
            lines.append(f"{label:32} {med:8.2f} {nine:8.2f} {n:8d} | {rps:9.1f} {lmed:10.1f} "
                         f"{l90:8.1f} {ok:7d} {errors:7d}")
        throughput = (served["ours"]["acs_load"]["ok"] / served["ours"]["acs_load"]["wall_s"]) / (
            served["stock"]["acs_load"]["ok"] / served["stock"]["acs_load"]["wall_s"])
        # A sign-in that failed under load must not pass as a slow one: any error voids the ratio.
        load_errors = {name: sum(served[name]["acs_load"]["errors"].values()) for name in SITES}
        errors_note = "" if not any(load_errors.values()) else (
            f"; sign-in errors under load: stock {load_errors['stock']}, ours {load_errors['ours']}")
        checks.append((f"sign-ins/s, ours / stock (gunicorn, {workers} workers): {throughput:5.1f}x",
                       f"target >= 10x, goal 20x: {'met' if throughput >= 20 else 'not met'}"
                       f"{errors_note}",
                       throughput >= 10 and not any(load_errors.values())))
    speedup = median(stock["inprocess"]["acs_ms"]) / median(ours["inprocess"]["acs_ms"])
    overhead = median(ours["inprocess"]["acs_ms"]) / median(ours["inprocess"]["noop_ms"])
    over_floor = median(ours["inprocess"]["acs_ms"]) / median(ours["inprocess"]["floor_ms"])
    stock_over_floor = median(stock["inprocess"]["acs_ms"]) / median(stock["inprocess"]["floor_ms"])
    floor_over_noop = median(ours["inprocess"]["floor_ms"]) / median(ours["inprocess"]["noop_ms"])
    checks += [
        (f"in-process median, stock / ours:            {speedup:6.1f}x", "(for reference)", None),
        # Issue 5 asked for ACS <= 5x the no-op POST. On this kind of machine Django's own
        # login() alone costs ~10x the no-op, so no sign-in through Django can meet that;
        # the target kept is its intent: the SAML work costs about what Django's login
        # costs (docs/benchmarks.md, "The no-op target"). The goal is 1.5x.
        (f"ours' ACS median / Django login-only median: {over_floor:5.1f}x",
         f"target <= {FLOOR_TARGET}x, goal <= {FLOOR_GOAL}x: "
         f"{'met' if over_floor <= FLOOR_GOAL else 'not met'} (stock: {stock_over_floor:.1f}x)",
         over_floor <= FLOOR_TARGET),
        (f"ours' ACS median / no-op POST median:       {overhead:6.1f}x",
         f"issue 5's target <= 5x: {'met' if overhead <= 5 else 'NOT MET'}; restated as the "
         f"login-only target above, since login-only alone is {floor_over_noop:.1f}x the no-op "
         "(docs/benchmarks.md#the-no-op-target)", None),
        (f"first sign-in (creates the user), median:  ours {median(ours['inprocess']['first_ms']):.1f} ms, "
         f"stock {median(stock['inprocess']['first_ms']):.1f} ms", "(for reference)", None),
    ]
    if "rss" in ours:
        rss = ours["rss"]
        growth_mb = (rss["after_hwm_kb"] - rss["before_rss_kb"]) / 1024
        checks.append((f"peak RSS growth over {rss['sign_ins']:,} sign-ins:  {growth_mb:6.1f} MB",
                       f"target < 10 MB (peak {rss['after_hwm_kb'] / 1024:.0f} MB)",
                       growth_mb < 10))
    lines += ["", *(f"{text}  {note}  {'' if ok is None else ('MET' if ok else 'NOT MET')}".rstrip()
                    for text, note, ok in checks)]
    for workers in opts.workers:
        hwm = ", ".join(f"{kb / 1024:.0f}" for kb in ours["gunicorn"][workers]["workers_hwm_kb"])
        stock_hwm = ", ".join(f"{kb / 1024:.0f}"
                              for kb in stock["gunicorn"][workers]["workers_hwm_kb"])
        lines.append(f"gunicorn worker peak RSS after the {workers}-worker run (MB): ours {hwm}; "
                     f"stock {stock_hwm}")
    return "\n".join(lines), all(ok is not False for _, _, ok in checks)


def start_postgres(stack: ExitStack, opts: argparse.Namespace, started: dict) -> dict[str, str]:
    """One throwaway cluster for both sites (tests/servers.py), durable as in production:
    fsync and full_page_writes on, synchronous_commit as asked. A database per site."""
    from tests.servers import PostgresServer

    server = stack.enter_context(PostgresServer(settings={
        "fsync": "on", "full_page_writes": "on", "synchronous_commit": opts.synchronous_commit,
        "shared_buffers": "256MB"}))
    started["postgres"] = server.bindir.parent.name
    say(f"PostgreSQL {started['postgres']} on 127.0.0.1:{server.port}, "
        f"synchronous_commit={opts.synchronous_commit}")
    return {name: server.create_database(f"bench_{name}") for name in SITES}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["connections"]:
        # `./dev bench connections`: sign-in cost with many customers (benchmarks/connections.py).
        from .connections import main as connections_main

        return connections_main(argv[1:])
    if argv[:1] == ["encryption"]:
        # `./dev bench encryption`: what token encryption adds (benchmarks/encryption.py).
        from .encryption import main as encryption_main

        return encryption_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts (about a minute)")
    for name, default in FULL.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None,
                            help=f"default {default} (quick: {QUICK[name]})")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="sqlite (default): a file per site; postgres: a throwaway "
                             "PostgreSQL cluster started for the run, a database per site")
    parser.add_argument("--synchronous-commit", choices=("on", "off"), default="on",
                        help="PostgreSQL's synchronous_commit (default on, its own default: a "
                             "commit waits for the WAL on disk)")
    parser.add_argument("--workers", type=lambda v: [int(n) for n in v.split(",")], default=None,
                        help="gunicorn worker counts, comma-separated (default 2; with "
                             "--database postgres 2,4)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure stock and ours alternately in this many rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="requests in flight from the load generator (default 4)")
    parser.add_argument("--deadline", type=float, default=240.0,
                        help="seconds after which a load phase stops sending (default 240)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    opts = parser.parse_args(argv)
    counts = QUICK if opts.quick else FULL
    for name, default in counts.items():
        if getattr(opts, name) is None:
            setattr(opts, name, default)

    if opts.workers is None:
        opts.workers = [2, 4] if opts.database == "postgres" else [2]

    started = {"machine": machine(), "loadavg": loadavg(), "time": time.time()}
    directory = Path(tempfile.mkdtemp(prefix="thoropass-bench-"))
    try:
        make_signing_key_pair().write(directory, "idp")
        make_signing_key_pair().write(directory, "sp")
        (directory / "tenant_id").write_text(str(uuid.uuid4()))
        (directory / "federationmetadata.xml").write_bytes(standin_for(directory).metadata_xml())
        with ExitStack() as stack:
            urls = {name: "" for name in SITES}
            if opts.database == "postgres":
                urls = start_postgres(stack, opts, started)
            results = bench_sites({name: Site(name, directory, urls[name]) for name in SITES},
                                  opts)
    finally:
        if opts.keep:
            say(f"scratch directory kept: {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    table, met = report(results, opts, started)
    print(table)
    say(f"finished in {time.time() - started['time']:.0f} s")
    if opts.json:
        opts.json.write_text(json.dumps({"machine": started["machine"], "options": {
            k: v for k, v in vars(opts).items() if k != "json"}, "results": results}, default=str,
            indent=1))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
