"""The hold gate as the ESP sync sees it: a Dagster failure that says, in the UI, why nothing
was pushed and how to release it."""

import dagster as dg

from email_data_platform.lib.markdown import frame_to_markdown
from email_data_platform.lib.observability import stage as observability


def refuse_sync_while_held(warehouse) -> None:
    """Call before any push to the ESP: fails the step while an anomaly hold is unacknowledged."""
    try:
        observability.refuse_sync_while_held(warehouse)
    except observability.SyncHeldError as held:
        raise dg.Failure(
            description=str(held),
            metadata={"open_holds": dg.MetadataValue.md(frame_to_markdown(
                held.holds.select("hold_id", "opened_at", "rule", "asset", "message")))},
            allow_retries=False,
        ) from None
