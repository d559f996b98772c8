"""Local servers on 127.0.0.1 for the tests, the benchmarks and end-to-end runs.

- :func:`free_port` and :func:`wait_for_port`: a port to start a server on, and
  waiting until it accepts connections;
- :class:`ThrowawayPostgres`: a PostgreSQL server in a temporary directory
  (``initdb`` + ``pg_ctl``, run as the ``postgres`` user when we are root, as
  PostgreSQL refuses to run as root), stopped and removed by :meth:`stop`.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def postgres_bindir() -> str | None:
    """Directory of Debian's PostgreSQL binaries (the newest version), or None."""
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class ThrowawayPostgres:
    """A PostgreSQL server in a temporary directory, on a free loopback port.

    Parameters
    ----------
    bindir : str
        Where ``initdb`` and ``pg_ctl`` are (see :func:`postgres_bindir`).
    durable : bool
        ``False`` turns off fsync and full-page writes (fast, for tests);
        ``True`` keeps PostgreSQL's defaults (for benchmarks).
    """

    def __init__(self, bindir: str, durable: bool = False) -> None:
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="crowdcensus-pg-")
        self.port = free_port()
        self._n = itertools.count()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        initdb = ["initdb", "-D", self.data, "-A", "trust", "-U", "postgres"]
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                "-c max_connections=200")
        if not durable:
            initdb.append("--no-sync")
            opts += " -c fsync=off -c full_page_writes=off"
        self._run(initdb)
        self._run(["pg_ctl", "-D", self.data, "-o", opts, "-l",
                   os.path.join(self.dir, "log"), "-w", "start"])

    def _run(self, args: list[str], check: bool = True) -> None:
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=check, capture_output=True)

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL of a database on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self) -> str:
        """Create a fresh, empty database and return its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._n)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server and delete its directory."""
        self._run(["pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
