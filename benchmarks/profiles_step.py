"""The profiles step (`clean_profiles_tables`) alone, in a fresh process: prints one JSON line.

    .venv/bin/python benchmarks/profiles_step.py SOURCE_WAREHOUSE WORKDIR [--keep]
        [--metadata FILE]

SOURCE_WAREHOUSE is a warehouse after a full run (its `sources.*` tables are the input); it is
copied to WORKDIR/warehouse.duckdb first, so every measurement starts from the same file and
the source is never written. The asset runs through `dg.materialize` (in-process, as in a run),
so the figures include Dagster's own cost. `import_rss_mb` is the process before the step;
`peak_rss_mb` the kernel's high-water mark; `rss_timeline_mb` the largest RSS in each 5 s.
`--metadata` writes every materialisation's metadata (as text) to FILE, to compare two runs.
"""

import argparse
import json
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

import dagster as dg

from email_data_platform.defs.profiles.assets import clean_profiles_tables
from email_data_platform.defs.warehouse import WarehouseResource


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class Sampler(threading.Thread):
    """RSS every 50 ms; the largest per 5 s window, to see which table the memory comes with."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.started = time.perf_counter()
        self.windows: dict[int, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            window = int((time.perf_counter() - self.started) // 5) * 5
            self.windows[window] = max(self.windows.get(window, 0.0), _rss_mb())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--keep", action="store_true", help="reuse WORKDIR's warehouse as is")
    parser.add_argument("--metadata", type=Path, help="write the assets' metadata here")
    args = parser.parse_args()
    target = args.workdir / "warehouse.duckdb"
    if not args.keep:
        args.workdir.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        Path(f"{target}.wal").unlink(missing_ok=True)
        shutil.copyfile(args.source, target)
    baseline = _peak_rss_mb()
    sampler = Sampler()
    sampler.start()
    started, cpu = time.perf_counter(), time.process_time()
    result = dg.materialize(
        [clean_profiles_tables],
        resources={"warehouse": WarehouseResource(path=str(target))},
        raise_on_error=True,
    )
    seconds = time.perf_counter() - started
    sampler.stopping.set()
    sampler.join()
    rows = {
        str(event.asset_key.path[-1]): event.step_materialization_data.materialization.metadata[
            "dagster/row_count"].value
        for event in result.get_asset_materialization_events()
    }
    if args.metadata:
        args.metadata.write_text(json.dumps({
            "/".join(event.asset_key.path): {
                name: str(value.value) for name, value in sorted(
                    event.step_materialization_data.materialization.metadata.items())}
            for event in result.get_asset_materialization_events()}, indent=1))
    figures = {
        "benchmark": "profiles_step",
        "success": result.success,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "import_rss_mb": baseline,
        "peak_rss_mb": _peak_rss_mb(),
        "rows": rows,
        "rss_timeline_mb": {t: round(v) for t, v in sorted(sampler.windows.items())},
    }
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
