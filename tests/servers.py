"""Throwaway PostgreSQL and Redis servers on 127.0.0.1, for the test suite and the benchmark.

``python -m tests.servers [--postgres] [--redis] -- COMMAND ...`` starts the servers asked
for, runs COMMAND with their addresses in the environment, and stops them afterwards --
when COMMAND fails, when it is interrupted, and when this process is terminated:

- ``THOROPASS_TEST_DATABASE_URL``: ``postgres://USER:PASSWORD@127.0.0.1:PORT/thoropass``
  (tests/settings.py reads it: the suite then runs on PostgreSQL);
- ``THOROPASS_TEST_REDIS_URL``: ``redis://:PASSWORD@127.0.0.1:PORT/0`` (the replay-store
  tests then also run on Django's RedisCache).

A server that cannot be started is an error (exit status 3), never a quiet skip.

Both run as unprivileged users, as they must: PostgreSQL refuses to run as root. As
root the servers run as the ``postgres`` and ``redis`` system users that Debian's
packages create (``nobody`` when they are missing), with their files in a temporary
directory owned by that user; as anyone else, as that user. Both bind their own port
(they cannot take an inherited socket), so a port is picked at random and, when the
server says it is taken, another one is tried: no check-then-bind race. On Linux the
servers are also told to exit if the process that started them dies
(``PR_SET_PDEATHSIG``), so even a killed test run leaves nothing listening.

The fault tests (tests/test_faults.py) and the benchmark start their own servers with
:class:`PostgresServer` and :class:`RedisServer`, to stop and restart them at will.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

ATTEMPTS = 20
START_TIMEOUT = 60.0
PORTS = (20000, 60000)

# For the test suite: durability is worth nothing in a cluster deleted minutes later, and
# fsync on this kind of virtual disk would make every commit wait for it. The benchmark
# passes its own settings (benchmarks/__main__.py, docs/benchmarks.md).
FAST_UNSAFE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
# Not UTC, so that anything relying on the server's own time zone instead of Django's
# would show up (Django sets the session's time zone itself).
SERVER_TIME_ZONE = "America/Sao_Paulo"


class ServerError(RuntimeError):
    """A server could not be started (or stopped)."""


def _say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def _unprivileged_user(preferred: str) -> pwd.struct_passwd | None:
    """Whom to run a server as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in (preferred, "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServerError(f"running as root and there is neither a {preferred!r} nor a 'nobody' user")


def _die_with_parent(signum: int):
    """For the child, before exec: get ``signum`` when the process that started it dies
    (Linux's PR_SET_PDEATHSIG; elsewhere nothing). Runs after the switch to the
    unprivileged user, which would otherwise clear it."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_death_signal() -> None:
        prctl(1, signum, 0, 0, 0)

    return set_death_signal


def _owned_directory(prefix: str, user: pwd.struct_passwd | None) -> Path:
    top = Path(tempfile.mkdtemp(prefix=prefix))
    if user is not None:
        os.chown(top, user.pw_uid, user.pw_gid)
    return top


def _random_port() -> int:
    return random.randint(*PORTS)  # noqa: S311 - not for secrets


def _popen(argv: Sequence[str], *, user: pwd.struct_passwd | None, log: Path,
           cwd: Path, death_signal: int) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            user=user.pw_uid if user else None, group=user.pw_gid if user else None,
            extra_groups=[] if user else None, preexec_fn=_die_with_parent(death_signal),
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8",
                 "LANG": "C.UTF-8", "TZ": "UTC"})


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def _stop_process(process: subprocess.Popen | None, first: int, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(first)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def postgres_bindir() -> Path:
    """Where initdb and postgres are: $THOROPASS_PG_BINDIR, Debian's newest, or PATH."""
    if os.environ.get("THOROPASS_PG_BINDIR"):
        return Path(os.environ["THOROPASS_PG_BINDIR"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres") or shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise ServerError("PostgreSQL is not installed (no initdb/postgres): "
                      "apt-get install postgresql, or set THOROPASS_PG_BINDIR")


class PostgresServer:
    """A PostgreSQL cluster of its own: ``initdb`` in a temporary directory, then ``postgres``.

    :meth:`stop` is a fast shutdown (SIGINT, what ``pg_ctl stop -m fast`` sends), and
    :meth:`start` starts it again on the same port with the same data: what the fault
    tests do to a database going away and coming back.
    """

    user_name = "thoropass"

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = {**FAST_UNSAFE, **(settings or {})}
        self.password = secrets.token_hex(12)
        self.run_as = _unprivileged_user("postgres")
        self.bindir = postgres_bindir()
        self.top: Path | None = None
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def data(self) -> Path:
        assert self.top is not None
        return self.top / "data"

    @property
    def log(self) -> Path:
        assert self.top is not None
        return self.top / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return (f"postgres://{self.user_name}:{quote(self.password, safe='')}@127.0.0.1:"
                f"{self.port}/{quote(database, safe='')}")

    def initdb(self) -> None:
        self.top = _owned_directory("thoropass-pg-", self.run_as)
        password_file = self.top / "password"
        password_file.write_text(self.password + "\n")
        if self.run_as is not None:
            os.chown(password_file, self.run_as.pw_uid, self.run_as.pw_gid)
        done = subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user_name,
             "--pwfile", str(password_file), "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            cwd=self.top, capture_output=True, text=True, timeout=120,
            user=self.run_as.pw_uid if self.run_as else None,
            group=self.run_as.pw_gid if self.run_as else None,
            extra_groups=[] if self.run_as else None,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"},
            check=False)
        password_file.unlink()
        if done.returncode != 0:
            raise ServerError(f"initdb failed:\n{done.stdout}{done.stderr}")

    def _argv(self) -> list[str]:
        argv = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.top}",
                "-c", f"TimeZone={SERVER_TIME_ZONE}", "-c", "max_connections=200"]
        for name, value in self.settings.items():
            argv += ["-c", f"{name}={value}"]
        return argv

    def start(self, *, timeout: float = START_TIMEOUT) -> None:
        """Start (or restart) the server; a new port only the first time."""
        if self.top is None:
            self.initdb()
        fixed = bool(self.port)
        for _ in range(1 if fixed else ATTEMPTS):
            if not fixed:
                self.port = _random_port()
            self.log.write_bytes(b"")
            # Orphaned, it shuts down at once (SIGQUIT: immediate shutdown).
            self.process = _popen(self._argv(), user=self.run_as, log=self.log, cwd=self.top,
                                  death_signal=signal.SIGQUIT)
            if self._wait_ready(timeout):
                return
            said = _tail(self.log)
            if "already in use" not in said:
                raise ServerError(f"PostgreSQL did not start on port {self.port}:\n{said}")
        raise ServerError(f"PostgreSQL found no free port in {ATTEMPTS} tries:\n{_tail(self.log)}")

    def _wait_ready(self, timeout: float) -> bool:
        """True once it accepts a connection; False if it exited (read the log)."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                return False
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServerError(
                        f"PostgreSQL did not accept connections in {timeout:.0f} s:\n"
                        f"{_tail(self.log)}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back, clients disconnected."""
        _stop_process(self.process, signal.SIGINT)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as connection:
            connection.execute(sql)

    def create_database(self, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def remove(self) -> None:
        self.stop()
        if self.top is not None:
            shutil.rmtree(self.top, ignore_errors=True)
            self.top = None

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class RedisServer:
    """A Redis of its own: a password, 127.0.0.1 only, persistence only if asked for.

    :meth:`stop` is SIGTERM (Redis exits at once, after flushing its append-only file if
    it keeps one); :meth:`start` brings it back on the same port, with the data it
    persisted (none by default).
    """

    def __init__(self, *, persistent: bool = False) -> None:
        # persistent: an append-only file written on every command, so a restart keeps
        # what was stored (used ids), as a replay store's Redis should be configured.
        self.persistent = persistent
        self.password = secrets.token_hex(12)
        self.run_as = _unprivileged_user("redis")
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(self.binary).exists():
            raise ServerError("Redis is not installed (no redis-server): apt-get install redis-server")
        self.top: Path | None = None
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        assert self.top is not None
        return self.top / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    def _argv(self) -> list[str]:
        return [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--protected-mode", "yes", "--requirepass", self.password, "--save", "",
                "--appendonly", "yes" if self.persistent else "no", "--appendfsync", "always",
                "--dir", str(self.top), "--daemonize", "no",
                "--logfile", "", "--maxmemory-policy", "noeviction"]

    def start(self, *, timeout: float = START_TIMEOUT) -> None:
        if self.top is None:
            self.top = _owned_directory("thoropass-redis-", self.run_as)
        fixed = bool(self.port)
        for _ in range(1 if fixed else ATTEMPTS):
            if not fixed:
                self.port = _random_port()
            self.log.write_bytes(b"")
            self.process = _popen(self._argv(), user=self.run_as, log=self.log, cwd=self.top,
                                  death_signal=signal.SIGTERM)
            if self._wait_ready(timeout):
                return
            said = _tail(self.log)
            if "already in use" not in said:
                raise ServerError(f"Redis did not start on port {self.port}:\n{said}")
        raise ServerError(f"Redis found no free port in {ATTEMPTS} tries:\n{_tail(self.log)}")

    def command(self, *words: str, timeout: float = 2) -> bytes:
        """One command after AUTH, over a fresh connection; the raw reply line."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            def send(*parts: str) -> bytes:
                payload = f"*{len(parts)}\r\n".encode() + b"".join(
                    f"${len(p.encode())}\r\n{p}\r\n".encode() for p in parts)
                sock.sendall(payload)
                return sock.recv(65536)

            send("AUTH", self.password)
            return send(*words)

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                return False
            try:
                if self.command("PING").startswith(b"+PONG"):
                    return True
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"Redis did not answer in {timeout:.0f} s:\n{_tail(self.log)}")
            time.sleep(0.05)

    def stop(self) -> None:
        _stop_process(self.process, signal.SIGTERM)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def remove(self) -> None:
        self.stop()
        if self.top is not None:
            shutil.rmtree(self.top, ignore_errors=True)
            self.top = None

    def __enter__(self) -> RedisServer:
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


@contextlib.contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """SIGTERM and SIGHUP raise SystemExit here, so ``finally`` blocks stop the servers."""
    def leave(signum, frame):
        raise SystemExit(128 + signum)

    saved = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.servers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="start a PostgreSQL cluster")
    parser.add_argument("--redis", action="store_true", help="start a Redis")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    opts = parser.parse_args(argv)
    command = opts.command[1:] if opts.command[:1] == ["--"] else opts.command
    if not command:
        parser.error("no command given (… -- COMMAND)")
    env = dict(os.environ)
    child: subprocess.Popen | None = None
    with _terminated_as_exit(), contextlib.ExitStack() as servers:
        try:
            if opts.postgres:
                started = time.monotonic()
                postgres = servers.enter_context(PostgresServer())
                postgres.create_database("thoropass")
                env["THOROPASS_TEST_DATABASE_URL"] = postgres.url("thoropass")
                _say(f"PostgreSQL ({postgres.bindir.parent.name}) on 127.0.0.1:{postgres.port} "
                     f"as {postgres.run_as.pw_name if postgres.run_as else 'this user'}, "
                     f"started in {time.monotonic() - started:.1f} s")
            if opts.redis:
                redis = servers.enter_context(RedisServer())
                env["THOROPASS_TEST_REDIS_URL"] = redis.url()
                _say(f"Redis on 127.0.0.1:{redis.port} "
                     f"as {redis.run_as.pw_name if redis.run_as else 'this user'}")
        except ServerError as exc:
            _say(f"could not start a server: {exc}")
            return 3
        try:
            child = subprocess.Popen(command, env=env)
            return child.wait()
        finally:
            if child is not None and child.poll() is None:
                child.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=30)
                if child.poll() is None:
                    child.kill()
            _say("stopping the servers")


if __name__ == "__main__":
    sys.exit(main())
