"""Operate customer connections from the command line (support staff, scripts, cron).

    entra_connection add NAME --metadata-url URL [--domain D]... [--display-name TEXT] [--draft]
    entra_connection list [--json]
    entra_connection show NAME [--json]
    entra_connection disable NAME | enable NAME | activate NAME
    entra_connection remove NAME
    entra_connection domains NAME [--add D]... [--remove D]...
    entra_connection set NAME FIELD=VALUE...      (policy fields; VALUE is JSON, or a plain word)
    entra_connection test-link NAME               (the admin's test sign-in page for a draft)

One line per connection; exit 0 on success, 1 refused (the line says why), 2
configuration or database problem, 3 metadata could not be fetched, 4 metadata
invalid or URL not allowed. Every change is recorded in the connection's audit
trail as ``command:<os user>``.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.urls import NoReverseMatch, reverse

from ... import connections
from ...conf import get_settings
from ...connections import Actor
from ...exceptions import (
    ConfigurationError,
    MetadataFetchError,
    MetadataInvalid,
    OperationRefused,
)
from ...models import Connection
from ...policy import POLICY_FIELDS
from ._errors import database_problem

EXIT_REFUSED = 1
EXIT_CONFIGURATION = 2
EXIT_FETCH_FAILED = 3
EXIT_INVALID = 4


def summary(connection: Connection) -> dict[str, Any]:
    """What ``list`` and ``show`` print about a connection (never its metadata or secrets)."""
    return {
        "name": connection.name,
        "display_name": connection.display_name,
        "status": connection.status,
        "tenant_id": connection.tenant_id,
        "domains": sorted(get_settings().settings_domains
                          if connections.is_settings_connection(connection.name)
                          else (d.domain for d in connection.domains.all())),
        "metadata_url": connection.metadata_url,
        "certificates_expire": (connection.certificates_expire_at.date().isoformat()
                                if connection.certificates_expire_at else None),
        "last_checked": (connection.metadata_checked_at.isoformat(timespec="seconds")
                         if connection.metadata_checked_at else None),
        "last_error": connection.last_error or None,
        "users": connection.identities.count(),
    }


def _line(info: dict[str, Any]) -> str:
    parts = [f"{info['name']}: {info['status']}", f"tenant {info['tenant_id'] or '-'}"]
    parts.append(f"domains {', '.join(info['domains']) or '-'}")
    parts.append(f"certificates expire {info['certificates_expire'] or '-'}")
    parts.append(f"last refreshed {info['last_checked'] or 'never'}")
    parts.append(f"{info['users']} user{'s' if info['users'] != 1 else ''}")
    if info["last_error"]:
        parts.append(f"LAST REFRESH FAILED: {info['last_error'][:160]}")
    return "; ".join(parts)


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


class Command(BaseCommand):
    help = "Add, list, show, disable, enable, activate, remove customer connections (Entra tenants)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = sub.add_parser("add", help="Add a connection from its App Federation Metadata URL.")
        add.add_argument("name")
        add.add_argument("--metadata-url", required=True)
        add.add_argument("--domain", action="append", default=[], dest="domains", metavar="D")
        add.add_argument("--display-name", default="")
        add.add_argument("--draft", action="store_true",
                         help="Create it as a draft: only a test sign-in goes through until activated.")
        listing = sub.add_parser("list", help="One line per connection.")
        listing.add_argument("--json", action="store_true")
        show = sub.add_parser("show", help="One connection.")
        show.add_argument("name")
        show.add_argument("--json", action="store_true")
        for action, text in (("disable", "Pause sign-ins through it (users are kept)."),
                             ("enable", "Resume sign-ins through it."),
                             ("activate", "Make a draft serve its users."),
                             ("remove", "Delete it (refused when users signed in through it)."),
                             ("test-link", "Print the admin page that runs a test sign-in.")):
            sub.add_parser(action, help=text).add_argument("name")
        domains = sub.add_parser("domains", help="Add or remove email domains.")
        domains.add_argument("name")
        domains.add_argument("--add", action="append", default=[], metavar="D")
        domains.add_argument("--remove", action="append", default=[], metavar="D")
        setter = sub.add_parser("set", help=f"Set policy fields: {', '.join(POLICY_FIELDS)}, "
                                            "display_name.")
        setter.add_argument("name")
        setter.add_argument("assignments", nargs="+", metavar="FIELD=VALUE")

    def handle(self, *args: object, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        try:
            get_settings()
            getattr(self, f"do_{action}")(options)
        except CommandError:
            raise
        except OperationRefused as exc:
            raise CommandError(str(exc), returncode=EXIT_REFUSED) from None
        except MetadataFetchError as exc:
            raise CommandError(f"could not fetch the metadata: {exc}",
                               returncode=EXIT_FETCH_FAILED) from None
        except MetadataInvalid as exc:
            raise CommandError(f"the metadata is not acceptable: {exc}",
                               returncode=EXIT_INVALID) from None
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=EXIT_CONFIGURATION) from None
        except DatabaseError as exc:
            raise CommandError(database_problem(exc), returncode=EXIT_CONFIGURATION) from None

    def _get(self, name: str) -> Connection:
        connection = Connection.objects.filter(name=name).first()
        if connection is None:
            raise CommandError(f"no connection named {name!r} (entra_connection list shows them)",
                               returncode=EXIT_REFUSED)
        return connection

    # -- actions ---------------------------------------------------------------------------
    def do_add(self, options: dict[str, Any]) -> None:
        name = options["name"]
        if not name or not all(c.isalnum() or c in "-_" for c in name) or len(name) > 64:
            raise CommandError(f"{name!r} is not a valid name: letters, digits, - and _ only",
                               returncode=EXIT_REFUSED)
        status = Connection.Status.DRAFT if options["draft"] else Connection.Status.ACTIVE
        connection, outcome = connections.add(
            name, options["metadata_url"], domains=options["domains"],
            display_name=options["display_name"], status=status, actor=Actor.for_command())
        certs = ", ".join(f"{c.short_fingerprint} (expires {c.not_after:%Y-%m-%d})"
                          for c in outcome.metadata.signing_certificates)
        domains = ", ".join(sorted(d.domain for d in connection.domains.all())) or "none"
        self.stdout.write(f"added connection {name} ({status}): tenant {connection.tenant_id}, "
                          f"domains {domains}, signing certificates {certs}")

    def do_list(self, options: dict[str, Any]) -> None:
        rows = [summary(c) for c in Connection.objects.prefetch_related("domains").order_by("name")]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("no connections yet: entra_connection add NAME --metadata-url URL")
        for info in rows:
            self.stdout.write(_line(info))

    def do_show(self, options: dict[str, Any]) -> None:
        connection = self._get(options["name"])
        info = summary(connection)
        info["policy"] = {name: getattr(connection, name) for name in POLICY_FIELDS}
        if connections.is_settings_connection(connection.name):
            info["policy_source"] = "settings (THOROPASS_SSO)"
        info["events"] = [f"{e.at:%Y-%m-%d %H:%M} {e.action} by {e.actor}"
                          + (f" ({e.detail})" if e.detail else "") for e in connection.events.all()[:20]]
        if options["json"]:
            self.stdout.write(json.dumps(info, indent=2, default=str))
        else:
            self.stdout.write(_line(info))

    def _status(self, options: dict[str, Any], status: str, verb: str) -> None:
        connection = self._get(options["name"])
        if options["action"] == "enable" and connection.status == Connection.Status.DRAFT:
            raise CommandError(f"{connection.name} is a draft: run a test sign-in, then "
                               f"'entra_connection activate {connection.name}'",
                               returncode=EXIT_REFUSED)
        changed = connections.set_status(connection, status, actor=Actor.for_command())
        self.stdout.write(f"{verb} connection {connection.name}" if changed
                          else f"connection {connection.name} was already {status}")

    def do_disable(self, options: dict[str, Any]) -> None:
        self._status(options, Connection.Status.DISABLED, "disabled")

    def do_enable(self, options: dict[str, Any]) -> None:
        self._status(options, Connection.Status.ACTIVE, "enabled")

    def do_activate(self, options: dict[str, Any]) -> None:
        self._status(options, Connection.Status.ACTIVE, "activated")

    def do_remove(self, options: dict[str, Any]) -> None:
        connection = self._get(options["name"])
        connections.remove(connection, actor=Actor.for_command())
        self.stdout.write(f"removed connection {options['name']}")

    def do_domains(self, options: dict[str, Any]) -> None:
        connection = self._get(options["name"])
        actor = Actor.for_command()
        added = connections.add_domains(connection, options["add"], actor=actor)
        removed = connections.remove_domains(connection, options["remove"], actor=actor)
        now = sorted(connection.domains.values_list("domain", flat=True))
        self.stdout.write(f"connection {connection.name}: added {', '.join(added) or 'none'}, "
                          f"removed {', '.join(removed) or 'none'}; domains now "
                          f"{', '.join(now) or 'none'}")

    def do_set(self, options: dict[str, Any]) -> None:
        connection = self._get(options["name"])
        if connections.is_settings_connection(connection.name):
            raise CommandError(f"{connection.name}'s policy comes from THOROPASS_SSO in settings: "
                               "change it there", returncode=EXIT_REFUSED)
        changed = []
        for assignment in options["assignments"]:
            field, sep, raw = assignment.partition("=")
            if not sep or field not in (*POLICY_FIELDS, "display_name"):
                raise CommandError(f"{assignment!r}: expected FIELD=VALUE with FIELD one of "
                                   f"{', '.join((*POLICY_FIELDS, 'display_name'))}",
                                   returncode=EXIT_REFUSED)
            setattr(connection, field, raw if field in ("display_name", "landing_path") else _value(raw))
            changed.append(field)
        try:
            connection.full_clean(exclude=["revision"], validate_unique=False)
        except ValidationError as exc:
            messages = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(f"not changed: {messages}", returncode=EXIT_REFUSED) from None
        connection.save()
        connections.record(connection, "policy changed", Actor.for_command(), ", ".join(changed))
        self.stdout.write(f"connection {connection.name}: set {', '.join(changed)}")

    def do_test_link(self, options: dict[str, Any]) -> None:
        connection = self._get(options["name"])
        try:
            path = reverse("admin:thoropass_sso_connection_test", args=[connection.pk])
        except NoReverseMatch:
            raise CommandError("the Django admin is not in the URLconf: the test sign-in runs "
                               "from the admin", returncode=EXIT_CONFIGURATION) from None
        self.stdout.write(f"{get_settings().base_url}{path}")
