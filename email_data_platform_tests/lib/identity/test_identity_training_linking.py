import polars as pl
import pytest

from email_data_platform.lib.identity.clustering import cluster_records
from email_data_platform.lib.identity.evaluation import evaluate
from email_data_platform.lib.identity.linking import (
    ComparisonCapExceeded,
    count_comparisons,
    count_new_comparisons,
    score_all_pairs,
    score_new_pairs,
)
from email_data_platform.lib.identity.matching import prepare_matching_frame
from email_data_platform.lib.identity.settings import BlockingRule, IdentityConfig
from email_data_platform.lib.identity.training import fill_unobserved_u


def test_trained_model_has_a_version_m_and_u_and_charts(trained, tmp_path):
    comparisons = {c["output_column_name"]: c for c in trained.settings["comparisons"]}
    assert set(comparisons) == {"name", "email", "phone", "date_of_birth", "address"}
    exact_email = comparisons["email"]["comparison_levels"][1]
    assert exact_email["m_probability"] > 0.5 > exact_email["u_probability"]
    assert 0 < trained.settings["probability_two_random_records_match"] < 0.01
    path = trained.save(tmp_path)
    assert path.name == f"splink_model_{trained.model_version}.json"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".html") == [
        f"splink_model_{trained.model_version}_m_u_parameters.html",
        f"splink_model_{trained.model_version}_match_weights.html"]


def test_full_link_resolves_the_synthetic_population_accurately(population, trained):
    profiles, truth = population
    frame, _ = prepare_matching_frame(profiles)
    pairs = score_all_pairs(frame, trained.settings)
    assert (pairs["record_id_l"] < pairs["record_id_r"]).all()
    clusters = cluster_records(frame["record_id"], pairs, IdentityConfig().match_threshold)
    metrics = evaluate(clusters.rename({"cluster_id": "entity_id"}), truth)
    assert metrics["pairwise_f1"] >= 0.95, metrics
    assert metrics["cluster_f1"] >= 0.95, metrics


def test_household_members_are_not_merged(population, trained):
    profiles, truth = population
    frame, _ = prepare_matching_frame(profiles)
    pairs = score_all_pairs(frame, trained.settings)
    clusters = cluster_records(frame["record_id"], pairs, IdentityConfig().match_threshold)
    # Household members share a phone, surname and address, yet are different people.
    people = profiles.join(truth, on="record_id").select("record_id", "entity_id", "phone")
    household = (people.join(people, on="phone", suffix="_other")
                 .filter(pl.col("entity_id") < pl.col("entity_id_other")))
    assert household.select("entity_id", "entity_id_other").n_unique() >= 20  # enough to test
    cluster_of = dict(clusters.select("record_id", "cluster_id").iter_rows())
    merged = household.filter(pl.col("record_id").replace_strict(cluster_of)
                              == pl.col("record_id_other").replace_strict(cluster_of))
    assert merged.is_empty(), merged


def test_incremental_pairs_equal_the_full_pairs_that_involve_new_records(population, trained):
    profiles, _ = population
    frame, _ = prepare_matching_frame(profiles)
    full = score_all_pairs(frame, trained.settings)
    new_ids = frame["record_id"].sort().tail(60)
    is_new = pl.col("record_id").is_in(new_ids.implode())
    incremental = score_new_pairs(frame.filter(~is_new), frame.filter(is_new), trained.settings)
    expected = full.filter(pl.col("record_id_l").is_in(new_ids.implode())
                           | pl.col("record_id_r").is_in(new_ids.implode()))
    key = ["record_id_l", "record_id_r"]
    assert incremental.select(key).sort(key).equals(expected.select(key).sort(key))
    assert incremental.height > 0


def test_comparison_counts_and_the_cap_that_stops_a_blocking_explosion(population, trained):
    profiles, _ = population
    frame, _ = prepare_matching_frame(profiles)
    everyone_in_one_block = BlockingRule("country_like", ("first_name",))
    counts = count_comparisons(frame.with_columns(pl.lit("Same").alias("first_name")),
                               (everyone_in_one_block,))
    n = frame.height
    assert counts.row(0, named=True) == {"rule": "country_like", "comparisons": n * (n - 1) // 2,
                                         "largest_block": n}
    config = IdentityConfig(max_comparisons=100)
    with pytest.raises(ComparisonCapExceeded, match="above the cap of 100"):
        score_all_pairs(frame, trained.settings, config)


def test_swapped_names_rule_counts_pairs_across_fields():
    frame = pl.DataFrame({"first_name": ["Lee", "Ann", "Ann"], "last_name": ["Ann", "Lee", "Lee"]})
    counts = count_comparisons(frame, (BlockingRule("swapped", (), swapped=True),))
    assert counts["comparisons"].to_list() == [2]


def test_incremental_comparisons_count_only_pairs_involving_new_records():
    existing = pl.DataFrame({"record_id": ["e1", "e2", "e3"], "phone": ["+1", "+1", "+2"]})
    delta = pl.DataFrame({"record_id": ["n1", "n2"], "phone": ["+1", "+1"]})
    counts = count_new_comparisons(existing, delta, (BlockingRule("phone", ("phone",)),))
    # n1-n2, and each new record with e1 and e2; never e1-e2.
    assert counts["comparisons"].to_list() == [1 + 2 * 2]


def test_incremental_scoring_respects_the_comparison_cap(population, trained):
    profiles, _ = population
    frame, _ = prepare_matching_frame(profiles)
    with pytest.raises(ComparisonCapExceeded):
        score_new_pairs(frame.head(400), frame.tail(100), trained.settings,
                        IdentityConfig(max_comparisons=1))


def test_levels_never_seen_in_random_pairs_get_a_u_of_one_in_pairs_sampled(trained):
    for comparison in trained.settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if not level.get("is_null_level"):
                assert 0 < level["u_probability"] <= 1
    settings = {"comparisons": [{"comparison_levels": [
        {"is_null_level": True}, {"m_probability": 0.9}, {"u_probability": 0.5}]}]}
    filled = fill_unobserved_u(settings, 1e6)["comparisons"][0]["comparison_levels"]
    assert filled[1]["u_probability"] == 1e-6 and filled[2]["u_probability"] == 0.5
    assert "u_probability" not in filled[0]


def test_strangers_sharing_junk_identifiers_are_not_merged(population, trained):
    profiles, truth = population
    singles = truth.filter(pl.col("entity_id").is_unique())["record_id"].head(12)
    is_single = pl.col("record_id").is_in(singles.implode())
    polluted = profiles.with_columns(
        pl.when(is_single).then(pl.lit("info@acme-shop.com")).otherwise("email_key")
        .alias("email_key"),
        pl.when(is_single).then(pl.lit("+447777777777")).otherwise("phone").alias("phone"),
    )
    frame, junk = prepare_matching_frame(polluted)
    assert junk["email"] >= 12 and junk["phone"] >= 12
    pairs = score_all_pairs(frame, trained.settings)
    clusters = cluster_records(frame["record_id"], pairs, IdentityConfig().match_threshold)
    merged = clusters.filter(pl.col("record_id").is_in(singles.implode()))
    assert merged["cluster_id"].n_unique() == 12
