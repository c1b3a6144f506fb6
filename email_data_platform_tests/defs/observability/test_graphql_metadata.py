"""What the UI shows, asked through Dagster's GraphQL API against the real code location:
table schemas and column lineage at definition time, code references, owners, kinds, tags,
checks (issue 11: lineage for audits)."""

from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

import email_data_platform.definitions as definitions_module

QUERY = """
query {
  assetNodes {
    assetKey { path }
    groupName
    kinds
    owners { ... on TeamAssetOwner { team } }
    tags { key value }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
    metadataEntries {
      label
      ... on TableSchemaMetadataEntry { schema { columns { name type } } }
      ... on TableColumnLineageMetadataEntry {
        lineage { columnName columnDeps { assetKey { path } columnName } }
      }
      ... on CodeReferencesMetadataEntry {
        codeReferences { ... on LocalFileCodeReference { filePath lineNumber } }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def nodes():
    with dg.instance_for_test() as instance, define_out_of_process_context(
        definitions_module.__file__, "defs", instance
    ) as context:
        result = execute_dagster_graphql(context, QUERY)
    assert not result.errors, result.errors
    return {"/".join(node["assetKey"]["path"]): node for node in result.data["assetNodes"]}


def entry(node, label):
    return next((e for e in node["metadataEntries"] if e["label"] == label), None)


def lineage(node) -> dict[str, set[str]]:
    return {column["columnName"]: {"/".join(d["assetKey"]["path"]) + "." + d["columnName"]
                                   for d in column["columnDeps"]}
            for column in entry(node, "dagster/column_lineage")["lineage"]}


@pytest.mark.slow
def test_every_asset_has_owners_kinds_stage_tags_and_a_code_reference(nodes):
    assert len(nodes) >= 20
    for name, node in nodes.items():
        assert node["owners"] == [{"team": "data-platform"}], name
        assert node["kinds"], name
        assert {"key": "stage", "value": name.split("/")[0]} in node["tags"], name
        (reference,) = entry(node, "dagster/code_references")["codeReferences"][:1]
        assert Path(reference["filePath"]).name.endswith(".py") and reference["lineNumber"]


@pytest.mark.slow
def test_table_schemas_are_known_before_any_run(nodes):
    for name in ["profiles/clean_profiles", "audiences/customer_features", "audiences/segments",
                 "privacy/consent_ledger", "audiences/marketable_audience",
                 "activation/esp_payload"]:
        columns = {c["name"] for c in entry(nodes[name], "dagster/column_schema")["schema"][
            "columns"]}
        assert columns, name
    features = entry(nodes["audiences/customer_features"], "dagster/column_schema")
    assert {"entity_id", "lifetime_value", "rfm_segment"} <= {
        c["name"] for c in features["schema"]["columns"]}


@pytest.mark.slow
def test_column_lineage_leads_from_payload_back_to_clean_profiles(nodes):
    golden = lineage(nodes["identity/golden_profiles"])
    assert "profiles/clean_profiles.email" in golden["email"]
    assert "profiles/clean_profiles.record_id" in golden["email_source"]
    assert "profiles/clean_orders.amount" in lineage(nodes["audiences/customer_features"])[
        "lifetime_value"]
    assert "audiences/customer_features.lifetime_value" in lineage(nodes["audiences/segments"])[
        "segment"]
    assert "audiences/segments.segment" in lineage(nodes["activation/esp_payload"])["tags"]


@pytest.mark.slow
def test_checks_show_on_their_assets_with_blocking_flags(nodes):
    checks = {c["name"]: c["blocking"] for c in
              nodes["sources/crm_contacts"]["assetChecksOrError"]["checks"]}
    assert checks["crm_contacts_no_anomaly"] is True
    assert checks["crm_contacts_looks_healthy"] is False
