"""Customer features as one DuckDB statement (the definitions are in features.py).

The statement reads five relations by name (`FeatureInputs`): the warehouse's own tables, or
frames registered under those names. It keeps the polars implementation's semantics exactly:
rounding half to even (`round_even(x * 100, 0) / 100` is what polars' `round(2)` computes),
amounts converted to GBP as DOUBLE and summed (a sum at an exact half cent may round either way,
depending on the order of its terms, as it did in polars, whose join order is not fixed either),
quintiles by average rank among buyers, an event counted once per entity however it matched
(address or canonical key), a bounce suppressing only through the golden address.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

BASE_CURRENCY = "GBP"
# Reference rates to GBP; LTV is a ranking signal, not accounting, so a static table is enough.
FX_TO_GBP = {"GBP": 1.0, "EUR": 0.86, "USD": 0.79, "CAD": 0.58, "AUD": 0.52, "CHF": 0.90,
             "SEK": 0.074, "NOK": 0.072, "DKK": 0.115, "PLN": 0.20, "JPY": 0.0053, "NZD": 0.47}
ENGAGEMENT_WINDOW_DAYS = 90
SHORT_WINDOW_DAYS = 30
PERSON_LEVEL_SUPPRESSIONS = ("unsubscribe", "complaint")


@dataclass(frozen=True)
class FeatureInputs:
    """Relation names of the inputs, and their columns ({relation: {column: dtype}}) so the
    statement adapts to what is there (a category on orders, email keys, naive timestamps)."""

    entities: str
    golden: str
    orders: str
    events: str
    records: str | None = None
    columns: dict[str, dict] = field(default_factory=dict)

    def has(self, relation: str | None, column: str) -> bool:
        return relation is not None and column in self.columns.get(relation, {})

    def naive(self, relation: str, column: str) -> bool:
        """Whether a timestamp column has no time zone (warehouses hand back either)."""
        dtype = self.columns.get(relation, {}).get(column)
        return dtype is not None and getattr(dtype, "time_zone", "") is None


def _instant(moment: datetime) -> str:
    return f"'{moment.isoformat()}'::TIMESTAMPTZ"


def _quintile(column: str) -> str:
    """polars `((x.rank("average") - 0.5) / x.count() * 5).ceil().clip(1, 5)`; null stays null."""
    average_rank = (f"(rank() over (partition by {column} is null order by {column})"
                    f" + (count(*) over (partition by {column}) - 1) / 2.0)")
    scaled = f"ceil((({average_rank} - 0.5) / count({column}) over ()) * 5)"
    return f"case when {column} is not null then greatest(1, least(5, {scaled}))::TINYINT end"


def _events_relation(inputs: FeatureInputs) -> str:
    occurred = ("timezone('UTC', occurred_at)" if inputs.naive(inputs.events, "occurred_at")
                else "occurred_at")
    key = "email_key" if inputs.has(inputs.events, "email_key") else "null::VARCHAR"
    return (f"select event_id, lower(email) as email, {key} as email_key, event_type, "
            f"{occurred} as occurred_at from {inputs.events}")


def _addresses(inputs: FeatureInputs) -> str:
    """(entity_id, email, is_golden) for every address of a person; (entity_id, email_key)."""
    records = ""
    keys = "select null::VARCHAR as entity_id, null::VARCHAR as email_key where false"
    if inputs.records is not None:
        records = (f" union all select e.entity_id, lower(r.email), false from {inputs.records} r"
                   " join ent e on e.record_id = r.record_id")
        if inputs.has(inputs.records, "email_key"):
            keys = (f"select distinct e.entity_id, r.email_key from {inputs.records} r"
                    " join ent e on e.record_id = r.record_id"
                    " where e.entity_id is not null and r.email_key is not null")
    return f"""
addr as (
    select entity_id, email, bool_or(is_golden) as is_golden from (
        select entity_id, lower(email) as email, true as is_golden from {inputs.golden}
        {records})
    where email is not null group by entity_id, email),
keys as ({keys}),"""


def _preferred(inputs: FeatureInputs) -> str:
    if not inputs.has(inputs.orders, "category"):
        return "preferred as (select null::VARCHAR as entity_id, null::VARCHAR as category" \
               " where false),"
    return """
preferred as (
    select entity_id, category from (
        select entity_id, category, row_number() over (
            partition by entity_id order by n desc, spend desc, category) as position
        from (select entity_id, category::VARCHAR as category, count(*) as n,
                     coalesce(sum(amount_gbp), 0) as spend
              from priced where category is not null group by all))
    where position = 1),"""


def features_sql(inputs: FeatureInputs, as_of: datetime) -> str:
    """The SELECT giving one row per golden entity with every feature, sorted by entity_id."""
    rates = ", ".join(f"('{code}', {rate!r}::DOUBLE)" for code, rate in FX_TO_GBP.items())
    category = ", o.category" if inputs.has(inputs.orders, "category") else ""
    end = _instant(as_of)
    long_window = (f"occurred_at between {_instant(as_of - timedelta(ENGAGEMENT_WINDOW_DAYS))}"
                   f" and {end}")
    short_window = (f"occurred_at between {_instant(as_of - timedelta(SHORT_WINDOW_DAYS))}"
                    f" and {end}")
    suppressing = ", ".join(f"'{kind}'" for kind in PERSON_LEVEL_SUPPRESSIONS)
    return f"""
with fx(currency, rate) as (values {rates}),
ent as (select record_id, entity_id from {inputs.entities}),
priced as (
    select e.entity_id, o.order_date{category}, o.amount::DOUBLE * fx.rate as amount_gbp
    from {inputs.orders} o join ent e on e.record_id = o.contact_record_id
    left join fx on fx.currency = upper(o.currency)
    where o.status = 'paid'),
orders as (
    select entity_id, count(*) as order_count,
           round_even(coalesce(sum(amount_gbp), 0) * 100, 0) / 100 as lifetime_value,
           count(amount_gbp) as priced_orders, count(*) - count(amount_gbp) as unpriced_orders,
           max(order_date) as last_order_date
    from priced group by entity_id),
{_preferred(inputs)}
{_addresses(inputs)}
ev as ({_events_relation(inputs)}),
matched as (
    select event_id, entity_id, any_value(event_type) as event_type,
           any_value(occurred_at) as occurred_at, bool_or(is_golden) as is_golden
    from (select ev.event_id, a.entity_id, ev.event_type, ev.occurred_at, a.is_golden
          from ev join addr a on a.email = ev.email
          union all
          select ev.event_id, k.entity_id, ev.event_type, ev.occurred_at, false
          from ev join keys k on k.email_key = ev.email_key)
    group by event_id, entity_id),
engagement as (
    select entity_id,
        count(*) filter (where event_type = 'sent' and {long_window}) as sends_90d,
        count(*) filter (where event_type = 'open' and {short_window}) as opens_30d,
        count(*) filter (where event_type = 'click' and {short_window}) as clicks_30d,
        count(*) filter (where event_type = 'open' and {long_window}) as opens_90d,
        count(*) filter (where event_type = 'click' and {long_window}) as clicks_90d,
        max(occurred_at) filter (where event_type in ('open', 'click') and occurred_at <= {end})
            as last_engaged_at,
        string_agg(distinct event_type, ',' order by event_type) filter (
            where event_type in ({suppressing}) or (event_type = 'bounce' and is_golden))
            as suppression_reason
    from matched group by entity_id),
people as (select distinct entity_id from {inputs.golden}),
base as (
    select p.entity_id,
        coalesce(o.order_count, 0) as order_count,
        coalesce(o.lifetime_value, 0.0) as lifetime_value,
        case when o.priced_orders > 0
             then round_even(o.lifetime_value / o.priced_orders * 100, 0) / 100
        end as average_order_value,
        c.category as preferred_category, o.last_order_date,
        (DATE '{as_of.date().isoformat()}' - o.last_order_date)::BIGINT as recency_days,
        coalesce(o.unpriced_orders, 0) as unpriced_orders,
        coalesce(g.sends_90d, 0) as sends_90d, coalesce(g.opens_30d, 0) as opens_30d,
        coalesce(g.clicks_30d, 0) as clicks_30d, coalesce(g.opens_90d, 0) as opens_90d,
        coalesce(g.clicks_90d, 0) as clicks_90d, g.last_engaged_at,
        g.suppression_reason is not null as suppressed, g.suppression_reason
    from people p
    left join orders o on o.entity_id = p.entity_id
    left join engagement g on g.entity_id = p.entity_id
    left join preferred c on c.entity_id = p.entity_id),
ranked as (
    select *, case when order_count > 0 then -recency_days end as _r,
              case when order_count > 0 then order_count end as _f,
              case when order_count > 0 then lifetime_value end as _m
    from base),
scored as (
    select *, {_quintile("_r")} as r_score, {_quintile("_f")} as f_score,
              {_quintile("_m")} as m_score
    from ranked)
select entity_id::VARCHAR as entity_id, order_count::BIGINT as order_count,
    lifetime_value::DOUBLE as lifetime_value, average_order_value::DOUBLE as average_order_value,
    preferred_category, last_order_date::DATE as last_order_date, recency_days, r_score,
    f_score, m_score,
    case when not order_count > 0 then 'prospect'
         when r_score >= 4 and f_score >= 4 then 'champion'
         when r_score >= 3 and f_score >= 3 then 'loyal'
         when r_score >= 4 and f_score <= 2 then 'new'
         when r_score <= 2 and f_score >= 3 then 'at_risk'
         when r_score <= 2 then 'lapsed'
         else 'promising' end as rfm_segment,
    unpriced_orders::BIGINT as unpriced_orders, sends_90d::BIGINT as sends_90d,
    opens_30d::BIGINT as opens_30d, clicks_30d::BIGINT as clicks_30d,
    opens_90d::BIGINT as opens_90d, clicks_90d::BIGINT as clicks_90d,
    (opens_90d + 2 * clicks_90d)::DOUBLE / greatest(sends_90d, 1) as engagement_score,
    last_engaged_at::TIMESTAMPTZ as last_engaged_at, suppressed, suppression_reason
from scored
order by entity_id nulls first
"""
