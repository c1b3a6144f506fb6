"""A throwaway PostgreSQL cluster for tests of Dagster's production storage.

Uses the machine's PostgreSQL server binaries (Debian's postgresql package); `.ci/run` installs
them where missing.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from email_data_platform_tests.ports import reserved_port


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; the Debian package creates a `postgres` user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def running_postgres() -> Iterator[dict]:
    """Start a cluster on 127.0.0.1 with a random port; yield connection settings; stop it."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    # Its own folder under /tmp: pytest's tmp_path sits in a root-only directory that the
    # postgres user cannot enter.
    workdir = Path(tempfile.mkdtemp(prefix="edp-pg-"))
    data = workdir / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "dagster",
                                 "--auth=trust", "-E", "UTF8"]), check=True, capture_output=True)
    # The port stays reserved until postgres listens on it (it binds with SO_REUSEADDR;
    # `pg_ctl -w` returns once it accepts connections), so nothing else can take it meanwhile.
    with reserved_port() as port:
        subprocess.run(_as_postgres([
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data / "log.txt"), "-w", "-o",
            f"-h 127.0.0.1 -p {port} -k {data}", "start",
        ]), check=True, capture_output=True)
    try:
        _wait_for(port)
        subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                        "dagster", "dagster"], check=True, capture_output=True)
        yield {"host": "127.0.0.1", "port": port, "username": "dagster", "password": "",
               "db_name": "dagster"}
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                     "stop"]), capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"postgres did not listen on port {port} within {timeout} s")
