"""Volume guards that hold activation when an audience suddenly shrinks or balloons."""

import dagster as dg

from email_data_platform.defs.observability.history import recent_row_counts
from email_data_platform.lib.observability.stage import row_count_anomaly

AUDIENCE = dg.AssetKey(["audiences", "marketable_audience"])


@dg.asset_check(
    asset=AUDIENCE,
    blocking=True,
    description="Blocks the ESP sync when the marketable audience's size is far from its recent "
    "median (a broken consent feed or join would otherwise archive or mail thousands).",
)
def audience_volume_stable(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    counts = recent_row_counts(context.instance, AUDIENCE, limit=8)
    if not counts:
        return dg.AssetCheckResult(passed=True, metadata={"reason": "no materialisation yet"})
    current, history = counts[0][1], [c for _, c in counts[1:]]
    reason = row_count_anomaly(history, current)
    return dg.AssetCheckResult(
        passed=reason is None,
        metadata={"row_count": current, "history": str(history), "reason": reason or "normal"},
    )
