"""The whole graph as `edp run` runs it, measured per step; prints one JSON line.

    nice -n 10 .venv/bin/python benchmarks/pipeline.py --contacts 1000000

Same path as `edp run` (data set written once and reused, simulators in their own process, the
main job executed in this process) in a fresh warehouse and Dagster home under --workdir.
Figures: `materialise_seconds` (and `materialise_cpu_seconds`); per step (Dagster's own step
start/end events) `seconds`, `cpu_seconds` (this process; the simulators' work is apart) and
`peak_rss_mb`, the highest resident memory this process reached while the step ran (sampled
every 50 ms by a thread); `peak_rss_mb` of the run process overall (the kernel's mark) and of
the simulators' process; `requests` per vendor from the simulators' journal, and each
vendor's requests per path kind. Issue 13 targets on 2 cores: 1M contacts in <= 150 s, run
process peak <= 2.5 GB, and 2M no more than 1.2x the 1M peak.

With `--step-processes` the job runs as `edp run --step-processes` does (each step in a process
forked for it, one at a time); a step's `peak_rss_mb` is then the largest process of the run
(the run process, the fork server or the step's) while it ran, and `total_rss_mb` the sum of
them all at one instant.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from email_data_platform.cli.run import (  # noqa: E402
    DEFAULT_SEED,
    materialise,
    materialise_in_step_processes,
    prepare_data,
    prepare_instance,
    truth_env,
)
from email_data_platform.cli.sandbox_process import sandbox_env, sandbox_process  # noqa: E402


def _rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _children(pid: int | str = "self") -> list[str]:
    """Pids of a process's children (this one's: the simulators' process, step processes)."""
    pids = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += (task / "children").read_text().split()
    except OSError:
        pass
    return pids


def _descendants(skip: set[str]) -> list[str]:
    found, queue = [], [p for p in _children() if p not in skip]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue += _children(pid)
    return found


class RssSampler(threading.Thread):
    """Samples the resident memory of this process and of its descendants other than `skip`
    (the simulators); `peak(start, end)` is the largest single process in a time window."""

    def __init__(self, interval: float = 0.05, skip: set[str] | None = None):
        super().__init__(daemon=True)
        self.interval, self.samples, self.running = interval, [], True
        self.skip = skip or set()

    def run(self) -> None:
        while self.running:
            others = [_rss_mb(pid) for pid in _descendants(self.skip)]
            own = _rss_mb()
            self.samples.append((time.time(), max([own, *others]), time.process_time(),
                                 round(own + sum(others), 1)))
            time.sleep(self.interval)

    def peak(self, start: float, end: float, column: int = 1) -> float:
        inside = [s[column] for s in self.samples if start <= s[0] <= end + self.interval]
        return max(inside, default=0.0)

    def cpu(self, start: float, end: float) -> float:
        """CPU seconds this process spent in [start, end]: unlike wall time, not inflated by
        other work on a shared machine."""
        inside = [s[2] for s in self.samples if start <= s[0] <= end + self.interval]
        return round(inside[-1] - inside[0], 2) if len(inside) > 1 else 0.0


def step_figures(records, sampler: RssSampler) -> dict:
    """Seconds and peak RSS per step, from the run's step start and end events."""
    started, ended = {}, {}
    for record in records:
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = record.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ended[event.step_key] = record.timestamp
    return {
        step: {"seconds": round(ended[step] - started[step], 2),
               "cpu_seconds": sampler.cpu(started[step], ended[step]),
               "peak_rss_mb": sampler.peak(started[step], ended[step]),
               "total_rss_mb": sampler.peak(started[step], ended[step], column=3)}
        for step in sorted(started, key=started.get) if step in ended
    }


def requests_by_vendor(journal: Path) -> tuple[dict, dict]:
    totals, kinds = Counter(), Counter()
    if journal.exists():
        with journal.open() as lines:
            for line in lines:
                entry = json.loads(line)
                vendor = entry.get("vendor", "?")
                totals[vendor] += 1
                path = entry.get("path", "")
                kind = "/".join(p for p in path.split("/")[:5] if p and not p[:1].isdigit())
                kinds[f"{vendor} {entry.get('method', '')} {kind}"] += 1
    return dict(totals), dict(kinds.most_common(20))


def run(contacts: int, workdir: Path, data_home: Path, step_processes: bool = False) -> dict:
    data_dir = prepare_data(data_home, contacts, DEFAULT_SEED, None)
    journal = workdir / "journal.jsonl"
    os.environ["DAGSTER_HOME"] = str(workdir / "dagster_home")
    with sandbox_process(data_dir, journal) as info:
        sandbox_pids = _children()
        sampler = RssSampler(skip=set(sandbox_pids))
        os.environ.update(sandbox_env(info))
        os.environ["EDP_WAREHOUSE_PATH"] = str(workdir / "warehouse.duckdb")
        os.environ["EDP_HOME"] = str(workdir)
        os.environ.setdefault("EDP_ALERT_WEBHOOK_URL", "")  # as edp run: alerts in the table
        os.environ.update(truth_env(data_dir))
        sampler.start()
        started, cpu_started = time.monotonic(), time.process_time()
        with prepare_instance(workdir) as instance:
            if step_processes:
                success = materialise_in_step_processes(None, instance).ok
                run_id = instance.get_run_records(limit=1)[0].dagster_run.run_id
            else:
                result, _ = materialise(None, instance)
                success, run_id = result.success, result.run_id
            seconds = round(time.monotonic() - started, 1)
            cpu_seconds = round(time.process_time() - cpu_started, 1)
            records = instance.all_logs(run_id)
        sandbox_peak = round(sum(_rss_mb(pid, "VmHWM") for pid in sandbox_pids), 1)
    sampler.running = False
    totals, kinds = requests_by_vendor(journal)
    return {
        "contacts": contacts, "cpus": os.cpu_count(), "success": success,
        "step_processes": step_processes,
        "materialise_seconds": seconds, "materialise_cpu_seconds": cpu_seconds,
        "peak_rss_mb": _rss_mb("self", "VmHWM"),
        "largest_process_peak_rss_mb": max(s[1] for s in sampler.samples),
        "total_peak_rss_mb": max(s[3] for s in sampler.samples),
        "simulators_peak_rss_mb": sandbox_peak, "steps": step_figures(records, sampler),
        "requests": totals, "requests_by_path": kinds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--data-home", type=Path, default=ROOT / ".edp",
                        help="where generated data sets are kept and reused (as edp run)")
    parser.add_argument("--step-processes", action="store_true",
                        help="each step in its own process, as `edp run --step-processes`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edp-pipeline-") as tmp:
        figures = run(args.contacts, args.workdir or Path(tmp), args.data_home,
                      args.step_processes)
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0 if figures["success"] else 1


if __name__ == "__main__":
    sys.exit(main())
