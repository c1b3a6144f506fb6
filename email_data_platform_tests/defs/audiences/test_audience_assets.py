import dagster as dg
import polars as pl
import pytest

from email_data_platform.defs.audiences import assets, checks, consented, consented_checks
from email_data_platform.defs.privacy import assets as privacy_assets
from email_data_platform.defs.warehouse import WarehouseResource
from email_data_platform.lib.privacy.audit import read_audit_log, verify_chain
from email_data_platform.lib.warehouse import DuckDBWarehouse
from email_data_platform_tests.defs.privacy.upstream import (
    ANALYTICS_CONSENTED,
    AS_OF,
    MARKETABLE,
    seed_upstream,
)

AUDIENCE_ASSETS = [
    privacy_assets.consent_events, privacy_assets.consent_ledger, assets.customer_features,
    consented.marketable_audience,
    assets.segments, consented_checks.marketable_audience_has_consent,
    consented_checks.marketable_audience_matches_schema, checks.customer_features_matches_schema,
    checks.segments_matches_schema,
]
RUN_CONFIG = {"ops": {"audiences__customer_features": {"config": {"as_of": AS_OF}}}}


@pytest.fixture
def warehouse_path(tmp_path):
    path = str(tmp_path / "wh.duckdb")
    wh = DuckDBWarehouse(path)
    seed_upstream(wh)
    wh.close()
    return path


def materialise(path, selection=AUDIENCE_ASSETS, run_config=RUN_CONFIG, **kwargs):
    return dg.materialize(selection, resources={"warehouse": WarehouseResource(path=path)},
                          run_config=run_config, **kwargs)


def test_audience_is_consented_unsuppressed_and_valid(warehouse_path):
    result = materialise(warehouse_path)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 4 and all(e.passed for e in evaluations)
    wh = DuckDBWarehouse(warehouse_path)
    audience = wh.read("audiences.marketable_audience")
    assert audience["entity_id"].to_list() == MARKETABLE
    assert {"entity_id", "email", "first_name", "last_name"} <= set(audience.columns)
    features = wh.read("audiences.customer_features")
    assert features.filter(pl.col("suppressed"))["entity_id"].to_list() == ["e2"]
    meta = result.asset_materializations_for_node("audiences__marketable_audience")[0].metadata
    # e2 unsubscribed at the ESP (a withdrawal), e3 has no event, e4 withdrew
    assert meta["no_email_marketing_consent"].value == 3
    assert meta["no_address_with_its_own_grant"].value == 1  # e5: no valid address
    assert meta["suppressed_at_esp"].value == 1
    assert "@" not in str(meta["preview"].value)


def test_segments_follow_the_yaml_rules(warehouse_path):
    assert materialise(warehouse_path).success
    memberships = DuckDBWarehouse(warehouse_path).read("audiences.segments")
    by_segment = dict(memberships.group_by("segment").agg(pl.col("entity_id").sort()).rows())
    assert by_segment["high_value"] == ["e1"]
    assert by_segment["lapsed"] == ["e6"]
    assert by_segment["engaged_prospects"] == ["e7"]


def test_invalid_segments_file_fails_with_the_segment_and_rule_named(warehouse_path, tmp_path):
    bad = tmp_path / "segments.yaml"
    bad.write_text("segments:\n  vip:\n    all:\n      - {field: ltv, op: '>', value: 1}\n")
    assert materialise(warehouse_path).success
    with pytest.raises(dg.Failure, match=r"segment 'vip', all\[0\]: unknown field 'ltv'"):
        materialise(warehouse_path, [assets.segments], run_config={
            "ops": {"audiences__segments": {"config": {"segments_path": str(bad)}}}})


def test_consent_check_blocks_an_audience_row_without_a_grant(warehouse_path):
    assert materialise(warehouse_path).success
    wh = DuckDBWarehouse(warehouse_path)
    wh.execute("update privacy.consent_ledger set status = 'withdrawn' where entity_id = 'e6'")
    wh.close()
    result = dg.materialize(
        AUDIENCE_ASSETS, resources={"warehouse": WarehouseResource(path=warehouse_path)},
        selection=dg.AssetSelection.checks(consented_checks.marketable_audience_has_consent),
        raise_on_error=False,
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed is False and evaluation.metadata["rows_without_consent"].value == 1


def test_every_action_is_audited_in_an_intact_chain(warehouse_path):
    assert materialise(warehouse_path).success
    log = read_audit_log(DuckDBWarehouse(warehouse_path))
    assert sorted(log["action"].to_list()) == [
        "audience built", "audit chain started", "consent events recorded",
        "consent ledger built", "segments built"]
    assert verify_chain(log) is None
    assert "@" not in "".join(log["details"].to_list())


def test_analytics_view_is_pseudonymised_and_consent_filtered(warehouse_path, tmp_path):
    from email_data_platform.defs.privacy.resources import PseudonymisationResource
    from email_data_platform.lib.privacy.pseudonyms import rotate_local_keyring

    keyfile = tmp_path / "keys.json"
    resources = {"warehouse": WarehouseResource(path=warehouse_path),
                 "pseudonymisation": PseudonymisationResource(local_keyfile=str(keyfile))}
    selection = [*AUDIENCE_ASSETS, consented.analytics_features,
                 consented_checks.analytics_features_pseudonymised]
    result = dg.materialize(selection, resources=resources, run_config=RUN_CONFIG)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    view = DuckDBWarehouse(warehouse_path).read("audiences.analytics_features")
    assert view.height == len(ANALYTICS_CONSENTED)
    assert not {"entity_id", "email", "last_order_date"} & set(view.columns)
    assert view["person_pseudonym"].str.starts_with("k1:").all()
    ring = resources["pseudonymisation"].keyring()  # keyed HMACs of the people's address keys
    assert sorted(view["person_pseudonym"]) == sorted(
        ring.pseudonym(e) for e in ("ann@example.com", "gus@example.com"))
    first = set(view["person_pseudonym"])

    rotate_local_keyring(keyfile)  # a new key: re-deriving the view changes every pseudonym
    assert dg.materialize(selection, resources=resources, run_config=RUN_CONFIG).success
    rotated = DuckDBWarehouse(warehouse_path).read("audiences.analytics_features")
    assert rotated["pseudonym_key_id"].unique().to_list() == ["k2"]
    assert first.isdisjoint(rotated["person_pseudonym"])


def test_segment_membership_keeps_when_people_entered_and_left(warehouse_path):
    history_assets = [*AUDIENCE_ASSETS, assets.segment_membership,
                      checks.segment_membership_consistent]
    assert materialise(warehouse_path, history_assets).success
    wh = DuckDBWarehouse(warehouse_path)
    wh.execute("delete from profiles.clean_orders where contact_record_id = 'h:1'")  # Ann: 200
    wh.close()
    result = materialise(warehouse_path, history_assets)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    history = DuckDBWarehouse(warehouse_path).read("audiences.segment_membership")
    ann = history.filter((pl.col("entity_id") == "e1") & (pl.col("segment") == "high_value"))
    assert ann.height == 1 and ann["left_at"].item() is not None
    meta = result.asset_materializations_for_node("audiences__segment_membership")[0].metadata
    assert meta["left_this_run"].value >= 1


def test_segments_file_is_checked_when_the_code_location_loads(tmp_path):
    from email_data_platform.lib.audiences.stage import declared_segment_names

    bad = tmp_path / "segments.yaml"
    bad.write_text("segments:\n  vip:\n    all:\n      - {field: ltv, op: '>', value: 1}\n")
    assert "high_value" in assets.DECLARED_SEGMENTS
    with pytest.raises(ValueError, match=r"segment 'vip', all\[0\]: unknown field 'ltv'"):
        declared_segment_names(bad)
