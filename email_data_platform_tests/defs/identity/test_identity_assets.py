import dagster as dg
import polars as pl

from email_data_platform.cli import main
from email_data_platform.defs.identity import assets, checks, schedules
from email_data_platform.lib.identity.explain import explain_record
from email_data_platform.lib.warehouse import DuckDBWarehouse

IDENTITY_ASSETS = [assets.splink_model, assets.match_pairs, assets.entities,
                   assets.golden_profiles]
IDENTITY_CHECKS = [checks.every_clean_record_has_one_entity, checks.no_oversized_entities,
                   checks.quality_against_truth, checks.match_pairs_are_well_formed,
                   checks.one_golden_profile_per_entity]


def materialise(resources, run_config=None):
    result = dg.materialize([*IDENTITY_ASSETS, *IDENTITY_CHECKS], resources=resources,
                            run_config=run_config)
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert all(e.passed for e in evaluations.values()), evaluations
    return result, evaluations


def metadata(result, node: str) -> dict:
    [event] = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in event.metadata.items()}


def read(path, table) -> pl.DataFrame:
    warehouse = DuckDBWarehouse(path)
    try:
        return warehouse.read(table)
    finally:
        warehouse.close()


def replace_profiles(path, profiles: pl.DataFrame) -> None:
    warehouse = DuckDBWarehouse(path)
    warehouse.write("profiles.clean_profiles", profiles)
    warehouse.close()


def test_graph_resolves_entities_and_passes_every_check(identity_env):
    resources, path, profiles, _ = identity_env
    result, evaluations = materialise(resources)
    model = metadata(result, "identity__splink_model")
    assert model["retrained"] is True and model["dagster/row_count"] == 1
    entities = read(path, "identity.entities")
    assert entities.height == profiles.height
    assert metadata(result, "identity__entities")["dagster/row_count"] == profiles.height
    quality = {k: v.value for k, v in evaluations["quality_against_truth"].metadata.items()}
    assert quality["evaluated"] is True and quality["pairwise_f1"] >= 0.95
    golden = read(path, "identity.golden_profiles")
    assert golden.height == entities["entity_id"].n_unique()
    preview = metadata(result, "identity__golden_profiles")["preview"]
    assert "@" not in preview  # no raw emails in metadata


def test_rerun_with_shuffled_input_keeps_ids_and_reuses_the_model(identity_env):
    resources, path, profiles, _ = identity_env
    first, _ = materialise(resources)
    before = read(path, "identity.entities").select("record_id", "entity_id")
    replace_profiles(path, profiles.sample(fraction=1.0, shuffle=True, seed=99))
    second, _ = materialise(resources, {"ops": {"identity__match_pairs": {"config": {
        "mode": "full"}}}})
    after = read(path, "identity.entities").select("record_id", "entity_id")
    assert after.sort("record_id").equals(before.sort("record_id"))
    model = metadata(second, "identity__splink_model")
    assert model["retrained"] is False
    assert model["model_version"] == metadata(first, "identity__splink_model")["model_version"]
    assert metadata(second, "identity__entities")["records_changed_id"] == 0


def test_new_records_link_incrementally_to_existing_entities(identity_env):
    resources, path, profiles, truth = identity_env
    held_back = profiles.sort("record_id").tail(40)["record_id"]
    replace_profiles(path, profiles.filter(~pl.col("record_id").is_in(held_back.implode())))
    materialise(resources)
    before = read(path, "identity.entities")
    recorded = read(path, "identity.scoring_sql")  # by training, for incremental runs
    replace_profiles(path, profiles)
    result, evaluations = materialise(resources)
    pairs_meta = metadata(result, "identity__match_pairs")
    assert pairs_meta["mode"] == "incremental" and pairs_meta["delta_records"] == 40
    # The incremental run found the statements training recorded: nothing recorded again.
    assert recorded.height == 1 and read(path, "identity.scoring_sql").equals(recorded)
    after = read(path, "identity.entities")
    assert after.height == profiles.height
    # The incremental run adjusts the stored entity count rather than recounting.
    assert metadata(result, "identity__entities")["entities"] == after["entity_id"].n_unique()
    # Every record linked before keeps its id unless a newcomer merged two entities.
    kept = before.join(after, on="record_id").filter(
        pl.col("entity_id") == pl.col("entity_id_right"))
    assert kept.height >= before.height - 5
    quality = {k: v.value for k, v in evaluations["quality_against_truth"].metadata.items()}
    assert quality["cluster_f1"] >= 0.95
    # A full re-link finds the same entities, so every id survives it.
    materialise(resources, {"ops": {"identity__match_pairs": {"config": {"mode": "full"}}}})
    relinked = read(path, "identity.entities").select("record_id", "entity_id")
    assert relinked.sort("record_id").equals(after.select(relinked.columns).sort("record_id"))


def test_removed_records_leave_entities_and_their_count_exact(identity_env):
    resources, path, profiles, _ = identity_env
    materialise(resources)
    replace_profiles(path, profiles.sort("record_id").head(profiles.height - 30))
    result, _ = materialise(resources)
    after = read(path, "identity.entities")
    assert after.height == profiles.height - 30
    summary = metadata(result, "identity__entities")
    assert summary["mode"] == "incremental" and summary["records_removed"] == 30
    assert summary["entities"] == after["entity_id"].n_unique()


def test_explain_lists_the_pairs_and_comparison_weights_of_a_record(identity_env):
    resources, path, _, _ = identity_env
    materialise(resources)
    entities = read(path, "identity.entities")
    record_id = entities.filter(pl.col("entity_id").is_duplicated())["record_id"][0]
    warehouse = DuckDBWarehouse(path)
    try:
        explanation = explain_record(warehouse, record_id)
    finally:
        warehouse.close()
    assert set(explanation["comparison"]) == {"name", "email", "phone", "date_of_birth",
                                              "address"}
    linked = explanation.filter(pl.col("same_entity"))
    assert linked.height >= 5 and (linked["pair_match_probability"] >= 0.999).all()
    per_pair = linked.group_by("other_record_id").agg(
        pl.col("comparison_match_weight").sum(), pl.col("pair_match_weight").first())
    prior = per_pair["pair_match_weight"] - per_pair["comparison_match_weight"]
    assert prior.n_unique() == 1  # pair weight = prior + sum of comparison weights


def test_explain_command_says_a_record_alone_forms_its_own_entity(identity_env, capsys):
    resources, path, _, _ = identity_env
    materialise(resources)
    entities, pairs = read(path, "identity.entities"), read(path, "identity.match_pairs")
    paired = set(pairs["record_id_l"]) | set(pairs["record_id_r"])
    alone = entities.filter(~pl.col("entity_id").is_duplicated()
                            & ~pl.col("record_id").is_in(list(paired)))["record_id"]
    assert alone.len() > 0
    assert main(["identity", "explain", alone[0], "--warehouse", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{alone[0]}: no scored pairs; it forms an entity on its own\n")


def test_jobs_and_schedules_resolve_against_the_identity_assets(identity_env):
    resources, *_ = identity_env
    defs = dg.Definitions(
        assets=IDENTITY_ASSETS, asset_checks=IDENTITY_CHECKS, resources=resources,
        jobs=[schedules.identity_retrain_job, schedules.identity_full_relink_job],
        schedules=[schedules.identity_retrain_schedule, schedules.identity_full_relink_schedule],
    )
    downstream = {"identity__match_pairs", "identity__entities", "identity__golden_profiles",
                  # their checks run in the same job
                  "identity__match_pairs_match_pairs_are_well_formed",
                  "identity__entities_every_clean_record_has_one_entity",
                  "identity__entities_no_oversized_entities",
                  "identity__entities_quality_against_truth",
                  "identity__golden_profiles_one_golden_profile_per_entity"}
    expected = {  # schedule -> (cron, job, the assets the job materialises)
        "identity_retrain_weekly": ("0 3 * * 0", "identity_retrain_job",
                                    downstream | {"identity__splink_model"}),
        "identity_full_relink_weekly": ("0 3 * * 3", "identity_full_relink_job", downstream),
    }
    for name, (cron, job_name, nodes) in expected.items():
        schedule = defs.resolve_schedule_def(name)
        assert (schedule.cron_schedule, schedule.execution_timezone) == (cron, "UTC")
        assert schedule.job_name == job_name
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        job = defs.resolve_job_def(job_name)
        assert {n.name for n in job.nodes_in_topological_order} == nodes
    # The jobs' own config: the weekly retrain retrains although the model is fresh, and both
    # re-link in full although the daily default is incremental.
    materialise(resources)
    retrain = defs.resolve_job_def("identity_retrain_job").execute_in_process()
    relink = defs.resolve_job_def("identity_full_relink_job").execute_in_process()
    assert retrain.success and relink.success
    assert metadata(retrain, "identity__splink_model")["retrained"] is True
    assert metadata(retrain, "identity__match_pairs")["mode"] == "full"
    assert metadata(relink, "identity__match_pairs")["mode"] == "full"
