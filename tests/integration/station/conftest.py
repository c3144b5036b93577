"""Real parts for the station's tests: a throwaway PostgreSQL server on a unix socket in a temp
dir (Debian's ``postgresql``; started and stopped here), SQLite files, pytest subprocesses,
headless Chromium (Debian's ``chromium``)."""

from __future__ import annotations

import contextlib
import glob
import math
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import patience

ROOT = Path(__file__).resolve().parents[3]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise RuntimeError(f"'{name}' not found: install Debian's PostgreSQL server with "
                           f"apt-get install -y --no-install-recommends postgresql")
    return path


class PgServer:
    """initdb + pg_ctl in a temp dir, listening only on a unix socket there (no TCP)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="harness-pg-"))
        self.data = self.dir / "data"
        self.user = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use the package's user
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.role = self.user or pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *cmd: str) -> None:
        argv = (["runuser", "-u", self.user, "--"] if self.user else []) + list(cmd)
        res = subprocess.run(argv, capture_output=True, text=True, timeout=patience.limit(120))
        if res.returncode:
            raise RuntimeError(f"{' '.join(argv)} exited {res.returncode}:\n{res.stdout}"
                               f"{res.stderr}")

    def start(self) -> PgServer:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", self.role,
                  "--no-sync")
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
                  "-w", "-t", self.wait(), "-o",
                  f"-c listen_addresses='' -k {self.dir} -c fsync=off", "start")
        return self

    @staticmethod
    def wait() -> str:
        """pg_ctl's -t: its own 60 s default, scaled like every harness wait."""
        return str(math.ceil(patience.limit(60)))

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.role}@/{db}?host={self.dir}"

    def create_db(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host=str(self.dir), user=self.role, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                      "-t", self.wait(), "stop")
        except RuntimeError:  # still not down: nothing of it may outlive the tests
            with contextlib.suppress(OSError, ValueError):
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
            raise
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """A fresh, empty record store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.db'}"
    server = request.getfixturevalue("pg_server")
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[-50:].lower()
    return server.create_db(name + f"_{os.getpid()}")
