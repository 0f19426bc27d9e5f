"""Running thoropass_sso's management commands in tests and reading their one line."""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    output: str  # stdout on success, the error message on failure

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()


def run_command(name: str, *args: str) -> CommandResult:
    """Run a command like cron would; return its exit status and what it printed."""
    stdout, stderr = StringIO(), StringIO()
    try:
        call_command(name, *args, stdout=stdout, stderr=stderr)
    except CommandError as exc:
        # Django's run_from_argv turns this into "CommandError: <message>" and exit(returncode).
        return CommandResult(exc.returncode, str(exc))
    return CommandResult(0, (stdout.getvalue() + stderr.getvalue()).strip())


def refresh(*args: str) -> CommandResult:
    return run_command("refresh_entra_metadata", *args)
