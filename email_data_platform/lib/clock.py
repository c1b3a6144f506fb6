"""The instant a run judges its data against: now, unless `EDP_AS_OF` pins it.

Pinning it replays a run as of a past day (backfills, audits) and keeps runs on generated data
from depending on the day they happen. Only judgements about the data read it (is a date in
the future, how recent is someone's activity); when something was done (recorded_at,
logged_at, requested_at) is always the real now.
"""

import os
from datetime import UTC, datetime

ENV = "EDP_AS_OF"


def parse_instant(value: str, name: str = ENV) -> datetime:
    """An ISO 8601 instant, in UTC; one with no zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an ISO 8601 instant "
                         "(e.g. 2026-11-01 or 2026-11-01T00:00:00+00:00)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def as_of(override: str = "") -> datetime:
    """`override` if given (a run's config), else `EDP_AS_OF` if set, else now (UTC)."""
    if override.strip():
        return parse_instant(override, "as_of")
    pinned = os.environ.get(ENV, "")
    return parse_instant(pinned) if pinned.strip() else datetime.now(UTC)
