"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, 127.0.0.1 on a free port.

Used by the test fixtures (when NEWSBOT_TEST_POSTGRES_URL is not set) and by `.ci/run`, and by hand:

    python3 tests/helpers/pgserver.py find            # the folder of pg_ctl/initdb, or exit status 1
    eval "$(python3 tests/helpers/pgserver.py start $$)"  # exports NEWSBOT_TEST_POSTGRES_URL and _DIR
    python3 tests/helpers/pgserver.py stop "$NEWSBOT_TEST_POSTGRES_DIR"

Standard library only, so it runs before the project's virtualenv exists. The cluster is for tests only:
fsync is off, and it listens on 127.0.0.1 with a generated password (scram-sha-256). As root it runs as
the `postgres` user (initdb refuses root). Each cluster records the process it serves (the test run, or
the shell given to `start`); starting a cluster first stops those whose process has died (a killed run).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

PREFIX = "newsbot-pg-"
USER = "newsbot"
DATABASE = "newsbot_test"
TOOLS = ("initdb", "pg_ctl", "postgres", "createdb")
TEST_SETTINGS = {  # speed over durability: the cluster is thrown away
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine, or the server would not start."""


def find_binaries() -> Path | None:
    """Return the folder holding initdb, pg_ctl, postgres and createdb, or None."""
    candidates = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True
    )
    candidates += versions + [Path("/usr/local/pgsql/bin")]
    for folder in candidates:
        if all((folder / tool).is_file() for tool in TOOLS):
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


@dataclass
class PostgresServer:
    """One cluster in a fresh temporary folder: `start()` returns its URL, `stop()` removes everything."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix=PREFIX)))
    serves: int = field(default_factory=os.getpid)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def start(self) -> str:
        binaries = find_binaries()
        if binaries is None:
            raise PostgresUnavailable("no PostgreSQL binaries (initdb, pg_ctl) found; install postgresql")
        stop_orphans()
        (self.root / "serves").write_text(str(self.serves))
        owner = _owner()
        password = secrets.token_urlsafe(18)
        pwfile = self.root / "pwfile"
        pwfile.write_text(password + "\n")
        if owner is not None:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        pwfile.chmod(0o600)
        self._run(
            owner,
            str(binaries / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            USER,
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
            "--no-sync",
        )
        pwfile.unlink()
        last_error = ""
        for _ in range(3):  # a free port can be taken between choosing it and binding it
            port = _free_port()
            options = [f"-c listen_addresses=127.0.0.1 -p {port} -k {self.root}"]
            options += [f"-c {name}={value}" for name, value in TEST_SETTINGS.items()]
            try:
                self._run(
                    owner,
                    str(binaries / "pg_ctl"),
                    "start",
                    "--pgdata",
                    str(self.data),
                    "--log",
                    str(self.root / "server.log"),
                    "--wait",
                    "--timeout",
                    "60",
                    "-o",
                    " ".join(options),
                )
            except PostgresUnavailable as exc:
                last_error = str(exc)
                continue
            environment = {**os.environ, "PGPASSWORD": password}
            self._run(
                owner,
                str(binaries / "createdb"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--username",
                USER,
                DATABASE,
                env=environment,
            )
            return f"postgresql+psycopg://{USER}:{quote(password, safe='')}@127.0.0.1:{port}/{DATABASE}"
        raise PostgresUnavailable(f"PostgreSQL would not start: {last_error}")

    def stop(self) -> None:
        binaries = find_binaries()
        if binaries is not None and (self.data / "postmaster.pid").exists():
            owner = _owner()
            subprocess.run(
                [
                    str(binaries / "pg_ctl"),
                    "stop",
                    "--pgdata",
                    str(self.data),
                    "--mode",
                    "immediate",
                    "--wait",
                ],
                capture_output=True,
                user=owner.pw_uid if owner else None,
                check=False,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, owner: pwd.struct_passwd | None, *command: str, env: dict[str, str] | None = None) -> None:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            user=owner.pw_uid if owner else None,
            group=owner.pw_gid if owner else None,
            extra_groups=[] if owner else None,
            cwd=self.root,
            env=env,
            timeout=120,
        )
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(
                f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}\n{tail}".strip()
            )


def stop_orphans() -> None:
    """Stop the test clusters whose test run or shell has died without stopping them."""
    for root in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            serves = int((root / "serves").read_text())
        except (OSError, ValueError):
            continue
        if not _alive(serves):
            PostgresServer(root).stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner() -> pwd.struct_passwd | None:
    """The user the server runs as: ourselves, or `postgres` (else `nobody`) when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and there is no postgres or nobody user to run the server")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["find"]:
        folder = find_binaries()
        if folder is None:
            return 1
        print(folder)
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        PostgresServer(Path(argv[1])).stop()
        return 0
    if len(argv) == 2 and argv[0] == "start" and argv[1].isdigit():
        server = PostgresServer(serves=int(argv[1]))
        try:
            url = server.start()
        except PostgresUnavailable as exc:
            print(f"pgserver: {exc}", file=sys.stderr)
            server.stop()
            return 1
        print(f"export NEWSBOT_TEST_POSTGRES_DIR='{server.root}'")
        print(f"export NEWSBOT_TEST_POSTGRES_URL='{url}'")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
