"""Vendor records -> the raw tables of docs/tables.md ("sources"), strings kept as received.

Each function takes the records a connector yielded plus lineage (run id, extraction time) and
returns a polars frame with the contract columns, built column-wise. Extra columns we add:
`archived` on orders, `email_opt_out` on contacts (HubSpot `hs_email_optout`, Salesforce
`HasOptedOutOfEmail`: "true" withdraws email marketing for the record), `event_source_id` on
ESP events, `recorded_at` on consent events.
"""

from collections.abc import Iterable
from datetime import datetime

import polars as pl

CONTACT_COLUMNS = {
    "first_name": "firstname", "last_name": "lastname", "email": "email", "phone": "phone",
    "date_of_birth": "date_of_birth", "city": "city", "postal_code": "zip", "country": "country",
    "company": "company", "created_at": "createdate", "updated_at": "lastmodifieddate",
    "email_opt_out": "hs_email_optout",  # "Unsubscribed from all email": a withdrawal
}
ORDER_COLUMNS = {
    "amount": "amount", "currency": "deal_currency_code", "order_date": "closedate",
    "status": "dealstage", "updated_at": "hs_lastmodifieddate",
}
CONSENT_FIELDS = ("event_id", "contact_id", "email", "purpose", "status", "channel",
                  "occurred_at", "policy_version", "recorded_at")
LINEAGE = {"extracted_at": pl.Datetime("us", "UTC"), "run_id": pl.Utf8}


def _lineage(frame: pl.DataFrame, run_id: str, extracted_at: datetime) -> pl.DataFrame:
    return frame.with_columns(pl.lit(extracted_at, LINEAGE["extracted_at"]).alias("extracted_at"),
                              pl.lit(run_id, pl.Utf8).alias("run_id"))


def contacts_schema() -> dict:
    return {"record_id": pl.Utf8, "source": pl.Utf8, "object_id": pl.Utf8,
            **dict.fromkeys(CONTACT_COLUMNS, pl.Utf8), "archived": pl.Boolean, **LINEAGE}


def contacts_frame(records: Iterable[dict], run_id: str, extracted_at: datetime,
                   source: str = "hubspot") -> pl.DataFrame:
    """HubSpot contact objects -> `sources.crm_contacts` rows."""
    rows = [{"object_id": r["id"], "archived": bool(r.get("archived")), **r["properties"]}
            for r in records]
    if not rows:
        return pl.DataFrame(schema=contacts_schema())
    return contacts_from_columns(pl.DataFrame(rows, infer_schema_length=None), run_id,
                                 extracted_at, source)


def contacts_from_columns(raw: pl.DataFrame, run_id: str, extracted_at: datetime,
                          source: str = "hubspot") -> pl.DataFrame:
    """A frame of contact properties (`object_id`, `archived`, HubSpot property names, e.g. a
    batch of an export) -> `sources.crm_contacts` rows."""
    frame = raw.select(
        pl.concat_str([pl.lit(f"{source}:"), pl.col("object_id")]).alias("record_id"),
        pl.lit(source).alias("source"),
        pl.col("object_id").cast(pl.Utf8),
        *[(pl.col(prop).cast(pl.Utf8) if prop in raw.columns else pl.lit(None, pl.Utf8))
          .alias(col) for col, prop in CONTACT_COLUMNS.items()],
        pl.col("archived").cast(pl.Boolean),
    )
    return _lineage(frame, run_id, extracted_at).select(list(contacts_schema()))


def orders_schema() -> dict:
    return {"order_record_id": pl.Utf8, "source": pl.Utf8, "object_id": pl.Utf8,
            "contact_record_id": pl.Utf8, **dict.fromkeys(ORDER_COLUMNS, pl.Utf8),
            "archived": pl.Boolean, **LINEAGE}


def orders_frame(deals: Iterable[dict], contact_ids: dict[str, str], run_id: str,
                 extracted_at: datetime, source: str = "hubspot") -> pl.DataFrame:
    """HubSpot deals (+ their associated contact ids) -> `sources.crm_orders` rows."""
    rows = [{"object_id": d["id"], "archived": bool(d.get("archived")),
             "contact_id": contact_ids.get(d["id"]), **d["properties"]} for d in deals]
    if not rows:
        return pl.DataFrame(schema=orders_schema())
    return orders_from_columns(pl.DataFrame(rows, infer_schema_length=None), run_id,
                               extracted_at, source)


def orders_from_columns(raw: pl.DataFrame, run_id: str, extracted_at: datetime,
                        source: str = "hubspot") -> pl.DataFrame:
    """A frame of deal properties (`object_id`, `archived`, `contact_id`, HubSpot property
    names) -> `sources.crm_orders` rows."""
    frame = raw.select(
        pl.concat_str([pl.lit(f"{source}:deal:"), pl.col("object_id")]).alias("order_record_id"),
        pl.lit(source).alias("source"),
        pl.col("object_id").cast(pl.Utf8),
        pl.concat_str([pl.lit(f"{source}:"), pl.col("contact_id").cast(pl.Utf8)])
        .alias("contact_record_id"),
        *[(pl.col(prop).cast(pl.Utf8) if prop in raw.columns else pl.lit(None, pl.Utf8))
          .alias(col) for col, prop in ORDER_COLUMNS.items()],
        pl.col("archived").cast(pl.Boolean),
    )
    return _lineage(frame, run_id, extracted_at).select(list(orders_schema()))


def deal_contact_ids(deals: Iterable[dict]) -> dict[str, str]:
    """deal id -> contact id from listings fetched with `associations=contacts`."""
    found = {}
    for deal in deals:
        results = ((deal.get("associations") or {}).get("contacts") or {}).get("results") or []
        if results:
            found[deal["id"]] = str(results[0]["id"])
    return found


def esp_events_schema() -> dict:
    return {"event_id": pl.Utf8, "source": pl.Utf8, "email": pl.Utf8, "event_type": pl.Utf8,
            "occurred_at": pl.Utf8, "campaign_id": pl.Utf8, "event_source_id": pl.Utf8,
            **LINEAGE}


def esp_events_frame(events: list[dict], run_id: str, extracted_at: datetime,
                     source: str = "mailchimp") -> pl.DataFrame:
    """Flat events {campaign_id, email_id, email, event_type, occurred_at} -> `sources.esp_events`.

    Mailchimp has no event ids, so one is composed from what makes an event unique: campaign,
    recipient (Mailchimp's email_id, an md5, so no address leaks into keys), type and time.
    """
    if not events:
        return pl.DataFrame(schema=esp_events_schema())
    raw = pl.DataFrame(events, infer_schema_length=None).with_columns(pl.all().cast(pl.Utf8))
    if "campaign_id" not in raw.columns:
        raw = raw.with_columns(campaign_id=pl.lit(None, pl.Utf8))
    frame = raw.select(
        pl.concat_str([pl.lit(f"{source}:"), pl.col("campaign_id"), pl.lit(":"),
                       pl.col("email_id"), pl.lit(":"), pl.col("event_type"), pl.lit(":"),
                       pl.col("occurred_at")], ignore_nulls=True).alias("event_id"),
        pl.lit(source).alias("source"),
        "email", "event_type", "occurred_at", "campaign_id",
        pl.col("email_id").alias("event_source_id"),
    )
    return _lineage(frame, run_id, extracted_at).select(list(esp_events_schema()))


def mailchimp_activity_events(campaign_id: str, recipients: Iterable[dict]) -> list[dict]:
    """`email-activity` recipients -> one flat event per activity (open, click, bounce)."""
    return [
        {"campaign_id": campaign_id, "email_id": r.get("email_id"),
         "email": r.get("email_address"), "event_type": a.get("action"),
         "occurred_at": a.get("timestamp")}
        for r in recipients for a in (r.get("activity") or [])
    ]


def consent_schema() -> dict:
    return {"event_id": pl.Utf8, "source": pl.Utf8, "contact_record_id": pl.Utf8,
            "email": pl.Utf8, "purpose": pl.Utf8, "status": pl.Utf8, "channel": pl.Utf8,
            "occurred_at": pl.Utf8, "policy_version": pl.Utf8, "recorded_at": pl.Utf8,
            **LINEAGE}


def consent_frame(events: list[dict], run_id: str, extracted_at: datetime,
                  source: str = "consent_platform", crm: str = "hubspot") -> pl.DataFrame:
    """Consent-platform events -> `sources.consent_raw` (contact ids point at CRM records)."""
    if not events:
        return pl.DataFrame(schema=consent_schema())
    raw = pl.DataFrame(events, infer_schema_length=None)
    raw = raw.select([(pl.col(f).cast(pl.Utf8) if f in raw.columns else pl.lit(None, pl.Utf8))
                      .alias(f) for f in CONSENT_FIELDS])
    frame = raw.select(
        "event_id", pl.lit(source).alias("source"),
        pl.concat_str([pl.lit(f"{crm}:"), pl.col("contact_id")]).alias("contact_record_id"),
        "email", "purpose", "status", "channel", "occurred_at", "policy_version", "recorded_at",
    )
    return _lineage(frame, run_id, extracted_at).select(list(consent_schema()))


SALESFORCE_CONTACT = {
    "first_name": "FirstName", "last_name": "LastName", "email": "Email", "phone": "Phone",
    "date_of_birth": "Birthdate", "city": "MailingCity", "postal_code": "MailingPostalCode",
    "country": "MailingCountry", "company": "Account.Name", "created_at": "CreatedDate",
    "updated_at": "SystemModstamp", "email_opt_out": "HasOptedOutOfEmail",
}
SALESFORCE_ORDER = {"amount": "Amount", "currency": "CurrencyIsoCode", "order_date": "CloseDate",
                    "status": "StageName", "updated_at": "SystemModstamp"}


def _flatten_salesforce(record: dict) -> dict:
    """Nested parent fields (`Account: {Name}`) -> `Account.Name`; values kept as strings."""
    flat = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items() if k != "attributes"})
        else:
            flat[key] = value
    return flat


def _salesforce_columns(raw: pl.DataFrame, mapping: dict) -> list[pl.Expr]:
    return [(pl.col(f).cast(pl.Utf8) if f in raw.columns else pl.lit(None, pl.Utf8)).alias(c)
            for c, f in mapping.items()]


def salesforce_contacts_frame(records: Iterable[dict], run_id: str,
                              extracted_at: datetime) -> pl.DataFrame:
    """Salesforce Contacts -> `sources.crm_contacts` rows (`IsDeleted` -> archived)."""
    rows = [_flatten_salesforce(r) for r in records]
    if not rows:
        return pl.DataFrame(schema=contacts_schema())
    return salesforce_contacts_from_columns(pl.DataFrame(rows, infer_schema_length=None),
                                            run_id, extracted_at)


def _is_deleted() -> pl.Expr:
    """`IsDeleted` as a Boolean, from JSON booleans (REST) or "true"/"false" (Bulk CSV)."""
    return (pl.col("IsDeleted").cast(pl.Utf8).str.to_lowercase() == "true").fill_null(False)


def salesforce_contacts_from_columns(raw: pl.DataFrame, run_id: str,
                                     extracted_at: datetime) -> pl.DataFrame:
    """Flat Contact fields (`Account.Name` for the parent), e.g. a Bulk API page."""
    frame = raw.select(
        pl.concat_str([pl.lit("salesforce:"), pl.col("Id")]).alias("record_id"),
        pl.lit("salesforce").alias("source"), pl.col("Id").alias("object_id"),
        *_salesforce_columns(raw, SALESFORCE_CONTACT),
        _is_deleted().alias("archived"),
    )
    return _lineage(frame, run_id, extracted_at).select(list(contacts_schema()))


def salesforce_orders_frame(records: Iterable[dict], run_id: str,
                            extracted_at: datetime) -> pl.DataFrame:
    """Salesforce Opportunities -> `sources.crm_orders` rows."""
    rows = [_flatten_salesforce(r) for r in records]
    if not rows:
        return pl.DataFrame(schema=orders_schema())
    return salesforce_orders_from_columns(pl.DataFrame(rows, infer_schema_length=None),
                                          run_id, extracted_at)


def salesforce_orders_from_columns(raw: pl.DataFrame, run_id: str,
                                   extracted_at: datetime) -> pl.DataFrame:
    """Flat Opportunity fields, e.g. a Bulk API page."""
    frame = raw.select(
        pl.concat_str([pl.lit("salesforce:opportunity:"), pl.col("Id")]).alias("order_record_id"),
        pl.lit("salesforce").alias("source"), pl.col("Id").alias("object_id"),
        pl.concat_str([pl.lit("salesforce:"), pl.col("ContactId")]).alias("contact_record_id"),
        *_salesforce_columns(raw, SALESFORCE_ORDER),
        _is_deleted().alias("archived"),
    )
    return _lineage(frame, run_id, extracted_at).select(list(orders_schema()))
