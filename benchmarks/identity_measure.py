"""Stage timing and peak memory for benchmarks (Linux: /proc)."""

import gc
import time
from contextlib import contextmanager
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so the next reading covers one stage only."""
    gc.collect()
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    return round(_status_kb("VmHWM") / 1024, 1)


@contextmanager
def stage(figures: dict, name: str):
    """Record `<name>_seconds` and `<name>_peak_rss_mb` for the block."""
    reset_peak_rss()
    started = time.perf_counter()
    try:
        yield
    finally:
        figures[f"{name}_seconds"] = round(time.perf_counter() - started, 2)
        figures[f"{name}_peak_rss_mb"] = peak_rss_mb()
