"""A throwaway PostgreSQL server for tests: Debian's binaries (found as `make postgres` finds them: on PATH, else
the newest /usr/lib/postgresql/<v>/bin), a data folder of its own under the temp folder, listening on 127.0.0.1 at
a free port with password authentication, no Unix socket, stopped and removed by `stop()`. As root (CI), the
server runs as Debian's `postgres` user, since initdb refuses root."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

USER = "taglake_test"


def pg_bin() -> Path:
    """The folder of initdb and pg_ctl; `make postgres` installs Debian's package when there is none."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name.split(".")[0]))
    for folder in reversed(versions):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl): run `make postgres`")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    folder: Path
    port: int
    password: str
    _as: list[str]
    _bin: Path

    def url(self, database: str = "postgres") -> sa.URL:
        return sa.URL.create(
            "postgresql+psycopg2",
            username=USER,
            password=self.password,
            host="127.0.0.1",
            port=self.port,
            database=database,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self._as, str(self._bin / "pg_ctl"), "stop", "-D", str(self.folder / "data"), "-m", "fast"],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> PgServer:
    binaries = pg_bin()
    folder = Path(tempfile.mkdtemp(prefix="taglake-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_urlsafe(16)
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n", encoding="utf-8")
    if run_as:
        shutil.chown(pwfile, "postgres", "postgres")
    data = folder / "data"
    subprocess.run(
        [
            *run_as,
            str(binaries / "initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pwfile.unlink()
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' -c fsync=off"
    subprocess.run(
        [
            *run_as,
            str(binaries / "pg_ctl"),
            "start",
            "-D",
            str(data),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "-l",
            str(folder / "server.log"),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    return PgServer(folder, port, password, run_as, binaries)


def redshift_target_env(server: PgServer, schema: str) -> dict[str, str]:
    """The redshift target's variables (profiles.yml) pointing at `server`, with `schema` as the target schema."""
    return {
        "TAGLAKE_REDSHIFT_METHOD": "database",
        "TAGLAKE_REDSHIFT_HOST": "127.0.0.1",
        "TAGLAKE_REDSHIFT_PORT": str(server.port),
        "TAGLAKE_REDSHIFT_DATABASE": "postgres",
        "TAGLAKE_REDSHIFT_SCHEMA": schema,
        "TAGLAKE_REDSHIFT_USER": USER,
        "TAGLAKE_REDSHIFT_PASSWORD": server.password,
        "TAGLAKE_REDSHIFT_SSLMODE": "disable",
        "TAGLAKE_AWS_REGION": "eu-west-1",
    }
