"""Sources an ELT tool already lands in the warehouse: Fivetran's and Airbyte's documented
schemas mapped to the same raw tables the API pulls write (`sources.crm_contacts`,
`sources.crm_orders`).

Each row is rebuilt as the record the vendor's API would have returned and handed to the same
builders as the pulls (records.py), so both paths yield identical rows. The cursor of an ELT
table is the tool's sync time (`_fivetran_synced`, `_airbyte_extracted_at`): a read takes rows
synced after the stored cursor, and the cursor advances to the newest sync time read.

- Fivetran HubSpot `hubspot.contact` / `hubspot.deal` (+ `hubspot.deal_contact`): `id`,
  `property_<name>` columns, `is_deleted` / `_fivetran_deleted`.
- Fivetran Salesforce `salesforce.contact` / `salesforce.opportunity`: field names in snake
  case (`first_name`, `mailing_postal_code`, `system_modstamp`, `is_deleted`).
- Airbyte HubSpot `contacts` / `deals` streams: `id`, `properties_<name>` columns, `archived`,
  deals' associated `contacts` (a list of ids).
"""

import re
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from email_data_platform.lib.sources.records import (
    CONTACT_COLUMNS,
    ORDER_COLUMNS,
    SALESFORCE_CONTACT,
    SALESFORCE_ORDER,
    contacts_frame,
    orders_frame,
    salesforce_contacts_frame,
    salesforce_orders_frame,
)


@dataclass(frozen=True)
class EltTable:
    """One ELT-landed table: where it lives, which tool and object, its sync-time column."""

    tool: str  # fivetran | airbyte
    vendor: str  # hubspot | salesforce
    object: str  # contacts | orders
    table: str  # schema.table in the warehouse
    synced_column: str


def fivetran(vendor: str, obj: str, schema: str | None = None) -> EltTable:
    names = {("hubspot", "contacts"): "contact", ("hubspot", "orders"): "deal",
             ("salesforce", "contacts"): "contact", ("salesforce", "orders"): "opportunity"}
    return EltTable("fivetran", vendor, obj, f"{schema or vendor}.{names[(vendor, obj)]}",
                    "_fivetran_synced")


def airbyte(obj: str, schema: str = "airbyte_hubspot") -> EltTable:
    stream = {"contacts": "contacts", "orders": "deals"}[obj]
    return EltTable("airbyte", "hubspot", obj, f"{schema}.{stream}", "_airbyte_extracted_at")


def _snake(name: str) -> str:
    """Salesforce API name -> Fivetran column (`MailingPostalCode` -> `mailing_postal_code`)."""
    return "_".join(re.sub(r"(?<!^)(?=[A-Z])", "_", part).lower() for part in name.split("."))


def _deleted(row: dict) -> bool:
    return bool(row.get("_fivetran_deleted") or row.get("is_deleted") or row.get("archived"))


def _hubspot_records(rows: list[dict], prefix: str, properties: list[str]) -> list[dict]:
    return [{"id": str(row["id"]), "archived": _deleted(row),
             "properties": {p: _text(row.get(f"{prefix}{p}")) for p in properties}}
            for row in rows]


def _text(value) -> str | None:
    """As the vendor's API renders it: ISO times, "true"/"false" for the booleans ELT tools type
    (hs_email_optout, HasOptedOutOfEmail)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def _salesforce_records(rows: list[dict], fields: list[str]) -> list[dict]:
    records = []
    for row in rows:
        record = {"Id": row["id"], "IsDeleted": _deleted(row)}
        for field in fields:
            value = _text(row.get(_snake(field)))
            if "." in field:  # a parent's field (`Account.Name` <- `account_name`: Fivetran
                # lands only `account_id`, so a view joining `salesforce.account` provides it)
                parent, child = field.split(".")
                record.setdefault(parent, {})[child] = value
            else:
                record[field] = value
        records.append(record)
    return records


def to_raw(table: EltTable, rows: pl.DataFrame, run_id: str, extracted_at: datetime,
           deal_contacts: dict[str, str] | None = None) -> pl.DataFrame:
    """ELT rows -> `sources.crm_contacts` or `sources.crm_orders` rows, as the API pull builds."""
    dicts = rows.to_dicts()
    if table.vendor == "salesforce":
        if table.object == "contacts":
            records = _salesforce_records(dicts, list(SALESFORCE_CONTACT.values()))
            return salesforce_contacts_frame(records, run_id, extracted_at)
        fields = [*SALESFORCE_ORDER.values(), "ContactId"]
        return salesforce_orders_frame(_salesforce_records(dicts, fields), run_id, extracted_at)
    prefix = "property_" if table.tool == "fivetran" else "properties_"
    if table.object == "contacts":
        records = _hubspot_records(dicts, prefix, list(CONTACT_COLUMNS.values()))
        return contacts_frame(records, run_id, extracted_at)
    records = _hubspot_records(dicts, prefix, list(ORDER_COLUMNS.values()))
    contact_ids = deal_contacts if deal_contacts is not None else _airbyte_deal_contacts(dicts)
    return orders_frame(records, contact_ids, run_id, extracted_at)


def _airbyte_deal_contacts(rows: list[dict]) -> dict[str, str]:
    """Airbyte's deals carry their associated contact ids in `contacts`; the first one wins."""
    return {str(row["id"]): str(row["contacts"][0]) for row in rows if row.get("contacts")}


def fivetran_deal_contacts(deal_contact: pl.DataFrame) -> dict[str, str]:
    """Fivetran's `hubspot.deal_contact` (deal_id, contact_id): the first contact per deal."""
    first = deal_contact.sort("deal_id", "contact_id").unique("deal_id", keep="first")
    return {str(d): str(c) for d, c in first.select("deal_id", "contact_id").iter_rows()}


def read_since(warehouse, table: EltTable, cursor: datetime | None) -> pl.DataFrame:
    """The ELT table's rows synced after `cursor` (all of them without one), oldest first."""
    where = f" where {table.synced_column} > ?" if cursor is not None else ""
    return warehouse.query(f"select * from {table.table}{where} order by {table.synced_column}",
                           [cursor] if cursor is not None else None)


def next_cursor(rows: pl.DataFrame, table: EltTable, cursor: datetime | None) -> datetime | None:
    """The newest sync time read: the next read starts after it."""
    return rows[table.synced_column].max() if rows.height else cursor
