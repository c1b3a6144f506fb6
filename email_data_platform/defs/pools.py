"""Concurrency pools: every step that calls a vendor's API takes a slot of its vendor's pool,
so concurrent runs together stay within each account's API budget (dagster.prod.yaml sets
`pools: default_limit: 1, granularity: op`; raise one with
`dagster instance concurrency set esp 2`).

A step holds exactly one pool in Dagster 1.13 (`pool=` on `@asset` / `@op` is a single name), and
some steps call two vendors together: `sources/crm_contacts` and `crm_orders` pull HubSpot then
Salesforce, and the ESP steps (`sources/esp_events`, `activation/esp_sync`,
`privacy/erasure_log`, the retention op) call Mailchimp and SendGrid. Vendors called by one step
therefore share a pool (`crm`, `esp`): a pool per vendor would let a step calling both take only
one of them, and the other vendor's budget would not hold. Every step calling a vendor takes the
same pool for it (`observability/reconciliation`, Mailchimp alone, takes `esp` too), which
`pool_for` enforces and test_definitions.py checks against each step's vendor resources.
"""

VENDOR_POOLS = {"hubspot": "crm", "salesforce": "crm", "mailchimp": "esp", "sendgrid": "esp",
                "consent_feed": "consent_feed"}


def pool_for(*vendors: str) -> str:
    """The one pool of the vendors a step calls (resource keys); they must share it."""
    pools = {VENDOR_POOLS[vendor] for vendor in vendors}
    if len(pools) != 1:
        raise ValueError(f"a step calling {', '.join(vendors)} would need pools "
                         f"{', '.join(sorted(pools))}; a step holds one: group these vendors "
                         "into one pool in defs/pools.py")
    return pools.pop()
