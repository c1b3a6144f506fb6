import polars as pl
import pytest

from email_data_platform.lib.audiences.segments import (
    DEFAULT_SEGMENTS_PATH,
    SegmentDefinitionError,
    assign_segments,
    load_segments,
    parse_segments,
)

FEATURES = pl.DataFrame({
    "entity_id": ["e1", "e2", "e3", "e4"],
    "lifetime_value": [900.0, 20.0, 0.0, 600.0],
    "order_count": [3, 1, 0, 2],
    "recency_days": [10, 400, None, 200],
    "opens_90d": [0, 0, 2, 0],
    "clicks_90d": [0, 0, 0, 0],
    "rfm_segment": ["champion", "lapsed", "prospect", "at_risk"],
})
SCHEMA = dict(FEATURES.schema)


def test_shipped_segments_file_is_valid_and_assigns_members():
    segments = load_segments(DEFAULT_SEGMENTS_PATH, SCHEMA)
    assert {"high_value", "lapsed"} <= {s.name for s in segments}
    members = assign_segments(FEATURES, segments)
    by_segment = members.group_by("segment").agg(pl.col("entity_id").sort()).rows()
    assert dict(by_segment) == {
        "high_value": ["e1", "e4"], "lapsed": ["e2", "e4"],
        "engaged_prospects": ["e3"], "champions": ["e1"],
    }
    assert members.select("entity_id", "segment").is_duplicated().sum() == 0


def test_null_feature_never_matches_a_comparison():
    # e3's recency_days is null: no comparison holds for it, a negated one (!=, not_in) neither.
    doc = {"segments": {
        "old": {"all": [{"field": "recency_days", "op": ">=", "value": 0}]},
        "not_ten": {"all": [{"field": "recency_days", "op": "!=", "value": 10}]},
        "not_listed": {"any": [{"field": "recency_days", "op": "not_in", "value": [400]}]},
    }}
    members = assign_segments(FEATURES, parse_segments(doc, SCHEMA))
    by_segment = dict(members.group_by("segment").agg(pl.col("entity_id").sort()).rows())
    assert by_segment == {"old": ["e1", "e2", "e4"], "not_ten": ["e2", "e4"],
                          "not_listed": ["e1", "e4"]}


@pytest.mark.parametrize(
    ("segment", "message"),
    [
        ({"all": [{"field": "ltv", "op": ">", "value": 1}]}, r"'vip', all\[0\]: unknown field"),
        ({"all": [{"field": "order_count", "op": "~", "value": 1}]}, r"all\[0\]: unknown op"),
        ({"any": [{"field": "order_count", "op": ">", "value": "many"}]},
         r"any\[0\]: 'order_count' is numeric"),
        ({"all": [{"field": "rfm_segment", "op": "in", "value": "champion"}]},
         "needs a non-empty list"),
        ({"all": [{"field": "recency_days", "op": "is_null", "value": 1}]}, "takes no value"),
        ({"all": [{"field": "order_count"}]}, "needs 'field' and 'op'"),
        ({"description": "empty"}, "needs at least one rule"),
        ({"all": [], "where": 1}, "unknown keys"),
    ],
)
def test_invalid_rules_name_the_segment_and_rule(segment, message):
    with pytest.raises(SegmentDefinitionError, match=message) as error:
        parse_segments({"segments": {"vip": segment}}, SCHEMA)
    assert "vip" in str(error.value)


def test_file_level_errors(tmp_path):
    with pytest.raises(SegmentDefinitionError, match="top-level 'segments'"):
        parse_segments({"segment": {}}, SCHEMA)
    with pytest.raises(SegmentDefinitionError, match="lower snake case"):
        parse_segments({"segments": {"High Value": {"all": []}}}, SCHEMA)
    bad = tmp_path / "bad.yaml"
    bad.write_text("segments: [unclosed")
    with pytest.raises(SegmentDefinitionError, match="not valid YAML"):
        load_segments(bad, SCHEMA)


def test_date_rules_accept_iso_dates_and_name_bad_ones():
    features = FEATURES.with_columns(
        last_order_date=pl.Series([None, None, None, None], dtype=pl.Date)
        .fill_null(pl.date(2026, 1, 1)))
    schema = dict(features.schema)
    doc = {"segments": {"recent": {"all": [
        {"field": "last_order_date", "op": ">=", "value": "2025-12-31"}]}}}
    assert assign_segments(features, parse_segments(doc, schema)).height == 4
    doc["segments"]["recent"]["all"][0]["value"] = "last week"
    with pytest.raises(SegmentDefinitionError, match=r"'recent', all\[0\]: .* is a date"):
        parse_segments(doc, schema)


def test_behavioural_segments_need_profiling_and_topics_respect_opt_outs():
    segments = parse_segments({"segments": {
        "big": {"all": [{"field": "lifetime_value", "op": ">=", "value": 500}],
                "topic": "offers"},
        "clean": {"all": [{"field": "suppressed", "op": "==", "value": False}]},
    }})
    features = FEATURES.with_columns(suppressed=pl.lit(False))
    members = assign_segments(
        features, segments, profiling_granted=pl.Series(["e1", "e4", "e3"]),
        topic_opt_outs=pl.DataFrame({"entity_id": ["e4", "e1"],
                                     "topic": ["offers", "newsletter"]}))
    by_segment = dict(members.group_by("segment").agg(pl.col("entity_id").sort()).rows())
    assert by_segment["big"] == ["e1"]  # e4 withdrew offers; e1's newsletter opt-out is moot
    assert by_segment["clean"] == ["e1", "e2", "e3", "e4"]  # ESP status is not profiling
    assert dict(assign_segments(features, segments, profiling_granted=pl.Series(
        [], dtype=pl.Utf8)).group_by("segment").len().rows()) == {"clean": 4}


def test_topic_must_be_a_name():
    with pytest.raises(SegmentDefinitionError, match="segment 'x': topic must be"):
        parse_segments({"segments": {"x": {"topic": "Big Offers", "all": [
            {"field": "order_count", "op": ">", "value": 0}]}}})
