"""Consent decisions: raw rows to `profiles.clean_consent_events`, plus quarantine.

The rules differ by status, because the two mistakes differ in cost: sending to someone who
said stop is the worst bug this platform can have, so a withdrawal is kept whatever is wrong
with it, and only a grant must be provable to be used.
"""

import datetime as dt
import hashlib
import json

import polars as pl

from email_data_platform.lib.clock import as_of
from email_data_platform.lib.privacy.taxonomy import ALL_PURPOSES, UNKNOWN_CHANNEL, load_taxonomy
from email_data_platform.lib.profiles.dates import parse_timestamps
from email_data_platform.lib.profiles.events import (
    _clean_events,
    _event_rules,
    _invalid_email,
    _known,
)
from email_data_platform.lib.profiles.quarantine import Rule
from email_data_platform.lib.profiles.staging import (
    EVENT_KEY_PATTERN,
    CleanResult,
    blank,
    conform,
)

CONSENT_TABLE_NAME = "consent_raw"
CONSENT_TEXT_COLUMNS = [
    "event_id", "source", "contact_record_id", "email", "purpose", "status", "channel",
    "occurred_at", "policy_version", "legal_basis", "proof_reference",
]
CONSENT_STATUSES = ("granted", "withdrawn")
CONSENT_PURPOSES = (*load_taxonomy().decision_subjects, ALL_PURPOSES)
CONSENT_CHANNELS = (*load_taxonomy().channels, UNKNOWN_CHANNEL)
CLEAN_CONSENT_COLUMNS = [
    *CONSENT_TEXT_COLUMNS[:9], "email_key", "extracted_at", "recorded_at", "legal_basis",
    "proof_reference", "metadata_issues",
]


def clean_consent_events(
    raw: pl.DataFrame, run_id: str, *, now: dt.datetime | None = None
) -> CleanResult:
    """Clean consent decisions into `profiles.clean_consent_events`.

    A withdrawal is never lost. Whatever is wrong with its metadata (unknown channel or purpose,
    no policy version, an unparseable time, a missing event id), it stays, with
    `metadata_issues` naming what was wrong: an unknown purpose withdraws every purpose
    (`all`), an unknown time counts from when we received it, a status word that is not a
    grant counts as a withdrawal. Only grants with bad metadata are quarantined: a grant must be
    provable. Quarantined whatever the status: a row that names no record and no valid address
    (nobody to attribute it to, nothing sendable to suppress), and a second delivery of an
    event already kept.
    """
    now = now or as_of()
    taxonomy = load_taxonomy()
    grant = pl.col("status") == "granted"
    no_subject = pl.col("contact_record_id").is_null() & (
        blank(pl.col("email")) | _invalid_email())
    grant_rules = [
        *[r for r in _event_rules(["event_id", "source", "purpose", "status"],
                                  CONSENT_TEXT_COLUMNS, now,
                                  _invalid_email() & pl.col("contact_record_id").is_null())
          if r.name != "duplicate_event"],
        _known("purpose", taxonomy.decision_subjects),
        _known("channel", taxonomy.channels),
        Rule("policy_version_missing", "a grant must name the policy version it was given under",
             pl.col("policy_version").is_null()),
    ]
    rules = [
        Rule("duplicate_event", "the same event_id was delivered again", pl.col("__superseded")),
        Rule("subject_missing", "names no contact_record_id and no valid email", no_subject),
        *[Rule(r.name, r.reason, r.violated & grant) for r in grant_rules],
    ]
    clean, quarantine = _clean_events(
        raw, run_id, CONSENT_TEXT_COLUMNS, rules, CONSENT_TABLE_NAME,
        ["purpose", "status", "channel"], refine=lambda d: _refine(d, raw, now),
    )
    clean = clean.with_columns(pl.when(pl.col("email_valid")).then(pl.col("email")).alias("email"))
    return CleanResult(clean.select(CLEAN_CONSENT_COLUMNS), quarantine)


def _refine(derived: pl.DataFrame, raw: pl.DataFrame, now: dt.datetime) -> pl.DataFrame:
    """Status words mapped, then the fallbacks that keep every withdrawal usable, each noted."""
    taxonomy = load_taxonomy()
    word = pl.col("status")
    known_word = word.is_in(list(taxonomy.grant_words + taxonomy.withdraw_words))
    derived = derived.with_columns(
        status=pl.when(word.is_in(list(taxonomy.grant_words))).then(pl.lit("granted"))
        .otherwise(pl.lit("withdrawn")),
        recorded_at=parse_timestamps(conform(raw, ["recorded_at"])["recorded_at"]),
        __status_unrecognised=~known_word.fill_null(False),
    )
    issues = {
        "status_unrecognised": pl.col("__status_unrecognised"),
        "purpose_unknown": ~pl.col("purpose").is_in(list(taxonomy.decision_subjects)),
        "channel_unknown": ~pl.col("channel").is_in(list(taxonomy.channels)),
        "policy_version_missing": pl.col("policy_version").is_null(),
        "occurred_at_unknown": pl.col("occurred_at").is_null(),
        "event_id_unusable": ~pl.col("event_id").str.contains(EVENT_KEY_PATTERN)
        | (pl.col("event_id").str.len_bytes() > 320),
        "source_missing": pl.col("source").is_null(),
    }
    withdrawal = pl.col("status") == "withdrawn"
    flags = derived.select([(e.fill_null(True) & withdrawal).alias(n) for n, e in issues.items()])
    received = pl.coalesce("recorded_at", "extracted_at", pl.lit(now, pl.Datetime("us", "UTC")))
    kept = derived.with_columns(
        purpose=_fallback(flags["purpose_unknown"], "purpose", ALL_PURPOSES),
        channel=_fallback(flags["channel_unknown"], "channel", UNKNOWN_CHANNEL),
        source=_fallback(flags["source_missing"], "source", UNKNOWN_CHANNEL),
        occurred_at=pl.when(flags["occurred_at_unknown"]).then(received)
        .otherwise(pl.col("occurred_at")),
        event_id=_synthetic_event_ids(derived["event_id"], flags["event_id_unusable"], raw),
        metadata_issues=_issue_notes(flags),
    )
    return kept.drop("__status_unrecognised")


def _fallback(flag: pl.Series, column: str, value: str) -> pl.Expr:
    return pl.when(flag).then(pl.lit(value)).otherwise(pl.col(column))


def _synthetic_event_ids(ids: pl.Series, unusable: pl.Series, raw: pl.DataFrame) -> pl.Series:
    """A stable id for a withdrawal that arrived without a usable one: a hash of the record as
    received, so the same row re-delivered gets the same id (and is de-duplicated)."""
    rows = unusable.arg_true()
    if rows.len() == 0:
        return ids
    records = (json.dumps(r, sort_keys=True, default=str) for r in raw[rows].to_dicts())
    synthetic = pl.Series([f"withdrawal:{hashlib.sha256(r.encode()).hexdigest()[:32]}"
                           for r in records], dtype=pl.Utf8)
    return ids.scatter(rows, synthetic)


def _issue_notes(flags: pl.DataFrame) -> pl.Series:
    notes = flags.select(pl.concat_str(
        [pl.when(pl.col(n)).then(pl.lit(n)) for n in flags.columns],
        separator="; ", ignore_nulls=True)).to_series()
    return notes.replace("", None).alias("metadata_issues")
