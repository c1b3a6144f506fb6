"""Turns a Dagster run's events into the per-asset summary `edp run` prints."""

from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.dependency import NodeHandle

_MESSAGE_LIMIT = 400


@dataclass
class AssetLine:
    asset: str
    status: str = "skipped"
    rows: int | None = None
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float | None = None


@dataclass
class RunSummary:
    lines: list[AssetLine]
    blocking_failures: list[str]
    success: bool
    failures: list[tuple[str, str]] = field(default_factory=list)  # (what failed, why)

    @property
    def ok(self) -> bool:
        return self.success and not self.blocking_failures and all(
            line.status != "failed" for line in self.lines
        )


def summarise(
    result: dg.ExecuteInProcessResult, asset_keys: list[dg.AssetKey],
    instance: dg.DagsterInstance,
) -> RunSummary:
    lines = {key.to_user_string(): AssetLine(key.to_user_string()) for key in asset_keys}
    step_seconds = {
        stats.step_key: (stats.end_time or stats.start_time or 0) - (stats.start_time or 0)
        for stats in instance.get_run_step_stats(result.run_id)
    }
    step_assets: dict[str, list[str]] = {}
    failed_steps: set[str] = set()
    blocking: list[str] = []
    failures: list[tuple[str, str]] = []
    for event in result.all_events:
        kind, step = event.event_type_value, event.step_key
        if kind == "STEP_FAILURE":
            failed_steps.add(step)
            failures.append((f"step {step}", step_error_message(event)))
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            line = lines.setdefault(materialization.asset_key.to_user_string(),
                                    AssetLine(materialization.asset_key.to_user_string()))
            line.status = "ok"
            row_count = materialization.metadata.get("dagster/row_count")
            line.rows = row_count.value if row_count is not None else None
            step_assets.setdefault(step, []).append(line.asset)
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            line = lines.setdefault(evaluation.asset_key.to_user_string(),
                                    AssetLine(evaluation.asset_key.to_user_string()))
            if evaluation.passed:
                line.checks_passed += 1
            elif evaluation.severity == dg.AssetCheckSeverity.ERROR:
                line.checks_failed.append(evaluation.check_name)
                blocking.append(f"{line.asset}:{evaluation.check_name}")
                failures.append((f"check {line.asset}:{evaluation.check_name}",
                                 check_message(evaluation)))
            else:
                line.warnings.append(evaluation.check_name)
    for step, assets in step_assets.items():
        for asset in assets:
            lines[asset].seconds = step_seconds.get(step)
            if step in failed_steps:
                lines[asset].status = "failed"
    _mark_failed_steps_without_output(result, lines, failed_steps)
    return RunSummary(sorted(lines.values(), key=lambda x: x.asset), blocking, result.success,
                      failures)


def _mark_failed_steps_without_output(result, lines, failed_steps) -> None:
    """A step that failed before writing anything still names its assets as failed."""
    layer = result.job_def.asset_layer
    for step in failed_steps:
        keys = layer.get_selected_entity_keys_for_node(NodeHandle.from_string(step.split("[")[0]))
        for key in keys:
            if not isinstance(key, dg.AssetKey):
                continue  # a check's key: checks are reported by their evaluation
            line = lines.get(key.to_user_string())
            if line is not None and line.status == "skipped":
                line.status = "failed"


def format_summary(summary: RunSummary) -> str:
    header = f"{'asset':<40} {'status':<8} {'rows':>10} {'checks':>9} {'seconds':>8}"
    out = [header, "-" * len(header)]
    for line in summary.lines:
        rows = "" if line.rows is None else f"{line.rows:,}"
        total = line.checks_passed + len(line.checks_failed) + len(line.warnings)
        checks = f"{line.checks_passed}/{total}"
        seconds = "" if line.seconds is None else f"{line.seconds:.1f}"
        out.append(f"{line.asset:<40} {line.status:<8} {rows:>10} {checks:>9} {seconds:>8}")
        out.extend(f"    FAILED check: {check}" for check in line.checks_failed)
        out.extend(f"    warning: {check}" for check in line.warnings)
    if summary.failures:
        out.append("")
        out.append("what failed:")
        out.extend(f"  {name}: {message}" for name, message in summary.failures)
    verdict = "OK" if summary.ok else "FAILED"
    out.append(f"run {verdict}: {len(summary.lines)} assets, "
               f"{len(summary.blocking_failures)} blocking check failures")
    return "\n".join(out)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def step_error_message(event) -> str:
    """Why a step failed, in one line: a dg.Failure's description, else the user's exception
    (type and message), never a traceback."""
    data = event.event_specific_data
    user_failure = getattr(data, "user_failure_data", None)
    if user_failure is not None and user_failure.description:
        return _shorten(user_failure.description)
    error = getattr(data, "error", None)
    if error is None:
        return "failed (no error recorded)"
    while error.cause is not None and error.cls_name and "Dagster" in error.cls_name:
        error = error.cause  # Dagster's wrapper: the user's exception is its cause
    return _shorten(error.message.strip())


def check_message(evaluation) -> str:
    """A failed check's message: its description, else its short scalar metadata."""
    if evaluation.description:
        return _shorten(evaluation.description)
    facts = [f"{key}={value.value}" for key, value in evaluation.metadata.items()
             if isinstance(value.value, int | float | str) and len(str(value.value)) < 80]
    return _shorten(", ".join(facts) or "failed")
