"""Runs the vendor simulators in a child process and hands their addresses to the caller."""

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)


def sandbox_env(info: dict) -> dict[str, str]:
    """Flatten `{"hubspot": {"base_url": ...}}` into `{"HUBSPOT_BASE_URL": ...}` env variables."""
    env = {}
    for vendor, settings in info.items():
        if isinstance(settings, dict):
            for key, value in settings.items():
                env[f"{vendor}_{key}".upper()] = str(value)
    return env


@contextmanager
def sandbox_process(
    data_dir: Path, journal_path: Path, timeout: float = 60.0
) -> Iterator[dict]:
    """Start `edp sandbox serve` in the background; yield its info; stop it on exit.

    A separate process keeps the simulators' HTTP work off the extraction's interpreter (GIL).
    """
    cmd = [
        sys.executable, "-m", "email_data_platform.cli", "sandbox", "serve",
        "--data", str(data_dir), "--journal", str(journal_path),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        info = read_ready_line(proc, timeout)
        yield info
    finally:
        _stop(proc)


def read_ready_line(proc: subprocess.Popen, timeout: float) -> dict:
    """The child's first stdout line, as JSON; an error if none comes within `timeout` s."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        raise RuntimeError(f"the sandbox did not report ready within {timeout:.0f} s")
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the sandbox exited before it was ready (exit code {proc.wait()})")
    return json.loads(line)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.stdout:
        proc.stdout.close()
