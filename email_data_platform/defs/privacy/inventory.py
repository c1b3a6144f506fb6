"""privacy/data_inventory: the record of processing, rebuilt from the definitions and the
warehouse after every run, and exported as CSV for data-mapping tools."""

import dagster as dg

from email_data_platform.defs.metadata import OWNERS, counts_by, table_metadata
from email_data_platform.defs.warehouse import ArtifactsResource, WarehouseResource
from email_data_platform.lib.privacy.inventory import (
    INVENTORY_TABLE,
    AssetEntry,
    build_inventory,
    mistagged,
    warehouse_columns,
)

DATA_INVENTORY = dg.AssetKey(["privacy", "data_inventory"])


@dg.asset(
    key=DATA_INVENTORY,
    group_name="privacy",
    deps=[dg.AssetKey(["privacy", "audit_log"])],
    owners=OWNERS,
    kinds={"duckdb", "polars", "csv"},
    tags={"stage": "privacy", "pii": "false"},
)
def data_inventory(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   artifacts: ArtifactsResource) -> dg.MaterializeResult:
    """The record of processing an auditor asks for: every table the platform keeps, which of
    its columns hold personal data, why it is kept (purpose), on which legal basis, for how
    long, who owns it and which tables it is built from. Also written as CSV
    (`<home>/privacy/data_inventory.csv`) for data-mapping tools.
    """
    # the job's asset graph holds every asset of the code location (the repository is not
    # set when a job runs in process, as `edp run` runs it)
    graph = context.job_def.asset_layer.asset_graph
    assets = [AssetEntry(
        table=".".join(key.path), pii_tag=graph.get(key).tags.get("pii") == "true",
        upstream=tuple(sorted(".".join(p.path) for p in graph.get(key).parent_keys)),
        owners=tuple(graph.get(key).owners), description=graph.get(key).description or "",
    ) for key in graph.get_all_asset_keys() if len(key.path) == 2]
    wh = warehouse.get()
    inventory = build_inventory(assets, warehouse_columns(wh))
    wh.write(INVENTORY_TABLE, inventory)
    csv_path = artifacts.path("privacy", "data_inventory.csv")
    inventory.write_csv(csv_path)
    wrong = mistagged(inventory)
    if wrong.height:
        context.log.error("tables tagged pii=false hold personal columns: %s",
                          ", ".join(wrong["table"]))
    return dg.MaterializeResult(metadata=table_metadata(
        inventory, counts_by(inventory, "pii_tag"), csv=dg.MetadataValue.path(str(csv_path)),
        tables_with_personal_columns=int((inventory["personal_columns"] != "").sum()),
        mistagged_tables=", ".join(wrong["table"]) or "none"))


@dg.asset_check(asset=DATA_INVENTORY, blocking=False,
                description="No table tagged pii=false holds a personal-data column (email, "
                "phone, name, address, raw record): the tags the UI shows can be trusted.")
def pii_tags_match_columns(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    wrong = mistagged(warehouse.get().read(INVENTORY_TABLE))
    return dg.AssetCheckResult(passed=wrong.height == 0, metadata={
        "mistagged_tables": ", ".join(wrong["table"]) or "none",
        "columns": "; ".join(f"{t}: {c}" for t, c in wrong.select("table", "personal_columns")
                             .iter_rows()) or "none"})
