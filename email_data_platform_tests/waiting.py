"""Wait for a condition, not for a fixed time: as fast as the machine allows, bounded."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str,
               ignore: tuple[type[BaseException], ...] = (), interval: float = 0.05) -> T:
    """Return the first truthy value of `predicate()`; fail naming `what` after `timeout` s.

    Exceptions listed in `ignore` count as "not yet" (a server still starting, say).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
            if value:
                return value
        except ignore:
            pass
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
