"""Segments declared as data (segments.yaml): validated, then compiled to polars filters.

A segment holds `all` rules (every one must hold) and/or `any` rules (at least one must hold);
when both are present both conditions apply. A rule is {field, op, value}. Validation names the
segment and the rule (`segment 'lapsed', all[1]: ...`) so a marketer can fix the file.

Privacy rules applied when memberships are assigned:
- a segment built on behaviour or value (any rule over a feature other than the ESP's own
  suppression status) includes only entities with a current `profiling` grant;
- a segment may declare `topic: <name>` (newsletter, offers, ...): it then excludes entities
  whose preference for that topic is withdrawn.
"""

import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
import yaml

logger = logging.getLogger(__name__)

DEFAULT_SEGMENTS_PATH = Path(__file__).resolve().parents[2] / "segments.yaml"
COMPARISONS = {
    "==": lambda c, v: c == v, "!=": lambda c, v: c != v,
    ">": lambda c, v: c > v, ">=": lambda c, v: c >= v,
    "<": lambda c, v: c < v, "<=": lambda c, v: c <= v,
}
LIST_OPS = {"in": lambda c, v: c.is_in(v), "not_in": lambda c, v: ~c.is_in(v)}
NULL_OPS = {"is_null": lambda c: c.is_null(), "not_null": lambda c: c.is_not_null()}
_SEGMENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SEGMENT_KEYS = {"description", "all", "any", "topic"}
# Features that describe the ESP's own status of an address, not the person's behaviour or value.
NON_PROFILING_FIELDS = frozenset({"suppressed", "suppression_reason"})


class SegmentDefinitionError(ValueError):
    """segments.yaml breaks a rule; the message names the segment and the rule."""


@dataclass(frozen=True)
class Rule:
    field: str
    op: str
    value: Any = None

    def expression(self) -> pl.Expr:
        column = pl.col(self.field)
        if self.op in NULL_OPS:
            return NULL_OPS[self.op](column)
        if self.op in LIST_OPS:
            return LIST_OPS[self.op](column, self.value).fill_null(False)
        return COMPARISONS[self.op](column, self.value).fill_null(False)


@dataclass(frozen=True)
class Segment:
    name: str
    description: str
    all_rules: tuple[Rule, ...]
    any_rules: tuple[Rule, ...]
    topic: str | None = None

    @property
    def uses_profiling(self) -> bool:
        """Built on behaviour or value: needs the person's profiling consent."""
        return any(r.field not in NON_PROFILING_FIELDS for r in self.all_rules + self.any_rules)

    def expression(self) -> pl.Expr:
        condition = pl.lit(True)
        for rule in self.all_rules:
            condition = condition & rule.expression()
        if self.any_rules:
            condition = condition & pl.any_horizontal([r.expression() for r in self.any_rules])
        return condition


def load_segments(
    path: str | Path = DEFAULT_SEGMENTS_PATH, schema: dict[str, pl.DataType] | None = None
) -> list[Segment]:
    """Read and validate a segments file; `schema` (column -> dtype) checks fields and values."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        raise SegmentDefinitionError(f"{path}: not valid YAML: {error}") from error
    return parse_segments(document, schema)


def parse_segments(
    document: Any, schema: dict[str, pl.DataType] | None = None
) -> list[Segment]:
    if not isinstance(document, dict) or not isinstance(document.get("segments"), dict):
        raise SegmentDefinitionError("segments file must have a top-level 'segments' mapping")
    if not document["segments"]:
        raise SegmentDefinitionError("segments file declares no segments")
    return [_parse_segment(name, body, schema) for name, body in document["segments"].items()]


def _parse_segment(name: Any, body: Any, schema: dict[str, pl.DataType] | None) -> Segment:
    if not isinstance(name, str) or not _SEGMENT_NAME.match(name):
        raise SegmentDefinitionError(f"segment {name!r}: name must be lower snake case")
    if not isinstance(body, dict):
        raise SegmentDefinitionError(f"segment {name!r}: must be a mapping with all/any rules")
    unknown = set(body) - _SEGMENT_KEYS
    if unknown:
        raise SegmentDefinitionError(f"segment {name!r}: unknown keys {sorted(unknown)}")
    if not body.get("all") and not body.get("any"):
        raise SegmentDefinitionError(f"segment {name!r}: needs at least one rule in all/any")
    groups = {}
    for group in ("all", "any"):
        rules = body.get(group) or []
        if not isinstance(rules, list):
            raise SegmentDefinitionError(f"segment {name!r}: '{group}' must be a list of rules")
        groups[group] = tuple(
            _parse_rule(f"segment {name!r}, {group}[{i}]", raw, schema)
            for i, raw in enumerate(rules)
        )
    topic = body.get("topic")
    if topic is not None and (not isinstance(topic, str) or not _SEGMENT_NAME.match(topic)):
        raise SegmentDefinitionError(f"segment {name!r}: topic must be a lower snake case name")
    return Segment(name, str(body.get("description", "")), groups["all"], groups["any"], topic)


def _parse_rule(where: str, raw: Any, schema: dict[str, pl.DataType] | None) -> Rule:
    if not isinstance(raw, dict) or not {"field", "op"} <= set(raw):
        raise SegmentDefinitionError(f"{where}: a rule needs 'field' and 'op' (got {raw!r})")
    unknown = set(raw) - {"field", "op", "value"}
    if unknown:
        raise SegmentDefinitionError(f"{where}: unknown rule keys {sorted(unknown)}")
    field, op, value = raw["field"], raw["op"], raw.get("value")
    if op not in COMPARISONS | LIST_OPS | NULL_OPS:
        known = sorted(COMPARISONS | LIST_OPS | NULL_OPS)
        raise SegmentDefinitionError(f"{where}: unknown op {op!r}; expected one of {known}")
    if schema is not None and field not in schema:
        raise SegmentDefinitionError(f"{where}: unknown field {field!r}; features are "
                                     f"{sorted(schema)}")
    if op in NULL_OPS:
        if "value" in raw:
            raise SegmentDefinitionError(f"{where}: op {op!r} takes no value")
    elif op in LIST_OPS:
        if not isinstance(value, list) or not value:
            raise SegmentDefinitionError(f"{where}: op {op!r} needs a non-empty list value")
        value = [_checked_value(where, field, item, schema) for item in value]
    else:
        value = _checked_value(where, field, value, schema)
    return Rule(field, op, value)


def _checked_value(where: str, field: str, value: Any, schema: dict | None) -> Any:
    """The rule's literal, type-checked against the feature column (dates parsed from ISO)."""
    if value is None or isinstance(value, list | dict):
        raise SegmentDefinitionError(f"{where}: value for {field!r} must be a single literal")
    if schema is None:
        return value
    dtype = schema[field]
    if dtype == pl.Date:
        return _as_date(where, field, value)
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if dtype.is_numeric() and not numeric:
        raise SegmentDefinitionError(f"{where}: {field!r} is numeric, value {value!r} is not")
    if dtype == pl.Boolean and not isinstance(value, bool):
        raise SegmentDefinitionError(f"{where}: {field!r} is boolean, value {value!r} is not")
    if dtype == pl.Utf8 and not isinstance(value, str):
        raise SegmentDefinitionError(f"{where}: {field!r} is text, value {value!r} is not")
    return value


def _as_date(where: str, field: str, value: Any) -> date:
    if isinstance(value, date):  # YAML reads unquoted 2026-01-31 as a date already
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SegmentDefinitionError(
            f"{where}: {field!r} is a date, value {value!r} is not YYYY-MM-DD") from None


def assign_segments(features: pl.DataFrame, segments: list[Segment],
                    profiling_granted: pl.Series | None = None,
                    topic_opt_outs: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per (entity_id, segment) membership, in the order segments are declared.

    Args:
        profiling_granted: entity ids with a current profiling grant; None = not restricted
            (the privacy stage does not know the purpose yet).
        topic_opt_outs: (entity_id, topic) whose topic preference is withdrawn.
    """
    memberships = []
    for segment in segments:
        members = features.filter(segment.expression())
        if segment.uses_profiling and profiling_granted is not None:
            members = members.filter(pl.col("entity_id").is_in(profiling_granted.implode()))
        if segment.topic and topic_opt_outs is not None:
            out = topic_opt_outs.filter(pl.col("topic") == segment.topic)["entity_id"]
            members = members.filter(~pl.col("entity_id").is_in(out.implode()))
        memberships.append(members.select("entity_id",
                                          segment=pl.lit(segment.name, dtype=pl.Utf8)))
    if not memberships:
        return pl.DataFrame(schema={"entity_id": pl.Utf8, "segment": pl.Utf8})
    return pl.concat(memberships).sort("entity_id", "segment")


class SegmentsModel(pa.DataFrameModel):
    """audiences.segments: one row per (entity_id, segment) membership."""

    entity_id: str
    segment: str = pa.Field(str_matches=_SEGMENT_NAME.pattern)

    class Config:
        strict = False
        unique = ["entity_id", "segment"]
