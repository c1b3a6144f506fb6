"""The consent taxonomy (taxonomy.yaml): purposes, topics, channels and status words.

Read once per process; the file ships inside the package so every stage agrees on it.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

TAXONOMY_PATH = Path(__file__).with_name("taxonomy.yaml")
ALL_PURPOSES = "all"  # a withdrawal whose purpose is unknown withdraws every purpose
UNKNOWN_CHANNEL = "unknown"


@dataclass(frozen=True)
class Taxonomy:
    purposes: dict[str, dict]
    topics: tuple[str, ...]
    channels: tuple[str, ...]
    grant_words: tuple[str, ...]
    withdraw_words: tuple[str, ...]
    subscription_types: dict[str, str | None]  # CRM subscription name (lower case) -> subject

    @property
    def purpose_names(self) -> tuple[str, ...]:
        return tuple(self.purposes)

    @property
    def decision_subjects(self) -> tuple[str, ...]:
        """What a consent event may decide: a purpose or a preference-centre topic."""
        return self.purpose_names + self.topics

    def legal_basis(self, purpose: str) -> str:
        return self.purposes.get(purpose, {}).get("legal_basis", "consent")


@cache
def load_taxonomy(path: Path = TAXONOMY_PATH) -> Taxonomy:
    raw = yaml.safe_load(path.read_text())
    words = {k: tuple(str(w).lower() for w in raw[k]) for k in ("grant_words", "withdraw_words")}
    overlap = set(words["grant_words"]) & set(words["withdraw_words"])
    if overlap:
        raise ValueError(f"{path}: status words both grant and withdraw: {sorted(overlap)}")
    types = {str(k).strip().lower(): v for k, v in (raw.get("subscription_types") or {}).items()}
    topics = tuple(raw["topics"])
    unknown = sorted({v for v in types.values() if v is not None} - {*raw["purposes"], *topics})
    if unknown:
        raise ValueError(f"{path}: subscription_types map to no purpose or topic: {unknown}")
    return Taxonomy(purposes=dict(raw["purposes"]), topics=topics,
                    channels=tuple(raw["channels"]), subscription_types=types, **words)
