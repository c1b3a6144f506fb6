"""Live progress for `edp run`: a thread that follows the run's events in the Dagster instance
and prints each asset as it finishes (rows, seconds), each failed check or step as it happens,
and a heartbeat for a step still running (long extractions and syncs)."""

import sys
import threading
import time

import dagster as dg

from email_data_platform.cli.summary import check_message, step_error_message

_EVENTS = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.ASSET_MATERIALIZATION,
           dg.DagsterEventType.ASSET_CHECK_EVALUATION, dg.DagsterEventType.STEP_FAILURE,
           dg.DagsterEventType.STEP_SUCCESS}


RUN_TAG = "edp/run"


class RunProgress(threading.Thread):
    """Use as a context manager around `execute_in_process(run_id=...)`, or, for a run whose
    id is chosen when it starts (`execute_job`), around one tagged `RUN_TAG: tag`."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str | None = None, out=None,
                 poll_seconds: float = 0.5, heartbeat_seconds: float = 15.0,
                 tag: str | None = None):
        super().__init__(daemon=True, name="edp-run-progress")
        self.instance, self.run_id, self.tag = instance, run_id, tag
        self.out = out or sys.stdout
        self.poll_seconds, self.heartbeat_seconds = poll_seconds, heartbeat_seconds
        self._stop_event = threading.Event()
        self._cursor: str | None = None
        self._running: dict[str, float] = {}  # step key -> start time
        self._last_heartbeat = time.monotonic()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self._stop_event.set()
        self.join(timeout=10)
        self._poll()  # whatever arrived after the last tick

    def run(self) -> None:
        while not self._stop_event.wait(self.poll_seconds):
            self._poll()
            self._heartbeat()

    def _poll(self) -> None:
        if self.run_id is None:
            found = self.instance.get_run_records(
                filters=dg.RunsFilter(tags={RUN_TAG: self.tag}), limit=1)
            if not found:
                return
            self.run_id = found[0].dagster_run.run_id
        try:
            connection = self.instance.get_records_for_run(self.run_id, cursor=self._cursor,
                                                           of_type=_EVENTS)
        except Exception:  # the run may not be stored yet: try again next tick
            return
        self._cursor = connection.cursor
        for record in connection.records:
            event = record.event_log_entry.dagster_event
            if event is not None:
                self._show(event, record.event_log_entry.timestamp)

    def _show(self, event, timestamp: float) -> None:
        kind, step = event.event_type, event.step_key
        if kind == dg.DagsterEventType.STEP_START:
            self._running[step] = timestamp
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            self._running.pop(step, None)
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            rows = materialization.metadata.get("dagster/row_count")
            seconds = timestamp - self._running.get(step, timestamp)
            rows_text = f"{rows.value:>12,} rows" if rows is not None else " " * 17
            self._print(f"  done  {materialization.asset_key.to_user_string():<38}"
                        f"{rows_text} {seconds:7.1f} s")
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                label = "FAIL" if evaluation.severity == dg.AssetCheckSeverity.ERROR else "warn"
                self._print(f"  {label}  check {evaluation.asset_key.to_user_string()}:"
                            f"{evaluation.check_name}: {check_message(evaluation)}")
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            self._running.pop(step, None)
            self._print(f"  FAIL  step {step}: {step_error_message(event)}")

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if not self._running or now - self._last_heartbeat < self.heartbeat_seconds:
            return
        self._last_heartbeat = now
        wall = time.time()
        running = ", ".join(f"{step} ({wall - started:.0f} s)"
                            for step, started in self._running.items())
        self._print(f"  ...   running: {running}")

    def _print(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()
