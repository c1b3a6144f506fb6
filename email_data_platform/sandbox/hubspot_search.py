"""HubSpot's CRM search semantics, evaluated as polars expressions over the object frame.

Rules kept from the real API: up to 5 filterGroups (OR) of up to 6 filters (AND), one sort,
`limit` <= 200, `after` is an offset, and no query may page past 10,000 results (400).
Ties in the sort are broken by id so paging is deterministic.
"""

from datetime import datetime

import polars as pl

from email_data_platform.sandbox.hubspot_store import TIME_PROPERTIES, ObjectTable
from email_data_platform.sandbox.vendor import VendorError

SEARCH_LIMIT = 200
SEARCH_CAP = 10_000


def _bad(message: str) -> VendorError:
    return VendorError(400, "VALIDATION_ERROR", message)


def _time_value(value: object) -> int:
    """HubSpot accepts epoch milliseconds or ISO 8601 for date-time filters."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise _bad(f"Invalid date-time filter value {text!r}.") from None


def _column(table: ObjectTable, prop: str) -> tuple[pl.Expr, bool]:
    """Expression for a property and whether its values compare as numbers."""
    if prop in TIME_PROPERTIES:
        return pl.col(TIME_PROPERTIES[prop]), True
    if prop == "hs_object_id":
        return pl.col("id"), True
    if prop in table.spec.properties:
        return pl.col(prop), False
    raise _bad(f"Unknown property {prop!r} in filter or sort.")


def _filter_expr(table: ObjectTable, flt: dict) -> pl.Expr:
    prop, op = flt.get("propertyName"), str(flt.get("operator", "")).upper()
    column, numeric = _column(table, str(prop))

    def value(key: str = "value") -> object:
        raw = flt.get(key)
        if raw is None:
            raise _bad(f"Filter on {prop!r} with {op} needs {key!r}.")
        if not numeric:
            return str(raw)
        return _time_value(raw) if prop in TIME_PROPERTIES else int(raw)

    comparisons = {
        "EQ": lambda: column == value(), "NEQ": lambda: column != value(),
        "LT": lambda: column < value(), "LTE": lambda: column <= value(),
        "GT": lambda: column > value(), "GTE": lambda: column >= value(),
        "BETWEEN": lambda: column.is_between(value(), value("highValue")),
        "HAS_PROPERTY": lambda: column.is_not_null(),
        "NOT_HAS_PROPERTY": lambda: column.is_null(),
        "IN": lambda: column.is_in([str(v) if not numeric else int(v)
                                    for v in flt.get("values") or []]),
    }
    if op not in comparisons:
        raise _bad(f"Unsupported filter operator {op!r}.")
    return comparisons[op]()


def _where(table: ObjectTable, groups: list) -> pl.Expr | None:
    if len(groups) > 5:
        raise _bad("At most 5 filterGroups are allowed.")
    ored = None
    for group in groups:
        filters = group.get("filters") or []
        if len(filters) > 6:
            raise _bad("At most 6 filters per filterGroup are allowed.")
        anded = None
        for flt in filters:
            expr = _filter_expr(table, flt)
            anded = expr if anded is None else anded & expr
        if anded is not None:
            ored = anded if ored is None else ored | anded
    return ored


def _sort(table: ObjectTable, sorts: list) -> tuple[list[pl.Expr], list[bool]]:
    if len(sorts) > 1:
        raise _bad("Only one sort is allowed.")
    if not sorts:
        return [pl.col("id")], [False]
    sort = sorts[0]
    prop = sort if isinstance(sort, str) else sort.get("propertyName")
    direction = "ASCENDING" if isinstance(sort, str) else str(sort.get("direction", "ASCENDING"))
    column, _ = _column(table, str(prop).lstrip("-"))
    descending = direction.upper() == "DESCENDING" or str(prop).startswith("-")
    return [column, pl.col("id")], [descending, False]


def search_page(table: ObjectTable, query: dict) -> tuple[pl.DataFrame, int, int | None]:
    """Evaluate a search body: (page rows, total matches, next `after` or None)."""
    limit = query.get("limit", 10)
    if not isinstance(limit, int) or not 1 <= limit <= SEARCH_LIMIT:
        raise _bad(f"limit must be an integer in 1..{SEARCH_LIMIT}.")
    try:
        after = int(query.get("after") or 0)
    except (TypeError, ValueError):
        raise _bad("after must be an integer offset.") from None
    if after >= SEARCH_CAP:
        raise _bad(f"Paging beyond {SEARCH_CAP} results is not allowed; narrow the filters.")
    frame = table.active  # archived records are never searchable
    where = _where(table, query.get("filterGroups") or [])
    matches = frame if where is None else frame.filter(where)
    by, descending = _sort(table, query.get("sorts") or [])
    end = min(after + limit, SEARCH_CAP)
    page = matches.sort(by, descending=descending).slice(after, end - after)
    next_after = end if end < min(matches.height, SEARCH_CAP) else None
    return page, matches.height, next_after
