"""``./dev mutate``: mutation testing of the security-critical modules with mutmut.

    python -m tests.mutation            every module in pyproject.toml's [tool.mutmut]
    python -m tests.mutation --sample   the small fixed sample CI runs (SAMPLE below)
    python -m tests.mutation --survivors   re-run only the last full run's survivors, with
                                           the tests as they are now (after adding tests)

mutmut changes the code one small edit at a time (a comparison flipped, a constant changed,
a call dropped) and runs the tests that reach the changed function; a mutant no test
notices is a property nothing checks. Every survivor must be listed, with why it cannot
change behaviour, in docs/mutation-testing.md; an unlisted survivor, or a score under the
goal, fails the command. The last line is ``mutation score: NN.N% (K killed / M mutants)``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "mutation-testing.md"
GOAL = 90.0

# CI's sample: every mutant of the small modules whose every line is a security decision
# (where a sign-in may send the browser; what the pending-request cookie binds), against the
# tests that guard them. Fixed modules rather than fixed mutant names, which renumber as the
# code moves. About two minutes on two cores.
SAMPLE = {
    "only_mutate": ["thoropass_sso/redirects.py", "thoropass_sso/pending.py"],
    "pytest_add_cli_args_test_selection": [
        "tests/test_hostile_redirects.py",
        "tests/test_redirects.py",
        "tests/test_pending.py",
    ],
}

# The mutated modules are the same whichever signature backend verifies (the xmlsec1 one is
# not mutated), so the hostile tests run once per case instead of once per backend.
ENV = {**os.environ, "THOROPASS_SSO_TEST_SIGNATURE_BACKENDS": "python-xmlsec"}

# A survivor is documented when its name appears in backticks under a reason in the doc.
DOCUMENTED = re.compile(r"`(thoropass_sso\.[^`\s]+__mutmut_\d+)`")


def mutmut(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args], cwd=cwd, text=True, capture_output=True
    )


def sample_tree() -> Path:
    """A copy of the working tree whose [tool.mutmut] names only the sample."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT, check=True, text=True, capture_output=True,
    ).stdout.split()
    tree = Path(tempfile.mkdtemp(prefix="thoropass-mutate-"))
    for name in files:
        source = ROOT / name
        if source.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    pyproject = tree / "pyproject.toml"
    text = pyproject.read_text()
    for key, values in SAMPLE.items():
        listed = "[\n" + "".join(f'    "{value}",\n' for value in values) + "]"
        text, count = re.subn(rf"^{key} = \[.*?^\]", f"{key} = {listed}", text,
                              flags=re.MULTILINE | re.DOTALL)
        assert count == 1, f"pyproject.toml's [tool.mutmut] has no {key} list"
    pyproject.write_text(text)
    return tree


def survivors(cwd: Path) -> list[str]:
    listing = mutmut("results", cwd=cwd).stdout
    return sorted(
        line.split(":", 1)[0].strip()
        for line in listing.splitlines()
        if line.strip().endswith(": survived") or line.strip().endswith(": no tests")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", action="store_true", help="only CI's fixed sample")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--survivors", action="store_true",
                        help="re-run only the last full run's survivors against today's tests")
    parser.add_argument("--keep", action="store_true",
                        help="with --sample: keep its copy of the tree (to mutmut show there)")
    options = parser.parse_args()

    cwd = sample_tree() if options.sample else ROOT
    names: list[str] = []
    if options.survivors:
        if not (ROOT / "mutants" / "mutmut-stats.json").exists():
            print("no earlier run in mutants/: run ./dev mutate first", file=sys.stderr)
            return 2
        names = survivors(ROOT)
        # mutmut copies tests/ into mutants/ only when it is not there yet; new tests must
        # reach the mutants. Mutated modules must be unchanged since that run (mutmut would
        # make their mutants again, and their results start over).
        shutil.copytree(ROOT / "tests", ROOT / "mutants" / "tests", dirs_exist_ok=True)
    else:
        shutil.rmtree(cwd / "mutants", ignore_errors=True)  # no stale results from older code
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(options.max_children),
         *names],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV,
    )
    minutes = (time.monotonic() - started) / 60
    if run.returncode != 0:
        print(run.stderr[-4000:], file=sys.stderr)
        print(f"mutmut run failed (exit {run.returncode}); see above", file=sys.stderr)
        return 2
    mutmut("export-cicd-stats", cwd=cwd)
    stats = json.loads((cwd / "mutants" / "mutmut-cicd-stats.json").read_text())
    killed = stats["killed"] + stats["timeout"]
    total = stats["total"]
    left = survivors(cwd)
    documented = set(DOCUMENTED.findall(DOC.read_text()))
    unexplained = [name for name in left if name not in documented]
    print(f"{len(left)} survived, {len(left) - len(unexplained)} of them listed as "
          f"equivalent in docs/mutation-testing.md; {minutes:.1f} minutes")
    for name in unexplained:
        print(f"  not explained: {name}  (mutmut show {name})")
    if options.sample and options.keep:
        print(f"the sample's tree, for mutmut show: {cwd}")
    elif options.sample:
        shutil.rmtree(cwd, ignore_errors=True)
    score = 100.0 * killed / total if total else 0.0
    print(f"mutation score: {score:.1f}% ({killed} killed / {total} mutants)")
    return 0 if score >= GOAL and not unexplained else 1


if __name__ == "__main__":
    sys.exit(main())
