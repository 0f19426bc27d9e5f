"""``python -m benchmarks encryption``: what Entra's token encryption adds to a sign-in.

Ours only: two databases of the same site, one plain and one with ENCRYPTION_KEYS
and require_encryption; in-process, in rounds that alternate them, the ACS median
of fresh, really-signed responses -- encrypted (RSA-OAEP, AES-256-GCM, as Entra
does) for the second site. The difference is the cost of decryption.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from thoropass_sso.keys import create_key_file
from thoropass_sso.testing import make_signing_key_pair

from .__main__ import Site, in_rounds, loadavg, machine, median, p90, say
from .inprocess import COLD_REQUESTS
from .responses import USERS, ResponseFactory, standin_for


def run(opts: argparse.Namespace) -> int:
    started = {"machine": machine(), "loadavg": loadavg(), "time": time.time()}
    directory = Path(tempfile.mkdtemp(prefix="thoropass-bench-encryption-"))
    try:
        make_signing_key_pair().write(directory, "idp")
        make_signing_key_pair().write(directory, "sp")
        create_key_file(directory / "sp-encryption.pem", "benchmark encryption")
        (directory / "tenant_id").write_text(str(uuid.uuid4()))
        (directory / "federationmetadata.xml").write_bytes(standin_for(directory).metadata_xml())
        sites = {"plain": Site("ours", directory, database="ours-plain"),
                 "encrypted": Site("ours_encrypted", directory, database="ours-encrypted")}
        # Read here without Django settings (this process runs none).
        site_cert = x509.load_pem_x509_certificate(
            (directory / "sp-encryption.pem").read_bytes()).public_bytes(serialization.Encoding.PEM)
        factories = {}
        for label, site in sites.items():
            say(f"{label}: preparing a fresh database")
            site.prepare()
            factories[label] = ResponseFactory(
                standin_for(directory), acs_url=f"{site.base_url}/saml2/acs/",
                audience=f"{site.base_url}/saml2/metadata/",
                encrypt_for=site_cert if label == "encrypted" else None)
        timings: dict[str, list[float]] = {label: [] for label in sites}
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
                                     f"{result.get('first_failure')}")
                timings[label] += result["acs_ms"]
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    plain, encrypted = median(timings["plain"]), median(timings["encrypted"])
    print("\n".join([
        f"machine: {started['machine']['nproc']} CPUs, {started['machine']['cpu']}, "
        f"Python {started['machine']['python']}; load average at start {started['loadavg']}, "
        f"at end {loadavg()}",
        f"{'ACS, returning users':36} {'median ms':>10} {'p90 ms':>8} {'n':>6}",
        f"{'  plain assertion':36} {plain:10.2f} {p90(timings['plain']):8.2f} "
        f"{len(timings['plain']):6d}",
        f"{'  encrypted (RSA-OAEP, AES-256-GCM)':36} {encrypted:10.2f} "
        f"{p90(timings['encrypted']):8.2f} {len(timings['encrypted']):6d}",
        f"decryption adds {encrypted - plain:+.2f} ms to the median "
        f"({encrypted / plain:.2f}x)",
    ]))
    say(f"finished in {time.time() - started['time']:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks encryption", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signins", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if opts.quick:
        opts.signins, opts.rounds = 150, 2
    return run(opts)
