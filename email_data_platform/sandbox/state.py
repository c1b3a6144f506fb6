"""Keeps an ESP simulator's account (members, contacts, lists) across restarts, as a real account
keeps them: one JSON file per vendor under a state folder (`.edp/sandbox/state/` for `edp run`;
`make clean` removes it). Without a folder the account lives in memory only (tests).

Writes are debounced: a simulator marks itself changed and a background thread saves at most
every `interval_s`, plus once on stop, through a temporary file renamed into place so a crash
never leaves half a file.
"""

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


class StateFile:
    """One vendor's saved account: `load()` at start, `mark_changed()` after every write."""

    def __init__(self, folder: Path | None, vendor: str, snapshot: Callable[[], dict],
                 interval_s: float = 1.0):
        self.path = Path(folder) / f"{vendor}.json" if folder else None
        self._snapshot, self._interval = snapshot, interval_s
        self._changed, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> dict | None:
        if self.path is None or not self.path.exists():
            return None
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # a damaged file must not stop the sandbox
            logger.warning("simulator state %s unreadable (%s); starting empty", self.path, error)
            return None

    def mark_changed(self) -> None:
        self._changed.set()

    def start(self) -> None:
        if self.path is not None and self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True,
                                            name=f"state-{self.path.stem}")
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.save_if_changed()

    def save_if_changed(self) -> None:
        if self.path is None or not self._changed.is_set():
            return
        self._changed.clear()
        data = self._snapshot()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, self.path)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.save_if_changed()
