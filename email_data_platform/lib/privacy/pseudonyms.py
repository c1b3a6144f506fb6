"""Keyed pseudonyms (HMAC-SHA256) for analytics views, with rotatable keys.

A pseudonym is `<key_id>:<hex HMAC of the value>`. The same value under the same key always gives
the same pseudonym (joins across tables still work); without the key nobody can recompute it from
a guessed email (an unkeyed hash of an email is trivially reversed by hashing a list of emails).

Rotation: add a new key, make it active, re-derive the views from the source tables. The key id
inside each pseudonym tells which rows are stale (`stale_pseudonyms`); retired keys are removed
from the keyring once no view uses them. Keys never appear in logs, reprs or errors.
"""

import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import polars as pl

logger = logging.getLogger(__name__)

MIN_KEY_BYTES = 16


def parse_key_spec(spec: str) -> dict[str, str]:
    """`id1=secret1,id2=secret2` (the form an environment variable carries), in listed order.

    Errors name the entry's position, never its secret."""
    keys = {}
    for index, part in enumerate(p for p in spec.split(",") if p.strip()):
        key_id, sep, secret = part.strip().partition("=")
        if not sep:
            raise ValueError(f"key entry #{index + 1} must look like id=secret")
        keys[key_id.strip()] = secret
    return keys


class PseudonymKeyring:
    """Named secret keys, one of them active for new pseudonyms."""

    def __init__(self, keys: Mapping[str, str | bytes], active_key_id: str):
        if not keys:
            raise ValueError("pseudonymisation keyring is empty: configure at least one key")
        self._keys: dict[str, bytes] = {}
        for key_id, secret in keys.items():
            if not key_id or ":" in key_id:
                raise ValueError(f"key id {key_id!r} must be non-empty and contain no ':'")
            raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
            if len(raw) < MIN_KEY_BYTES:
                raise ValueError(f"key {key_id!r} is shorter than {MIN_KEY_BYTES} bytes")
            self._keys[key_id] = raw
        if active_key_id not in self._keys:
            raise ValueError(f"active key id {active_key_id!r} is not in the keyring")
        self.active_key_id = active_key_id

    @classmethod
    def from_spec(cls, spec: str, active_key_id: str = "") -> "PseudonymKeyring":
        """Parse `id1=secret1,id2=secret2`; the active key defaults to the last one listed."""
        keys = parse_key_spec(spec)
        return cls(keys, active_key_id or (list(keys)[-1] if keys else ""))

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def __repr__(self) -> str:  # never show secrets
        return f"PseudonymKeyring(key_ids={self.key_ids}, active={self.active_key_id!r})"

    def pseudonym(self, value: str | None, key_id: str | None = None) -> str | None:
        """One value's pseudonym under `key_id` (default: the active key); None stays None."""
        if value is None:
            return None
        key_id = key_id or self.active_key_id
        return f"{key_id}:{self.digest(value, key_id)}"

    def digest(self, value: str, key_id: str | None = None) -> str:
        """Hex HMAC-SHA256 of `value` under `key_id` (default: the active key)."""
        key_id = key_id or self.active_key_id
        if key_id not in self._keys:
            raise KeyError(f"key {key_id!r} is not in the keyring {self.key_ids}")
        return hmac.new(self._keys[key_id], value.encode("utf-8"), hashlib.sha256).hexdigest()

    def pseudonymise_series(self, values: pl.Series, key_id: str | None = None) -> pl.Series:
        """Pseudonymise a string column. HMAC has no polars kernel: unique values are hashed once
        in Python, then mapped back with a join-like replace, so repeated values cost nothing."""
        unique = values.drop_nulls().unique()
        mapping = {v: self.pseudonym(v, key_id) for v in unique.to_list()}
        return values.replace_strict(mapping, default=None, return_dtype=pl.Utf8).alias(
            values.name
        )


def pseudonymise_columns(
    frame: pl.DataFrame, columns: list[str], keyring: PseudonymKeyring
) -> pl.DataFrame:
    """Replace each named column with its pseudonym under the active key."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"cannot pseudonymise missing columns {missing}")
    return frame.with_columns(
        keyring.pseudonymise_series(frame[c].cast(pl.Utf8)).alias(c) for c in columns
    )


def stale_pseudonyms(pseudonyms: pl.Series, keyring: PseudonymKeyring) -> pl.Series:
    """True where a pseudonym was made with a key other than the active one (needs re-deriving)."""
    return pseudonyms.str.split_exact(":", 1).struct.field("field_0") != keyring.active_key_id


ENTITY_PREFIX = "entity:"


def person_subjects(people: pl.DataFrame) -> pl.DataFrame:
    """entity_id -> `subject`, what a person's pseudonym is made of: their normalised email
    (`email_key`), so one mailbox has one pseudonym under a key whoever computes it (an erasure
    or access request knows the email, not our ids). A person with no address, or whose address
    is another person's primary too, is `entity:<entity_id>`: a pseudonym names one person."""
    keyed = people.select("entity_id", "email_key").unique("entity_id", keep="first")
    shared = pl.col("email_key").is_null() | (pl.len().over("email_key") > 1)
    return keyed.select("entity_id", subject=pl.when(shared).then(
        pl.concat_str(pl.lit(ENTITY_PREFIX), "entity_id")).otherwise("email_key"))


def pseudonyms_of(keyring: PseudonymKeyring, email_keys, entity_ids) -> set[str]:
    """Every pseudonym a person may be known by in analytics views, under every key: of each of
    their address keys, of `entity:<id>`, and of the bare entity id (views derived before
    pseudonyms were made of addresses)."""
    values = {*email_keys, *entity_ids, *(ENTITY_PREFIX + e for e in entity_ids)}
    return {keyring.pseudonym(v, k) for v in values for k in keyring.key_ids}


def with_subjects(frame: pl.DataFrame, subjects: pl.DataFrame) -> pl.DataFrame:
    """`frame` (with entity_id) plus each person's `subject` (`entity:<id>` when unknown)."""
    return frame.join(subjects, on="entity_id", how="left").with_columns(
        subject=pl.coalesce("subject", pl.concat_str(pl.lit(ENTITY_PREFIX), "entity_id")))


def pseudonymised_view(
    frame: pl.DataFrame, consented_ids: pl.Series, keyring: PseudonymKeyring,
    subjects: pl.DataFrame, drop_columns: tuple[str, ...] = (),
) -> pl.DataFrame:
    """An analytics view: only people who consented to analytics, their entity_id replaced by
    the pseudonym of their subject (`person_pseudonym`, see person_subjects), identifying
    columns dropped, the key id recorded."""
    consented = frame.filter(pl.col("entity_id").is_in(consented_ids.implode()))
    named = with_subjects(consented, subjects).with_columns(entity_id="subject").drop("subject")
    view = pseudonymise_columns(named, ["entity_id"], keyring).rename(
        {"entity_id": "person_pseudonym"})
    return view.drop([c for c in drop_columns if c in view.columns]).with_columns(
        pseudonym_key_id=pl.lit(keyring.active_key_id)
    )


def load_or_create_local_keyring(path: str | Path) -> PseudonymKeyring:
    """A development keyring kept in a local file (mode 0600), created with a random key.

    Production passes keys through the environment instead (`PseudonymKeyring.from_spec`).
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_keyfile(path, {"active": "k1", "keys": {"k1": secrets.token_hex(32)}})
        logger.info("created a local pseudonymisation keyring at %s", path)
    stored = json.loads(path.read_text())
    return PseudonymKeyring(stored["keys"], stored["active"])


def rotate_local_keyring(path: str | Path) -> str:
    """Add a fresh key to a local keyring and make it active; returns the new key id."""
    path = Path(path)
    stored = json.loads(path.read_text())
    new_id = f"k{len(stored['keys']) + 1}"
    while new_id in stored["keys"]:
        new_id += "x"
    stored["keys"][new_id] = secrets.token_hex(32)
    stored["active"] = new_id
    _write_keyfile(path, stored)
    return new_id


def _write_keyfile(path: Path, content: dict) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content))
    os.chmod(temporary, 0o600)
    temporary.replace(path)
