"""Training adapts to the identifiers the data holds (names, birth dates, addresses only)."""

import json

import polars as pl
import pytest

from email_data_platform.lib.identity.adapt import config_for_model, plan_training
from email_data_platform.lib.identity.blocking_budget import fit_rules_to_budget
from email_data_platform.lib.identity.clustering import cluster_records
from email_data_platform.lib.identity.evaluation import evaluate
from email_data_platform.lib.identity.linking import count_comparisons, score_all_pairs
from email_data_platform.lib.identity.matching import prepare_matching_frame
from email_data_platform.lib.identity.settings import IdentityConfig
from email_data_platform.lib.identity.training import train_model


def _without(profiles: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return profiles.with_columns([pl.lit(None, pl.Utf8).alias(c) for c in columns])


@pytest.fixture(scope="module")
def names_only(population):
    """An older CRM's export: names, dates of birth and addresses, no email and no phone."""
    profiles, truth = population
    return _without(profiles, "email", "email_key", "phone"), truth


def test_full_data_keeps_the_email_then_phone_recipe(population):
    frame, _ = prepare_matching_frame(population[0])
    plan = plan_training(frame, IdentityConfig())
    assert plan.em_blocks == (("email_key",), ("phone", "first_name_canonical"))
    assert plan.comparisons == ("name", "email", "phone", "date_of_birth", "address")
    assert plan.blocking_rules == IdentityConfig().blocking_rules
    assert plan.not_estimated == ()


def test_names_dob_address_only_crm_trains_and_says_what_it_used(names_only):
    profiles, _ = names_only
    model = train_model(profiles)
    comparisons = [c["output_column_name"] for c in model.settings["comparisons"]]
    assert comparisons == ["name", "date_of_birth", "address"]
    meta = model.metadata
    assert meta["comparisons_used"] == "name, date_of_birth, address"
    assert meta["em_blocks"] == "date_of_birth, first_name_canonical+last_name"
    assert "email_key" not in meta["deterministic_rules"]
    rules = [r["name"] for r in json.loads(meta["blocking_rules_effective"])]
    assert "email" not in rules and "phone" not in rules and "last_name_dob" in rules
    assert json.loads(meta["columns_filled"])["email_key"] == 0.0


def test_names_dob_address_only_crm_resolves(names_only):
    profiles, truth = names_only
    model = train_model(profiles)
    config = config_for_model(IdentityConfig(), model.metadata)
    frame, _ = prepare_matching_frame(profiles)
    pairs = score_all_pairs(frame, model.settings, config)
    clusters = cluster_records(frame["record_id"], pairs, config.match_threshold)
    metrics = evaluate(clusters.rename({"cluster_id": "entity_id"}), truth)
    # At the default 0.9995 no pair linked (recall 0): the weak-identifier threshold applies.
    assert config.match_threshold == IdentityConfig().weak_identifier_match_threshold
    assert metrics["pairwise_precision"] >= 0.98, metrics
    assert metrics["pairwise_recall"] >= 0.95, metrics


def test_data_with_no_identifiers_fails_with_the_fill_shares():
    profiles = pl.DataFrame({"record_id": ["a:1", "a:2"], "first_name": ["Ann", "Bo"]})
    frame = profiles.with_columns(
        [pl.lit(None, pl.Utf8).alias(c) for c in ("first_name_canonical", "last_name",
                                                   "email_key", "email_user", "phone",
                                                   "date_of_birth", "postal_code", "city")])
    with pytest.raises(ValueError, match="too few identifiers.*email_key"):
        plan_training(frame, IdentityConfig())


def test_a_rule_over_its_budget_is_tightened_and_the_model_says_so(population):
    frame, _ = prepare_matching_frame(population[0])
    defaults = IdentityConfig().blocking_rules
    unchanged, none = fit_rules_to_budget(frame, defaults, 1.0, set(frame.columns))
    assert unchanged == defaults and none == {}
    # Everyone named Robert, born on one day: first name + birth date pairs everyone.
    crowded = frame.with_columns(pl.lit("Robert").alias("first_name_canonical"),
                                 pl.lit("1980-01-01").alias("date_of_birth"))
    rules, changes = fit_rules_to_budget(crowded, defaults, 1.0, set(crowded.columns))
    names = [r.name for r in rules]
    assert "first_name_dob" not in names and names[:2] == ["email", "phone"]
    tightened = next(r for r in rules if r.name.startswith("first_name_dob+"))
    before, after = count_comparisons(crowded, (defaults[3], tightened))["comparisons"]
    assert after < before // 10
    assert tightened.name in changes and "over the budget" in changes[tightened.name]
    plan = plan_training(crowded, IdentityConfig())
    assert tightened.name in plan.metadata()["blocking_rules_tightened"]
