import polars as pl

from email_data_platform.lib.identity.clustering import (
    cluster_incrementally,
    cluster_records,
    connected_components,
)


def pairs(rows):
    return pl.DataFrame(rows, schema=["record_id_l", "record_id_r", "match_probability"],
                        orient="row")


def groups(frame: pl.DataFrame, key: str = "cluster_id") -> set[frozenset]:
    return {frozenset(g["record_id"]) for _, g in frame.group_by(key)}


def test_long_chains_collapse_into_one_component_named_after_the_smallest_node():
    nodes = pl.Series([f"n{i:03d}" for i in range(60)])
    chain = pl.DataFrame({"left": nodes[:-1][::-1], "right": nodes[1:][::-1]})
    result = connected_components(nodes, chain)
    assert result["component"].unique().to_list() == ["n000"]


def test_only_pairs_at_or_above_threshold_link_and_unpaired_records_stand_alone():
    scored = pairs([("a", "b", 0.9995), ("b", "c", 0.5), ("d", "e", 0.999)])
    result = cluster_records(pl.Series(["a", "b", "c", "d", "e", "f"]), scored, 0.999)
    assert groups(result) == {frozenset("ab"), frozenset("c"), frozenset("de"), frozenset("f")}
    assert dict(result.iter_rows())["b"] == "a"


def test_clusters_do_not_depend_on_pair_order_or_direction():
    scored = pairs([("a", "b", 1.0), ("c", "b", 1.0), ("e", "d", 1.0)])
    ids = pl.Series(["a", "b", "c", "d", "e"])
    forward = cluster_records(ids, scored, 0.99).sort("record_id")
    backward = cluster_records(ids.reverse(), scored.reverse(), 0.99).sort("record_id")
    assert forward.equals(backward)


def test_incremental_bridge_merges_two_entities_and_leaves_others_alone():
    previous = pl.DataFrame({
        "record_id": ["a", "b", "c", "x"],
        "entity_id": ["E1", "E1", "E2", "E3"],
    })
    # new record n links to b (entity E1) and c (entity E2); m links to nothing.
    new_pairs = pairs([("b", "n", 0.9999), ("c", "n", 0.9999), ("m", "x", 0.2)])
    touched = cluster_incrementally(previous, pl.Series(["n", "m"]), new_pairs, 0.999)
    assert groups(touched) == {frozenset("abcn"), frozenset("m")}


def test_a_changed_record_that_no_longer_links_leaves_its_entity():
    previous = pl.DataFrame({"record_id": ["a", "b"], "entity_id": ["E1", "E1"]})
    touched = cluster_incrementally(previous, pl.Series(["b"]), pairs([]).cast(
        {"record_id_l": pl.Utf8, "record_id_r": pl.Utf8, "match_probability": pl.Float64}), 0.9)
    assert groups(touched) == {frozenset("b")}
