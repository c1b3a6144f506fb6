"""Turns a Dagster run's events into the per-asset summary `edp run` prints."""

from dataclasses import dataclass, field

import dagster as dg


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
    for event in result.all_events:
        kind, step = event.event_type_value, event.step_key
        if kind == "STEP_FAILURE":
            failed_steps.add(step)
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
            else:
                line.warnings.append(evaluation.check_name)
    for step, assets in step_assets.items():
        for asset in assets:
            lines[asset].seconds = step_seconds.get(step)
            if step in failed_steps:
                lines[asset].status = "failed"
    _mark_failed_steps_without_output(result, lines, failed_steps)
    return RunSummary(sorted(lines.values(), key=lambda x: x.asset), blocking, result.success)


def _mark_failed_steps_without_output(result, lines, failed_steps) -> None:
    """A step that failed before writing anything still names its assets as failed."""
    for step in failed_steps:
        for key in result.job_def.asset_layer.asset_keys_for_node(step.split("[")[0]):
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
    verdict = "OK" if summary.ok else "FAILED"
    out.append(f"run {verdict}: {len(summary.lines)} assets, "
               f"{len(summary.blocking_failures)} blocking check failures")
    return "\n".join(out)
