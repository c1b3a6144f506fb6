"""Which raw table feeds which clean table, with its cleaner, keys and pandera models."""

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
import pandera.polars as pa
import polars as pl

from email_data_platform.lib.profiles.stage import (
    CleanResult,
    clean_consent_events,
    clean_contacts,
    clean_esp_events,
    clean_orders,
    schemas,
)

STAGE = "profiles"
KINDS = {"duckdb", "polars", "pandera"}
QUARANTINE_KEY = dg.AssetKey([STAGE, "quarantine"])
QUARANTINE_TABLE = "profiles.quarantine"
FIELD_ISSUES_KEY = dg.AssetKey([STAGE, "field_issues"])
FIELD_ISSUES_TABLE = "profiles.field_issues"


@dataclass(frozen=True)
class ProfileTable:
    """One raw -> clean pairing of the profiles stage."""

    raw_name: str  # also the quarantine's table_name
    clean_name: str
    raw_key: str
    clean_key: str
    cleaner: Callable[[pl.DataFrame, str], CleanResult]
    clean_model: type[pa.DataFrameModel]
    raw_model: type[pa.DataFrameModel]
    pii: bool
    description: str

    @property
    def raw_asset(self) -> dg.AssetKey:
        return dg.AssetKey(["sources", self.raw_name])

    @property
    def clean_asset(self) -> dg.AssetKey:
        return dg.AssetKey([STAGE, self.clean_name])

    @property
    def raw_table(self) -> str:
        return f"sources.{self.raw_name}"

    @property
    def clean_table(self) -> str:
        return f"{STAGE}.{self.clean_name}"


CONTACTS = ProfileTable(
    "crm_contacts",
    "clean_profiles",
    "record_id",
    "record_id",
    clean_contacts,
    schemas.CleanProfiles,
    schemas.RawCrmContacts,
    True,
    "One trustworthy row per live CRM contact: email lower-cased with a matching key, phone "
    "in international format, names tidied, dates and countries standardised. Archived, "
    "invalid and out-of-date copies are in the quarantine instead, with their reason.",
)
ORDERS = ProfileTable(
    "crm_orders",
    "clean_orders",
    "order_record_id",
    "order_record_id",
    clean_orders,
    schemas.CleanOrders,
    schemas.RawCrmOrders,
    False,
    "Orders (CRM deals) with exact decimal amounts and a valid currency, latest version "
    "only. Negative amounts and unknown currencies are quarantined, not guessed.",
)
ESP_EVENTS = ProfileTable(
    "esp_events",
    "clean_esp_events",
    "event_id",
    "event_id",
    clean_esp_events,
    schemas.CleanEspEvents,
    schemas.RawEspEvents,
    True,
    "Email engagement (sends, opens, clicks, bounces, unsubscribes, complaints) from the "
    "email platform, each event once, with a UTC time and a matchable email.",
)
CONSENT = ProfileTable(
    "consent_raw",
    "clean_consent_events",
    "event_id",
    "event_id",
    clean_consent_events,
    schemas.CleanConsentEvents,
    schemas.RawConsent,
    True,
    "Every consent decision (granted or withdrawn, per purpose and channel) as received. "
    "Decisions for unknown purposes or channels are quarantined: we only honour what we "
    "can name.",
)
PROFILE_TABLES = [CONTACTS, ORDERS, ESP_EVENTS, CONSENT]
