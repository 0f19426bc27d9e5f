"""``python -m benchmarks.connections``: does sign-in cost grow with the number of customers?

One run, one machine, ours only (stock djangosaml2 has one IdP configuration):

1. two databases of the same site: one with the one tenant that signs in, one with
   that tenant plus ``--connections`` - 1 more customer connections (each its own
   tenant id, metadata and email domain), filled with the ORM before the run;
2. in-process, in rounds that alternate the two databases, the ACS median of the
   same tenant's sign-ins (fresh, really signed responses); the ratio many / one
   is the figure (target <= 1.15);
3. memory: one process of the many-connections site signs in users of
   ``--tenants`` different customers in turn (more than ``CONNECTION_CACHE_SIZE``,
   so the least recently used are dropped and rebuilt), and reports its resident
   set before and after, and how many connections it held at the end.

The other customers share one signing key (generating thousands of RSA keys
would dominate the run); each is still its own connection, verified with the
trust built from its own metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from thoropass_sso.testing import make_signing_key_pair

from .__main__ import Site, in_rounds, loadavg, machine, median, p90, say
from .inprocess import COLD_REQUESTS
from .responses import USERS, ResponseFactory, standin_for

CACHE_SIZE_NOTE = "CONNECTION_CACHE_SIZE (default 500)"


def fill(count: int, directory: Path) -> None:
    """Add ``count`` customer connections to the current site's database (run inside Django)."""
    import hashlib

    import django

    django.setup()
    from django.utils import timezone

    from thoropass_sso.metadata.parse import parse_metadata
    from thoropass_sso.models import Connection, ConnectionDomain
    from thoropass_sso.testing import EntraStandIn, SigningKeyPair

    fleet = SigningKeyPair.read(directory, "fleet")
    template = EntraStandIn(tenant_id="00000000-0000-4000-8000-000000000000",
                            signing_keys=[fleet]).metadata_xml().decode()
    expires = parse_metadata(template.encode()).signing_certificates[0].not_after
    now = timezone.now()
    tenants = []
    for start in range(0, count, 1000):
        rows = []
        for index in range(start, min(start + 1000, count)):
            tenant = str(uuid.uuid4())
            tenants.append(tenant)
            document = template.replace("00000000-0000-4000-8000-000000000000", tenant)
            rows.append(Connection(
                name=f"customer-{index:05d}", display_name=f"Customer {index}", tenant_id=tenant,
                idp_entity_id=f"https://sts.windows.net/{tenant}/",
                metadata_url=f"https://login.microsoftonline.com/{tenant}/federationmetadata/"
                             f"2007-06/federationmetadata.xml?appid={uuid.uuid4()}",
                metadata_xml=document, metadata_sha256=hashlib.sha256(document.encode()).hexdigest(),
                metadata_checked_at=now, metadata_changed_at=now, certificates_expire_at=expires))
        created = Connection.objects.bulk_create(rows)
        ConnectionDomain.objects.bulk_create(
            ConnectionDomain(connection=c, domain=f"{c.name}.example") for c in created)
    (directory / "fleet_tenants").write_text("\n".join(tenants))
    print(json.dumps({"connections": Connection.objects.count()}))


def rss(count: int, warmup: int, tenants: int, directory: Path) -> dict:
    """Sign in users of ``tenants`` customers in turn; resident set before and after (inside Django)."""
    from .inprocess import _setup, form_body, proc_status_kb, signed_in

    caller = _setup()
    from thoropass_sso.registry import registry
    from thoropass_sso.testing import EntraStandIn, SigningKeyPair

    fleet_tenants = (directory / "fleet_tenants").read_text().split()[:tenants]
    base = os.environ["BENCH_BASE_URL"].rstrip("/")
    factory = ResponseFactory(
        EntraStandIn(tenant_id="00000000-0000-4000-8000-000000000000",
                     signing_keys=[SigningKeyPair.read(directory, "fleet")]),
        acs_url=f"{base}/saml2/acs/", audience=f"{base}/saml2/metadata/")
    failures = 0
    before: dict = {}
    for index in range(warmup + count):
        if index == warmup:
            before = {"rss_kb": proc_status_kb("VmRSS"), "hwm_kb": proc_status_kb("VmHWM")}
        status, location = caller.post(
            "/saml2/acs/", form_body(factory.post_value(fleet_tenants[index % len(fleet_tenants)])))
        if not signed_in(status, location):
            failures += 1
            if failures == 1:
                print(f"sign-in failed: {status} {location!r}", file=sys.stderr)
    return {"before_rss_kb": before["rss_kb"], "after_rss_kb": proc_status_kb("VmRSS"),
            "after_hwm_kb": proc_status_kb("VmHWM"), "sign_ins": count, "tenants": len(fleet_tenants),
            "cached_connections": registry.cached_count, "failures": failures}


def run(opts: argparse.Namespace) -> int:
    started = {"machine": machine(), "loadavg": loadavg(), "time": time.time()}
    directory = Path(tempfile.mkdtemp(prefix="thoropass-bench-connections-"))
    try:
        make_signing_key_pair().write(directory, "idp")
        make_signing_key_pair().write(directory, "sp")
        make_signing_key_pair().write(directory, "fleet")
        (directory / "tenant_id").write_text(str(uuid.uuid4()))
        (directory / "federationmetadata.xml").write_bytes(standin_for(directory).metadata_xml())
        sites = {"one": Site("ours", directory, database="ours-one"),
                 "many": Site("ours_many", directory, database="ours-many")}
        for label, site in sites.items():
            say(f"{label}: preparing a fresh database")
            site.prepare()
        say(f"many: adding {opts.connections - 1:,} customer connections")
        filled = json.loads(sites["many"].run("-m", "benchmarks.connections", "fill",
                                              "--count", str(opts.connections - 1),
                                              "--dir", str(directory)))
        factories = {label: site.factory() for label, site in sites.items()}
        timings: dict[str, list[float]] = {"one": [], "many": []}
        counts = in_rounds(opts.signins, opts.rounds)
        for round_index in range(opts.rounds):
            order = list(sites.items()) if round_index % 2 == 0 else list(sites.items())[::-1]
            for label, site in order:
                warmup = USERS if round_index == 0 else COLD_REQUESTS
                say(f"round {round_index + 1}/{opts.rounds}, {label}: {counts[round_index]} sign-ins")
                responses = factories[label].write(
                    directory / f"{label}-{round_index}.txt", counts[round_index] + warmup)
                result = json.loads(site.run("-m", "benchmarks.inprocess", "time", "--responses",
                                             str(responses), "--noop", "1", "--warmup", str(warmup)))
                if result["failures"]:
                    raise SystemExit(f"{label}: {result['failures']} sign-ins failed; first: "
                                     f"{result.get('first_failure', '?')}")
                timings[label] += result["acs_ms"]
        say(f"many: memory, {opts.rss_signins:,} sign-ins across {opts.tenants:,} customers")
        memory = json.loads(sites["many"].run(
            "-m", "benchmarks.connections", "rss", "--count", str(opts.rss_signins),
            "--tenants", str(opts.tenants), "--dir", str(directory)))
        if memory["failures"]:
            raise SystemExit(f"{memory['failures']} sign-ins failed in the memory run")
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    one, many = median(timings["one"]), median(timings["many"])
    total = filled["connections"]
    many_label = f"  with {total:,} connections in the database"
    ratio = many / one
    growth_mb = (memory["after_hwm_kb"] - memory["before_rss_kb"]) / 1024
    lines = [
        f"machine: {started['machine']['nproc']} CPUs, {started['machine']['cpu']}, "
        f"Python {started['machine']['python']}; load average at start {started['loadavg']}, "
        f"at end {loadavg()}",
        f"{'ACS, one tenant signing in':44} {'median ms':>10} {'p90 ms':>8} {'n':>6}",
        f"{'  with 1 connection in the database':44} {one:10.2f} {p90(timings['one']):8.2f} "
        f"{len(timings['one']):6d}",
        f"{many_label:44} {many:10.2f} "
        f"{p90(timings['many']):8.2f} {len(timings['many']):6d}",
        f"median with {total:,} / with 1: {ratio:.2f}x  target <= 1.15  "
        f"{'MET' if ratio <= 1.15 else 'NOT MET'}",
        f"memory: {memory['sign_ins']:,} sign-ins across {memory['tenants']:,} customers in one "
        f"process: peak RSS growth {growth_mb:.1f} MB (peak {memory['after_hwm_kb'] / 1024:.0f} MB), "
        f"{memory['cached_connections']} connections held at the end ({CACHE_SIZE_NOTE})",
    ]
    print("\n".join(lines))
    say(f"finished in {time.time() - started['time']:.0f} s")
    if opts.json:
        opts.json.write_text(json.dumps({"timings": timings, "memory": memory, "ratio": ratio},
                                        indent=1))
    return 0 if ratio <= 1.15 else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("fill", "rss"):
        sub = argparse.ArgumentParser()
        sub.add_argument("mode")
        sub.add_argument("--count", type=int, required=True)
        sub.add_argument("--tenants", type=int, default=2000)
        sub.add_argument("--dir", type=Path, required=True)
        args = sub.parse_args(argv)
        if args.mode == "fill":
            fill(args.count, args.dir)
        else:
            print(json.dumps(rss(args.count, 200, args.tenants, args.dir)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.connections", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--signins", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--tenants", type=int, default=2000,
                        help="distinct customers signing in during the memory run")
    parser.add_argument("--rss-signins", type=int, default=6000)
    parser.add_argument("--quick", action="store_true", help="1,000 connections, fewer sign-ins")
    parser.add_argument("--json", type=Path)
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.connections, opts.signins, opts.rounds = 1000, 150, 2
        opts.tenants, opts.rss_signins = 600, 1200
    return run(opts)


if __name__ == "__main__":
    raise SystemExit(main())
