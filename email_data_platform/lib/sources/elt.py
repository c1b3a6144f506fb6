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
from datetime import UTC, datetime, timedelta

import polars as pl

from email_data_platform.lib.connectors.checksum import record_checksum
from email_data_platform.lib.sources.landing import CursorStore, land, log_extraction, utc_now
from email_data_platform.lib.sources.pulls import LOG_SCHEMA, TABLE_SCHEMAS, Extraction, Window
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


# --- Extraction: an ELT table read into the raw tables, logged like an API pull ---------------

TOOLS = {"hubspot": ("api", "fivetran", "airbyte"), "salesforce": ("api", "fivetran")}
DEFAULT_SCHEMAS = {("fivetran", "hubspot"): "hubspot", ("fivetran", "salesforce"): "salesforce",
                   ("airbyte", "hubspot"): "airbyte_hubspot"}
# The object name the API pull logs (extraction log, reconciliation) for each raw table.
API_OBJECTS = {("hubspot", "contacts"): "contacts", ("hubspot", "orders"): "deals",
               ("salesforce", "contacts"): "contacts", ("salesforce", "orders"): "opportunities"}
RAW_TABLES = {"contacts": ("sources.crm_contacts", "record_id"),
              "orders": ("sources.crm_orders", "order_record_id")}
_DELETED_COLUMNS = ("_fivetran_deleted", "is_deleted", "archived")


class EltConfigurationError(ValueError):
    """A source was configured with an unknown tool, or its ELT table is not in the warehouse."""


def elt_table(vendor: str, tool: str, obj: str, schema: str | None = None) -> EltTable | None:
    """The ELT table `tool` lands for `vendor`'s `obj` (None for `api`); unknown tools raise."""
    if tool not in TOOLS.get(vendor, ()):
        raise EltConfigurationError(
            f"the {vendor} source must be one of {', '.join(TOOLS.get(vendor, ()))}, "
            f"not {tool!r}")
    if tool == "api":
        return None
    schema = schema or DEFAULT_SCHEMAS[(tool, vendor)]
    return fivetran(vendor, obj, schema) if tool == "fivetran" else airbyte(obj, schema)


def cursor_key(table: EltTable) -> tuple[str, str]:
    """Where the sync-time cursor is kept in `sources.cursors`: apart from the API pull's
    modification-time cursor, so switching between the API and a tool never mixes the two."""
    return f"{table.tool}:{table.vendor}", f"{table.table}"


def _columns(wh, table: EltTable) -> list[str]:
    try:
        return wh.query(f"select * from {table.table} limit 0").columns
    except Exception as error:  # noqa: BLE001 - re-raised with what to configure
        raise EltConfigurationError(
            f"{table.tool} {table.vendor} {table.object}: table {table.table} cannot be read "
            f"from the warehouse ({type(error).__name__}); check the schema configured for "
            f"{table.tool} ({table.table.split('.')[0]!r})") from error


def source_total(wh, table: EltTable) -> int:
    """Live (not deleted) records the tool holds: what the API's total would report."""
    flags = [f"coalesce(cast({c} as boolean), false)" for c in _DELETED_COLUMNS
             if c in _columns(wh, table)]
    where = f" where not ({' or '.join(flags)})" if flags else ""
    return int(wh.query(f"select count(*) as n from {table.table}{where}")["n"][0])


def _deal_contacts(wh, table: EltTable) -> dict[str, str] | None:
    """Fivetran HubSpot deals' contacts from `deal_contact` next to `deal` (None otherwise)."""
    if not (table.tool == "fivetran" and table.vendor == "hubspot" and table.object == "orders"):
        return None
    links = EltTable(table.tool, table.vendor, table.object,
                     f"{table.table.split('.')[0]}.deal_contact", table.synced_column)
    _columns(wh, links)
    return fivetran_deal_contacts(wh.query(f"select deal_id, contact_id from {links.table}"))


def _modified_ms(stamp: str | None) -> int | None:
    """A raw `updated_at` (HubSpot ISO, Salesforce `...+0000`) -> epoch ms."""
    if not stamp:
        return None
    text = stamp.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and ":" not in text[-5:]:
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _safe_cursor(rows: pl.DataFrame, column: str, next_sync) -> datetime | None:
    """The newest sync time all of whose rows are landed: rows come oldest first, so every
    row synced before the next batch's first sync time is in this batch or an earlier one."""
    synced = rows[column]
    if next_sync is not None:
        synced = synced.filter(synced < next_sync)
    return synced.max()


def extract_elt(wh, table: EltTable, run_id: str, window: Window | None = None,
                chunk_size: int = 20_000, overlap_s: int = 0) -> Extraction:
    """Read an ELT table into `sources.crm_contacts` / `sources.crm_orders`, as an API pull.

    - full (no cursor yet) and incremental: rows synced after the cursor (the tool's sync
      time) minus `overlap_s`, landed oldest first in batches; the cursor follows each landed
      batch. The overlap re-reads rows a sync still in flight committed late with an earlier
      sync time (Airbyte stamps extraction time); re-read rows collapse on their key.
    - window (a backfill of daily partitions): rows whose modification time falls in the
      window, read from the rows synced since the window started; the cursor is left alone.
    The extraction log row and the table figures are the API pull's (source `hubspot` or
    `salesforce`, object `contacts`/`deals`/`opportunities`), so reconciliation is unchanged.
    """
    raw_table, key = RAW_TABLES[table.object]
    cursors, (cursor_source, cursor_object) = CursorStore(wh), cursor_key(table)
    stored = cursors.get(cursor_source, cursor_object)
    run = Extraction(table.vendor, API_OBJECTS[(table.vendor, table.object)], raw_table, run_id,
                     cursor_before=stored)
    run.source_total = source_total(wh, table)
    before = datetime.fromisoformat(stored) if stored else None
    if window is not None:
        run.mode = "window"
        since = datetime.fromtimestamp(window.start_ms / 1000, UTC).replace(tzinfo=None)
        rows = read_since(wh, table, since)
    else:
        run.mode = "full" if stored is None else "incremental"
        since = before - timedelta(seconds=overlap_s) if before is not None else None
        rows = read_since(wh, table, since)
    links = _deal_contacts(wh, table)
    committed = before
    for start in range(0, rows.height, chunk_size):
        chunk = rows.slice(start, chunk_size)
        frame = to_raw(table, chunk, run_id, utc_now(), links)
        if window is not None:
            stamps = [_modified_ms(s) for s in frame["updated_at"].to_list()]
            keep = [s is not None and window.start_ms <= s < window.end_ms for s in stamps]
            frame = frame.filter(pl.Series(keep, dtype=pl.Boolean))
        run.rows_fetched += frame.height
        run.rows_landed += land(wh, raw_table, frame, key, "updated_at")
        if window is None:
            following = rows.slice(start + chunk_size, 1)
            newest = _safe_cursor(chunk, table.synced_column,
                                  following[table.synced_column][0] if following.height else None)
            if newest is not None and (committed is None or newest > committed):
                committed = newest
                cursors.set(cursor_source, cursor_object, committed.isoformat(), run_id)
    run.cursor_after = committed.isoformat() if committed is not None else None
    if window is not None:
        run.cursor_after = run.cursor_before
    _finish(wh, run, table.vendor)
    return run


def _finish(wh, run: Extraction, vendor: str) -> None:
    """As the API pull's `finish`, minus HTTP and quarantine (the tool validated its rows):
    an empty table for downstream, the landed table's figures, one extraction log row."""
    if not wh.exists(run.table):
        wh.write(run.table, pl.DataFrame(schema=TABLE_SCHEMAS[run.table]()))
    active = wh.query(f"select object_id, updated_at from {run.table} "
                      f"where source = '{vendor}' and not archived")
    run.table_rows = wh.row_count(run.table)
    run.table_active_rows = active.height
    run.table_checksum = record_checksum(active["object_id"], active["updated_at"])
    log_extraction(wh, pl.DataFrame([run.log_row()], schema=LOG_SCHEMA))
