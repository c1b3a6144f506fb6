"""Time the synthetic data generator; prints one JSON line.

    .venv/bin/python benchmarks/generate.py --contacts 1000000 [--seed 42] [--out DIR]
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from email_data_platform.sandbox.generator import generate_dataset, write_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, help="also time writing Parquet into this folder")
    args = parser.parse_args(argv)

    started, cpu_started = time.perf_counter(), time.process_time()
    dataset = generate_dataset(args.contacts, args.seed)
    generate_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    result = {
        "benchmark": "generate",
        "contacts": args.contacts,
        "seed": args.seed,
        "seconds": round(generate_seconds, 3),
        # CPU time of all threads: comparable between runs on a busy shared machine
        "cpu_seconds": round(cpu_seconds, 3),
        "rows_per_second": round(args.contacts / generate_seconds) if generate_seconds else None,
        "rows": dataset.counts(),
    }
    if args.out is not None:
        started = time.perf_counter()
        paths = write_dataset(dataset, args.out)
        result["write_seconds"] = round(time.perf_counter() - started, 3)
        result["bytes"] = sum(p.stat().st_size for p in paths.values())
    # ru_maxrss is KiB on Linux
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
