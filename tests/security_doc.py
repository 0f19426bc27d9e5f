"""docs/security-tests.md, written from what the hostile tests proved in this run.

The hostile driver (tests/hostile_helpers.py) records, per test, the reason codes of the
refusals it proved with the whole contract and the flows of the genuine sign-ins that
controlled them. At the end of a run that ran every test of tests/test_hostile_*.py, all
passing, this module renders the document from those records and compares it with the
file: a difference fails the run, so the document cannot claim a refusal no test asserts
(nor leave one out). ``THOROPASS_WRITE_SECURITY_DOC=1`` writes the file instead.

Rows are cases, not variants: the signature backends and replay stores a case runs on
vary with the run (a quick run narrows them, a PostgreSQL session adds Redis), so they are
folded together and the document is the same for every complete run.
"""

from __future__ import annotations

import ast
import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security-tests.md"
HOSTILE_FILES = sorted((ROOT / "tests").glob("test_hostile_*.py"))
# Parameters that run one case several times (see tests/conftest.py and the replay
# tests' ``store`` fixture); folded into one row.
VARIANT_PARAMS = ("signature_backend", "store")
WRITE_ENV = "THOROPASS_WRITE_SECURITY_DOC"

FLOW_NAMES = {"sp": "SP-initiated", "idp": "IdP-initiated", "other": "other"}


@dataclass
class Proof:
    """What one test node proved (filled by the ``hostile`` fixture at teardown)."""

    refusals: set[str] = field(default_factory=set)
    controls: set[str] = field(default_factory=set)


RECORD: dict[str, Proof] = {}


@dataclass
class _Run:
    selected: list[pytest.Item] = field(default_factory=list)
    deselected: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)


_run = _Run()


def _is_hostile(item: pytest.Item) -> bool:
    return Path(str(item.fspath)).resolve() in HOSTILE_FILES


def pytest_deselected(items: list[pytest.Item]) -> None:
    _run.deselected += sum(1 for item in items if _is_hostile(item))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _run.selected = [item for item in items if _is_hostile(item)]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _run.outcomes[report.nodeid] = "failed"
    elif report.skipped:
        _run.outcomes.setdefault(report.nodeid, "skipped")
    elif report.when == "call":
        _run.outcomes.setdefault(report.nodeid, "passed")


def _complete() -> bool:
    """Every hostile test of every file ran and passed (else the record is partial)."""
    files = {Path(str(item.fspath)).resolve() for item in _run.selected}
    return (
        _run.deselected == 0
        and files == set(HOSTILE_FILES)
        and all(_run.outcomes.get(item.nodeid) == "passed" for item in _run.selected)
    )


def _case(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return ""
    case = callspec.id
    for name in VARIANT_PARAMS:
        value = callspec.params.get(name)
        if not isinstance(value, str):
            continue
        if case == value:
            case = ""
        elif case.startswith(f"{value}-"):
            case = case[len(value) + 1:]
        elif case.endswith(f"-{value}"):
            case = case[: -len(value) - 1]
        else:
            case = case.replace(f"-{value}-", "-", 1)
    return case


def _summary(text: str | None) -> str:
    """A docstring's first paragraph, on one line."""
    if not text:
        return ""
    return " ".join(text.strip().split("\n\n", 1)[0].split())


def _docstrings(path: Path) -> tuple[str, dict[str, str]]:
    tree = ast.parse(path.read_text())
    functions = {
        node.name: _summary(ast.get_docstring(node))
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }
    return _summary(ast.get_docstring(tree)), functions


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"


def _proved(proof: Proof) -> tuple[str, str]:
    refused = ", ".join(f"`{code}`" for code in sorted(proof.refusals))
    controls = ", ".join(FLOW_NAMES[flow] for flow in sorted(proof.controls))
    return refused, controls


def render() -> str:
    lines = [
        "# Security tests",
        "",
        "<!-- Written by tests/security_doc.py from a complete run of tests/test_hostile_*.py;",
        "     a run whose tests prove something else fails. Do not edit by hand:",
        "     THOROPASS_WRITE_SECURITY_DOC=1 ./dev test rewrites it. -->",
        "",
        "Every row is a test of `tests/test_hostile_*.py` that passed in the run that wrote this",
        "file. A reason code in the *refused as* column means the test proved, for that refusal,",
        "the whole hostile contract (`Hostile.expect_rejected` in `tests/hostile_helpers.py`):",
        "",
        "- the reason's 4xx status, and its code and a reference id on the page;",
        "- the `sign_in_rejected` signal with that reason, and exactly one log line",
        "  `sign-in rejected reason=<code> reference=<id>`;",
        "- no claim value of any user the response names, nor of the test's user, in any log line;",
        "- the whole database as it was: users, identities, groups and memberships, used message",
        "  ids, sessions, connections and their audit log;",
        "- the browser still anonymous (no new session cookie).",
        "",
        "The *control* column is the flow of the genuine response that then signed in within the",
        "same test: a refusal counts only next to a control of the same flow, so the attack, not a",
        "broken fixture, is what was refused. The driver's teardown fails any test that refused",
        "without one. Rows with no reason code are cases the site accepts as stated (redirects",
        "sanitised, values read whole) or tests that assert their outcome themselves.",
        "",
        "Each case runs once per signature backend (`python-xmlsec`, `xmlsec1`) and each replay",
        "test once per replay store the run has (the database table, a database cache, Redis when",
        "the run starts one); those variants are folded into one row.",
    ]
    by_file: dict[Path, list[pytest.Item]] = {}
    for item in _run.selected:
        by_file.setdefault(Path(str(item.fspath)).resolve(), []).append(item)
    total = 0
    for path in HOSTILE_FILES:
        module_doc, functions = _docstrings(path)
        lines += ["", f"## `tests/{path.name}`", ""]
        if module_doc:
            lines += [module_doc, ""]
        rows: dict[tuple[str, str], Proof] = {}
        for item in by_file.get(path, []):
            name = item.originalname if hasattr(item, "originalname") else item.name
            proof = rows.setdefault((name, _case(item)), Proof())
            recorded = RECORD.get(item.nodeid)
            if recorded is not None:
                proof.refusals |= recorded.refusals
                proof.controls |= recorded.controls
        by_test: dict[str, list[tuple[str, Proof]]] = {}
        for (name, case), proof in rows.items():
            by_test.setdefault(name, []).append((case, proof))
        for name, cases in by_test.items():
            summary = functions.get(name, "")
            lines += ["", f"**`{name}`**" + (f": {summary}" if summary else ""), ""]
            total += len(cases)
            if len(cases) == 1 and not cases[0][0]:
                refused, controls = _proved(cases[0][1])
                lines.append(
                    f"Refused as: {_cell(refused)}. Control: {_cell(controls)}."
                    if refused or controls
                    else "Asserted by the test itself, not through the hostile driver."
                )
                continue
            lines += ["| case | refused as | control |", "|---|---|---|"]
            for case, proof in cases:
                refused, controls = _proved(proof)
                lines.append(f"| {_cell(case)} | {_cell(refused)} | {_cell(controls)} |")
    lines += ["", f"{total} cases.", ""]
    return "\n".join(lines)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _complete():
        return
    text = render()
    if os.environ.get(WRITE_ENV) == "1":
        DOC.write_text(text)
        return
    current = DOC.read_text() if DOC.exists() else ""
    if current == text:
        return
    diff = "".join(difflib.unified_diff(
        current.splitlines(keepends=True), text.splitlines(keepends=True),
        "docs/security-tests.md", "what the tests proved", n=0,
    ))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = (
        "docs/security-tests.md does not say what the hostile tests proved in this run; "
        f"{WRITE_ENV}=1 ./dev test rewrites it.\n{diff[:4000]}"
    )
    if reporter is not None:
        reporter.write_line(message, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
