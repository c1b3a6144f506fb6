"""Profiles stage: raw source rows become clean, typed, validated tables plus a quarantine.

Assets (one multi-asset, `assets.py`): `profiles/clean_profiles`, `clean_orders`,
`clean_esp_events`, `clean_consent_events` and `profiles/quarantine`, from `sources/*`.
The logic lives behind `lib/profiles/stage.py` (one `clean_<table>(raw, run_id)` per
source table, returning `CleanResult(clean, quarantine)`); the models in `lib/profiles/schemas.py`.

Checks:
- blocking ERROR on each clean table: `<table>_matches_schema` (pandera) and
  `<table>_accounts_for_raw_rows` (per source: raw = clean + quarantined);
  `quarantine_matches_schema`.
- WARN: `<raw table>_looks_healthy` on `sources/*`, `clean_orders_reference_known_contacts`,
  `clean_consent_events_reference_known_contacts`, `quarantine_holds_no_consent_withdrawals`.
Check metadata names columns, rules, counts and record keys, never a raw value.

Policies: every raw row ends in exactly one place; archived and superseded CRM versions are
quarantined with their reason (`archived_in_source`, `superseded_version`); placeholders
("n/a", "0000-00-00") are missing values, not invalid ones; keys are never rewritten (a
malformed key is quarantined); the quarantine is replaced on every run together with the clean
tables.
"""
