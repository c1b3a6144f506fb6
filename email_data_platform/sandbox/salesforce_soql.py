"""The slice of SOQL the Salesforce simulator understands, compiled to polars expressions.

    SELECT f1, f2, Account.Name FROM Contact
    [WHERE SystemModstamp >= 2024-01-01T00:00:00Z AND IsDeleted = false ...]
    [ORDER BY SystemModstamp ASC, Id ASC] [LIMIT n]

plus `SELECT COUNT() FROM Contact [WHERE ...]`. Conditions are joined by AND; values are
date-time literals, quoted strings, numbers or booleans. Anything else is a MALFORMED_QUERY.
"""

import re
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from email_data_platform.sandbox.vendor import VendorError

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$", re.IGNORECASE | re.DOTALL)
_CONDITION = re.compile(r"^\s*([\w.]+)\s*(=|!=|<=|>=|<|>)\s*(.+?)\s*$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


def malformed(message: str) -> VendorError:
    return VendorError(400, "MALFORMED_QUERY", message)


@dataclass
class Query:
    object: str
    fields: list[str]  # canonical field names (render them through the schema); [] for COUNT()
    count_only: bool
    where: pl.Expr | None
    order: list[tuple[str, bool]]  # (column, descending)
    limit: int | None


def _literal(text: str, column: str, time_columns: set[str]) -> object:
    if column in time_columns:
        if not _DATETIME.match(text):
            raise malformed(f"value {text!r} for {column} is not a date-time literal")
        normalised = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text.replace("Z", "+00:00"))
        return int(datetime.fromisoformat(normalised).timestamp() * 1000)
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        raise malformed(f"unexpected value {text!r}") from None


def parse(soql: str, schema: dict[str, dict[str, str]], time_columns: set[str]) -> Query:
    """Parse against `schema`: object -> {canonical field name: stored column}."""
    match = _QUERY.match(soql or "")
    if not match:
        raise malformed("query must look like SELECT fields FROM object [WHERE] [ORDER BY]")
    obj = next((o for o in schema if o.lower() == match["object"].lower()), None)
    if obj is None:
        raise VendorError(400, "INVALID_TYPE",
                          f"sObject type '{match['object']}' is not supported.")
    canonical = {name.lower(): name for name in schema[obj]}

    def field(name: str) -> str:
        if name.lower() not in canonical:
            raise VendorError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj}'.")
        return canonical[name.lower()]

    def column(name: str) -> str:
        return schema[obj][field(name)]

    raw_fields = [f.strip() for f in match["fields"].split(",")]
    count_only = [f.upper() for f in raw_fields] == ["COUNT()"]
    fields = [] if count_only else [field(f) for f in raw_fields]
    where = None
    for part in re.split(r"\s+AND\s+", match["where"] or "", flags=re.IGNORECASE):
        if not part.strip():
            continue
        cond = _CONDITION.match(part)
        if not cond:
            raise malformed(f"cannot read condition {part.strip()!r} (only AND of comparisons)")
        name = column(cond[1])
        value = _literal(cond[3], name, time_columns)
        expr = {"=": pl.col(name) == value, "!=": pl.col(name) != value,
                "<": pl.col(name) < value, "<=": pl.col(name) <= value,
                ">": pl.col(name) > value, ">=": pl.col(name) >= value}[cond[2]]
        where = expr if where is None else where & expr
    order = []
    for part in (match["order"] or "").split(","):
        words = part.split()
        if words:
            order.append((column(words[0]), len(words) > 1 and words[1].upper() == "DESC"))
    return Query(obj, fields, count_only, where, order,
                 int(match["limit"]) if match["limit"] else None)
