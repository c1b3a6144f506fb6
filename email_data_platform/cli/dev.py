"""`edp dev`: the simulators in the background, and `dagster dev` (the UI and the daemon that
runs schedules, sensors and automation) in the foreground.

Stops cleanly on SIGTERM as on Ctrl-C, as a container or service manager stops it: the signal
is forwarded to Dagster's process group (its webserver, daemon and code servers), then the
simulators stop. Anything still alive after the grace period is killed.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from email_data_platform.cli.run import DEFAULT_SEED, prepare_data, prepare_instance, truth_env
from email_data_platform.cli.sandbox_process import sandbox_env, sandbox_process

GRACE_SECONDS = 30


def dev_command(port: int, contacts: int, warehouse: Path, home: Path = Path(".edp")) -> int:
    home.mkdir(parents=True, exist_ok=True)
    data_dir = prepare_data(home, contacts, DEFAULT_SEED, None)
    journal = home / "sandbox" / "journal.jsonl"
    journal.parent.mkdir(parents=True, exist_ok=True)
    prepare_instance(home).dispose()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with sandbox_process(data_dir, journal) as info:
            env = {
                **os.environ,
                **sandbox_env(info),
                "EDP_WAREHOUSE_PATH": str(warehouse.resolve()),
                "EDP_HOME": str(home.resolve()),
                "EDP_ALERT_WEBHOOK_URL": os.environ.get("EDP_ALERT_WEBHOOK_URL", ""),
                **truth_env(data_dir),
            }
            print(f"Dagster UI on http://127.0.0.1:{port}, daemon running (Ctrl-C or SIGTERM "
                  "stops both and the simulators)", flush=True)
            return _run_dagster_dev(port, env, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_dagster_dev(port: int, env: dict, stop: threading.Event) -> int:
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml",
           "-h", "127.0.0.1", "-p", str(port)]
    # Own process group, so one signal reaches the webserver, daemon and code servers; SIGINT
    # restored, because a background parent passes it on ignored and `dagster dev` then
    # ignores the stop it turns SIGTERM into.
    proc = subprocess.Popen(cmd, env=env, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while proc.poll() is None and not stop.wait(0.5):
        pass
    if proc.poll() is None:
        print("stopping Dagster and the simulators ...", flush=True)
        _stop_group(proc)
        return 0
    return proc.returncode


def _stop_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=GRACE_SECONDS)
    # Children that outlived their parent (a code server, the daemon) go too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
