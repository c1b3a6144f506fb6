"""`edp dev` runs the UI and the daemon, and stops with everything it started on SIGTERM, as a
container or service manager stops it (started in the background: SIGINT ignored)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from email_data_platform_tests.ports import reserved_port

ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, by walking /proc parent links."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        children = {p for p, parent in parents.items() if parent in frontier} - found
        found |= children
        frontier = children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def answers(port: int) -> bool:
    try:
        return httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ version }"},
                          timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_sigterm_stops_the_ui_the_daemon_and_the_simulators(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    with reserved_port() as port:
        proc = subprocess.Popen(
            [sys.executable, "-m", "email_data_platform.cli", "dev", "--port", str(port),
             "--contacts", "200", "--home", str(tmp_path / "edp"),
             "--warehouse", str(tmp_path / "wh.duckdb")],
            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        deadline = time.monotonic() + 240
        while not answers(port):
            assert proc.poll() is None, "edp dev exited before the UI answered"
            assert time.monotonic() < deadline, "the UI did not answer within 240 s"
            time.sleep(1)
    try:
        started = descendants(proc.pid)
        commands = " ".join(Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
                            for p in started if alive(p))
        assert "dagster-daemon" in commands or "daemon" in commands  # dagster dev's daemon
        assert "sandbox" in commands
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        deadline = time.monotonic() + 15
        while any(alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [p for p in started if alive(p)], "processes outlived edp dev"
        assert not answers(port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in descendants(proc.pid):
            os.kill(pid, signal.SIGKILL)
