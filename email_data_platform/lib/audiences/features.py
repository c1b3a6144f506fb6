"""Customer features per entity: lifetime value, RFM, engagement and ESP suppression.

Definitions (documented here because marketers read them back in segments.yaml):
- lifetime_value: sum of `paid` order amounts, converted to the base currency (GBP) with the
  static reference rates below; refunded and cancelled orders count for nothing. Orders in a
  currency with no rate are left out of LTV and counted in `unpriced_orders`.
- order_count: number of paid orders; last_order_date: the latest paid order's date.
- recency_days: days from last_order_date to the as-of date (null without paid orders).
- rfm: recency, frequency and monetary scores 1-5 by quintile among customers with paid orders
  (5 = most recent / most orders / highest LTV); `rfm_segment` names the combination.
- average_order_value: lifetime_value / priced paid orders (null without any).
- preferred_category: the product category of most paid orders (ties: higher spend, then name);
  null when orders carry no `category` column or the person has none.
- engagement over the 30 and 90 days before as-of: sends, opens, clicks; engagement_score =
  (opens + 2 * clicks) / max(sends, 1) over 90 days; last_engaged_at: the latest open or click
  ever (null if none).
- suppressed: the ESP reported an unsubscribe or a complaint for any of the entity's addresses, or
  a bounce for its golden (mailing) address. `suppression_reason` says which.
"""

import logging
from datetime import UTC, date, datetime, timedelta

import pandera.polars as pa
import polars as pl

from email_data_platform.lib import clock

logger = logging.getLogger(__name__)

BASE_CURRENCY = "GBP"
# Reference rates to GBP; LTV is a ranking signal, not accounting, so a static table is enough.
FX_TO_GBP = {"GBP": 1.0, "EUR": 0.86, "USD": 0.79, "CAD": 0.58, "AUD": 0.52, "CHF": 0.90,
             "SEK": 0.074, "NOK": 0.072, "DKK": 0.115, "PLN": 0.20, "JPY": 0.0053, "NZD": 0.47}
ENGAGEMENT_WINDOW_DAYS = 90
SHORT_WINDOW_DAYS = 30
PERSON_LEVEL_SUPPRESSIONS = ("unsubscribe", "complaint")
RFM_SEGMENTS = ["prospect", "champion", "loyal", "new", "at_risk", "lapsed", "promising"]

FEATURE_SCHEMA = {
    "entity_id": pl.Utf8, "order_count": pl.Int64, "lifetime_value": pl.Float64,
    "average_order_value": pl.Float64, "preferred_category": pl.Utf8, "last_order_date": pl.Date,
    "recency_days": pl.Int64, "r_score": pl.Int8, "f_score": pl.Int8, "m_score": pl.Int8,
    "rfm_segment": pl.Utf8, "unpriced_orders": pl.Int64, "sends_90d": pl.Int64,
    "opens_30d": pl.Int64, "clicks_30d": pl.Int64, "opens_90d": pl.Int64, "clicks_90d": pl.Int64,
    "engagement_score": pl.Float64, "last_engaged_at": pl.Datetime("us", "UTC"),
    "suppressed": pl.Boolean, "suppression_reason": pl.Utf8,
}
FEATURE_COLUMNS = list(FEATURE_SCHEMA)  # segments.yaml is checked against this at load


def build_customer_features(
    entities: pl.DataFrame,
    golden_profiles: pl.DataFrame,
    clean_orders: pl.DataFrame,
    clean_esp_events: pl.DataFrame,
    record_emails: pl.DataFrame | None = None,
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """One row per entity in `golden_profiles` with the features above.

    `record_emails` (record_id, email[, email_key]; e.g. from profiles.clean_profiles) lets ESP
    events on any of a person's addresses (or their canonical keys) count, not just the golden one.
    """
    as_of = (as_of or clock.as_of()).astimezone(UTC)
    people = golden_profiles.select("entity_id").unique()
    orders = order_features(entities, clean_orders, as_of.date())
    matched = match_events_to_entities(
        clean_esp_events, entity_emails(entities, golden_profiles, record_emails),
        entity_email_keys(entities, record_emails),
    )
    engagement = engagement_features(matched, as_of)
    features = (
        people.join(orders, on="entity_id", how="left")
        .join(engagement, on="entity_id", how="left")
        .with_columns(
            pl.col("order_count", "unpriced_orders", "sends_90d", "opens_30d", "clicks_30d",
                   "opens_90d", "clicks_90d").fill_null(0),
            pl.col("lifetime_value").fill_null(0.0),
            pl.col("suppressed").fill_null(False),
        )
    )
    features = add_rfm(features).with_columns(
        engagement_score=(pl.col("opens_90d") + 2 * pl.col("clicks_90d"))
        / pl.max_horizontal(pl.col("sends_90d"), pl.lit(1))
    )
    return features.select(FEATURE_COLUMNS).cast(FEATURE_SCHEMA).sort("entity_id")


def order_features(entities: pl.DataFrame, orders: pl.DataFrame, as_of: date) -> pl.DataFrame:
    paid = orders.filter(pl.col("status") == "paid").join(
        entities.select("record_id", "entity_id"),
        left_on="contact_record_id", right_on="record_id", how="inner",
    )
    rate = pl.col("currency").str.to_uppercase().replace_strict(FX_TO_GBP, default=None,
                                                               return_dtype=pl.Float64)
    priced = paid.with_columns(amount_gbp=pl.col("amount").cast(pl.Float64) * rate)
    per_entity = (
        priced.group_by("entity_id")
        .agg(
            order_count=pl.len().cast(pl.Int64),
            lifetime_value=pl.col("amount_gbp").sum().round(2),
            priced_orders=pl.col("amount_gbp").is_not_null().sum(),
            unpriced_orders=pl.col("amount_gbp").is_null().sum().cast(pl.Int64),
            last_order_date=pl.col("order_date").max(),
        )
        .with_columns(
            recency_days=(pl.lit(as_of) - pl.col("last_order_date")).dt.total_days()
            .cast(pl.Int64),
            average_order_value=pl.when(pl.col("priced_orders") > 0)
            .then((pl.col("lifetime_value") / pl.col("priced_orders")).round(2)),
        )
        .drop("priced_orders")
    )
    return per_entity.join(preferred_categories(priced), on="entity_id", how="left")


def preferred_categories(priced_orders: pl.DataFrame) -> pl.DataFrame:
    """(entity_id, preferred_category): most orders, then most spend, then name."""
    if "category" not in priced_orders.columns:
        return pl.DataFrame(schema={"entity_id": pl.Utf8, "preferred_category": pl.Utf8})
    return (
        priced_orders.filter(pl.col("category").is_not_null())
        .group_by("entity_id", "category")
        .agg(orders=pl.len(), spend=pl.col("amount_gbp").sum())
        .sort(["entity_id", "orders", "spend", "category"],
              descending=[False, True, True, False])
        .unique("entity_id", keep="first", maintain_order=True)
        .select("entity_id", preferred_category=pl.col("category").cast(pl.Utf8))
    )


def entity_emails(
    entities: pl.DataFrame, golden_profiles: pl.DataFrame, record_emails: pl.DataFrame | None
) -> pl.DataFrame:
    """(entity_id, email, is_golden) for every address known for a person, lower-cased."""
    golden = golden_profiles.select(
        "entity_id", email=pl.col("email").str.to_lowercase(), is_golden=pl.lit(True)
    )
    frames = [golden]
    if record_emails is not None:
        frames.append(
            record_emails.join(entities.select("record_id", "entity_id"), on="record_id")
            .select("entity_id", email=pl.col("email").str.to_lowercase(), is_golden=pl.lit(False))
        )
    return (
        pl.concat(frames)
        .filter(pl.col("email").is_not_null())
        .group_by("entity_id", "email")
        .agg(pl.col("is_golden").any())
    )


def entity_email_keys(entities: pl.DataFrame, record_emails: pl.DataFrame | None) -> pl.DataFrame:
    """(entity_id, email_key): canonical matching keys (dots/+tags folded) of a person's records."""
    if record_emails is None or "email_key" not in record_emails.columns:
        return pl.DataFrame(schema={"entity_id": pl.Utf8, "email_key": pl.Utf8})
    return (
        record_emails.join(entities.select("record_id", "entity_id"), on="record_id")
        .select("entity_id", "email_key")
        .drop_nulls()
        .unique()
    )


def match_events_to_entities(
    esp_events: pl.DataFrame, email_map: pl.DataFrame, key_map: pl.DataFrame
) -> pl.DataFrame:
    """Each ESP event with the entity it concerns: by exact address, or by canonical key (so an
    unsubscribe from j.smith+promo@ still reaches jsmith@). One row per (event, entity)."""
    events = esp_events.with_columns(
        email=pl.col("email").str.to_lowercase(),
        occurred_at=_utc(pl.col("occurred_at"), esp_events.schema["occurred_at"]),
    )
    matched = [events.join(email_map, on="email", how="inner")]
    if "email_key" in events.columns and key_map.height:
        matched.append(events.join(key_map, on="email_key", how="inner")
                       .with_columns(is_golden=pl.lit(False)))
    return (
        pl.concat(matched, how="diagonal_relaxed")
        .sort("is_golden", descending=True)
        .unique(subset=["event_id", "entity_id"], keep="first")
    )


def engagement_features(events: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """Per entity: 30/90-day sends, opens, clicks, last engagement and suppression, from events
    matched to entities."""
    window_start = as_of - timedelta(days=ENGAGEMENT_WINDOW_DAYS)
    in_window = pl.col("occurred_at").is_between(window_start, as_of)
    in_short = pl.col("occurred_at").is_between(as_of - timedelta(days=SHORT_WINDOW_DAYS), as_of)
    engaged = pl.col("event_type").is_in(["open", "click"]) & (pl.col("occurred_at") <= as_of)
    person_level = pl.col("event_type").is_in(PERSON_LEVEL_SUPPRESSIONS)
    golden_bounce = (pl.col("event_type") == "bounce") & pl.col("is_golden")
    return (
        events.group_by("entity_id")
        .agg(
            sends_90d=((pl.col("event_type") == "sent") & in_window).sum().cast(pl.Int64),
            opens_90d=((pl.col("event_type") == "open") & in_window).sum().cast(pl.Int64),
            clicks_90d=((pl.col("event_type") == "click") & in_window).sum().cast(pl.Int64),
            opens_30d=((pl.col("event_type") == "open") & in_short).sum().cast(pl.Int64),
            clicks_30d=((pl.col("event_type") == "click") & in_short).sum().cast(pl.Int64),
            last_engaged_at=pl.col("occurred_at").filter(engaged).max(),
            reasons=pl.col("event_type").filter(person_level | golden_bounce).unique().sort(),
        )
        .with_columns(
            suppressed=pl.col("reasons").list.len() > 0,
            suppression_reason=pl.when(pl.col("reasons").list.len() > 0)
            .then(pl.col("reasons").list.join(","))
            .otherwise(None),
        )
        .drop("reasons")
    )


def _utc(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Warehouses hand back 'Etc/UTC' or naive timestamps; compare everything in 'UTC'."""
    if getattr(dtype, "time_zone", None) is None:
        return column.dt.replace_time_zone("UTC")
    return column.dt.convert_time_zone("UTC")


def add_rfm(features: pl.DataFrame) -> pl.DataFrame:
    """Quintile scores among buyers (5 best) and a named segment; non-buyers are prospects."""
    buyer = pl.col("order_count") > 0

    def quintile(expr: pl.Expr) -> pl.Expr:
        # non-buyers are null here; rank and count skip nulls, so quintiles are among buyers
        scaled = ((expr.rank("average") - 0.5) / expr.count() * 5).ceil().clip(1, 5)
        return scaled.cast(pl.Int8)

    ranked = features.with_columns(
        _r=pl.when(buyer).then(-pl.col("recency_days")),
        _f=pl.when(buyer).then(pl.col("order_count")),
        _m=pl.when(buyer).then(pl.col("lifetime_value")),
    )
    scored = ranked.with_columns(
        r_score=quintile(pl.col("_r")), f_score=quintile(pl.col("_f")),
        m_score=quintile(pl.col("_m")),
    ).drop("_r", "_f", "_m")
    r, f = pl.col("r_score"), pl.col("f_score")
    return scored.with_columns(
        rfm_segment=pl.when(~buyer).then(pl.lit("prospect"))
        .when((r >= 4) & (f >= 4)).then(pl.lit("champion"))
        .when((r >= 3) & (f >= 3)).then(pl.lit("loyal"))
        .when((r >= 4) & (f <= 2)).then(pl.lit("new"))
        .when((r <= 2) & (f >= 3)).then(pl.lit("at_risk"))
        .when(r <= 2).then(pl.lit("lapsed"))
        .otherwise(pl.lit("promising"))
    )


class CustomerFeaturesModel(pa.DataFrameModel):
    """audiences.customer_features: one row per entity, non-negative measures, scores 1-5."""

    entity_id: str = pa.Field(unique=True)
    order_count: int = pa.Field(ge=0)
    lifetime_value: float = pa.Field(ge=0)
    last_order_date: pl.Date = pa.Field(nullable=True)
    recency_days: int = pa.Field(nullable=True)
    r_score: pl.Int8 = pa.Field(nullable=True, in_range={"min_value": 1, "max_value": 5})
    f_score: pl.Int8 = pa.Field(nullable=True, in_range={"min_value": 1, "max_value": 5})
    m_score: pl.Int8 = pa.Field(nullable=True, in_range={"min_value": 1, "max_value": 5})
    rfm_segment: str = pa.Field(isin=RFM_SEGMENTS)
    opens_90d: int = pa.Field(ge=0)
    clicks_90d: int = pa.Field(ge=0)
    engagement_score: float = pa.Field(ge=0)
    suppressed: bool

    class Config:
        strict = False
