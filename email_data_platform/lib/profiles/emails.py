"""Email addresses: a normalised address for sending and a canonical key for matching.

The normalised address is what an ESP receives: trimmed, lowercased, domain in IDNA (punycode)
ASCII form. The matching key goes further and folds spellings that reach the same mailbox:
plus-tags are removed everywhere, and dots in the local part are removed for Gmail, which
ignores them (googlemail.com is the same service).
"""

import logging

import idna
import polars as pl

logger = logging.getLogger(__name__)

# Dot-atom local part (RFC 5321, ASCII only) and a domain of LDH labels with an alphabetic TLD.
_LOCAL = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
EMAIL_PATTERN = rf"^{_LOCAL}@(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$"
MAX_EMAIL_LENGTH = 254
SAME_SERVICE_DOMAINS = {"googlemail.com": "gmail.com"}
DOT_INSENSITIVE_DOMAINS = ["gmail.com"]


def _to_ascii_domain(domain: str | None) -> str | None:
    """IDNA-encode one non-ASCII domain; None when it cannot be encoded (email invalid)."""
    if domain is None:
        return None
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def normalise_emails(frame: pl.DataFrame, column: str = "email") -> pl.DataFrame:
    """Replace `column` (tidy text) with the normalised address; add `email_valid`, `email_key`.

    Non-ASCII domains (rare) are IDNA-encoded with the `idna` library on unique values only, so
    the per-row Python cost scales with distinct internationalised domains, not with rows.
    Steps are materialised one at a time (nested expressions would recompute shared parts).
    """
    address = pl.col("e")
    parts = frame.select(pl.col(column).cast(pl.Utf8).str.to_lowercase().alias("e")).with_columns(
        address.str.extract(r"^([^@]*)@", 1).alias("local"),
        address.str.extract(r"@([^@]*)$", 1).alias("domain"),
    )
    non_ascii = parts.filter(pl.col("domain").str.contains(r"[^\x00-\x7f]"))["domain"].unique()
    if non_ascii.len():
        mapping = {d: _to_ascii_domain(d) for d in non_ascii.to_list()}
        logger.debug("IDNA-encoded %d distinct domains", len(mapping))
        encoded = pl.col("domain").replace_strict(mapping, default=None, return_dtype=pl.Utf8)
        internationalised = pl.col("domain").is_in(non_ascii.implode())
        # Rebuild only internationalised addresses; others keep their text ("a@@b" stays invalid).
        parts = parts.with_columns(
            pl.when(internationalised)
            .then(pl.concat_str("local", pl.lit("@"), encoded))
            .otherwise(address)
            .alias("e"),
            pl.when(internationalised).then(encoded).otherwise(pl.col("domain")).alias("domain"),
        )
    short_enough = address.str.len_bytes() <= MAX_EMAIL_LENGTH
    parts = parts.with_columns(
        (address.str.contains(EMAIL_PATTERN) & short_enough).fill_null(False).alias("valid"),
        pl.col("domain").replace(SAME_SERVICE_DOMAINS).alias("key_domain"),
        # "+news@x.com" has nothing before its tag: the whole local part is the mailbox.
        pl.col("local").str.replace(r"(.)\+.*$", "$1").str.strip_chars_end(".").alias("key_local"),
    )
    key_local = (
        pl.when(pl.col("key_domain").is_in(DOT_INSENSITIVE_DOMAINS))
        .then(pl.col("key_local").str.replace_all(".", "", literal=True))
        .otherwise(pl.col("key_local"))
    )
    derived = parts.select(
        address.alias(column),
        pl.col("valid").alias("email_valid"),
        pl.when(pl.col("valid"))
        .then(pl.concat_str(key_local, pl.lit("@"), "key_domain"))
        .alias("email_key"),
    )
    return frame.with_columns(derived)
