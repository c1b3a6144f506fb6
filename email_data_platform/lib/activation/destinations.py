"""Destinations declared as data (destinations.yaml): which ESP audiences receive whom, and how.

Each destination names its vendor (mailchimp | sendgrid), the segments it receives (`all`, or a
list: only members of those segments are pushed; an empty list pushes the whole marketable
audience without segment tags), the field mapping (our payload field -> the vendor's field:
Mailchimp merge tags, SendGrid reserved or custom fields), whether segments become tags
(Mailchimp member tags; SendGrid has none and carries them in a field), the SendGrid list
everyone is put on, and what happens to people who leave (`on_leave`).

Validation names the destination and the rule, and runs when the code location loads.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_DESTINATIONS_PATH = Path(__file__).resolve().parents[2] / "destinations.yaml"
VENDORS = ("mailchimp", "sendgrid")
# What the payload can carry; anything else never leaves the warehouse (data minimisation).
PERSONAL_FIELDS = ("first_name", "last_name", "lifetime_value", "average_order_value",
                   "preferred_category")
SOURCE_FIELDS = (*PERSONAL_FIELDS, "segments")
ON_LEAVE = {"mailchimp": ("archive", "unsubscribe"), "sendgrid": ("remove_from_list", "delete")}
SENDGRID_RESERVED = ("first_name", "last_name")
_MERGE_TAG = re.compile(r"^[A-Z][A-Z0-9_]{0,9}$")
_CUSTOM_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = {"vendor", "segments", "fields", "tags", "list", "on_leave", "active"}


class DestinationDefinitionError(ValueError):
    """destinations.yaml breaks a rule; the message names the destination and the rule."""


@dataclass(frozen=True)
class Destination:
    name: str
    vendor: str
    segments: tuple[str, ...] | None  # None = all segments
    fields: dict[str, str] = field(default_factory=dict)  # our field -> vendor field
    tags: bool = True
    list_name: str = ""
    on_leave: str = "archive"

    def receives(self, segment: str) -> bool:
        return self.segments is None or segment in self.segments


def load_destinations(path: str | Path = DEFAULT_DESTINATIONS_PATH,
                      known_segments: set[str] | None = None) -> list[Destination]:
    """Read and validate the destinations file; only `active` destinations are returned."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        raise DestinationDefinitionError(f"{path}: not valid YAML: {error}") from error
    return parse_destinations(document, known_segments)


def parse_destinations(document: Any, known_segments: set[str] | None = None) -> list[Destination]:
    if not isinstance(document, dict) or not isinstance(document.get("destinations"), dict):
        raise DestinationDefinitionError("destinations file needs a 'destinations' mapping")
    parsed = [_parse(name, body, known_segments)
              for name, body in document["destinations"].items()]
    active = [d for d, on in parsed if on]
    if not active:
        raise DestinationDefinitionError("destinations file declares no active destination")
    return active


def _parse(name: Any, body: Any, known_segments: set[str] | None) -> tuple[Destination, bool]:
    where = f"destination {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise DestinationDefinitionError(f"{where}: name must be lower snake case")
    if not isinstance(body, dict) or set(body) - _KEYS:
        raise DestinationDefinitionError(
            f"{where}: must be a mapping with keys among {sorted(_KEYS)}")
    vendor = body.get("vendor")
    if vendor not in VENDORS:
        raise DestinationDefinitionError(f"{where}: vendor must be one of {list(VENDORS)}")
    segments = _segments(where, body.get("segments", "all"), known_segments)
    fields = _fields(where, vendor, body.get("fields") or {})
    on_leave = body.get("on_leave", ON_LEAVE[vendor][0])
    if on_leave not in ON_LEAVE[vendor]:
        raise DestinationDefinitionError(
            f"{where}: on_leave must be one of {list(ON_LEAVE[vendor])} for {vendor}")
    list_name = str(body.get("list") or "")
    if vendor == "sendgrid" and not list_name:
        raise DestinationDefinitionError(f"{where}: a SendGrid destination needs a 'list' name")
    tags = body.get("tags", vendor == "mailchimp")
    if not isinstance(tags, bool) or (tags and vendor != "mailchimp"):
        raise DestinationDefinitionError(f"{where}: tags is true/false, and only Mailchimp "
                                         "has member tags (map 'segments' to a field instead)")
    return (Destination(name, vendor, segments, fields, tags, list_name, on_leave),
            bool(body.get("active", True)))


def _segments(where: str, value: Any, known: set[str] | None) -> tuple[str, ...] | None:
    if value == "all":
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise DestinationDefinitionError(f"{where}: segments must be 'all' or a list of names")
    unknown = sorted(set(value) - known) if known is not None else []
    if unknown:
        raise DestinationDefinitionError(f"{where}: unknown segments {unknown}; declared are "
                                         f"{sorted(known or [])}")
    return tuple(value)


def _fields(where: str, vendor: str, mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        raise DestinationDefinitionError(f"{where}: fields must map our fields to the vendor's")
    for ours, theirs in mapping.items():
        if ours not in SOURCE_FIELDS:
            raise DestinationDefinitionError(
                f"{where}, fields.{ours}: not a payload field; allowed are {list(SOURCE_FIELDS)}")
        pattern = _MERGE_TAG if vendor == "mailchimp" else _CUSTOM_FIELD
        if not isinstance(theirs, str) or not pattern.match(theirs):
            raise DestinationDefinitionError(
                f"{where}, fields.{ours}: {theirs!r} is not a valid {vendor} field name")
    if len(set(mapping.values())) != len(mapping):
        raise DestinationDefinitionError(f"{where}: two fields map to the same vendor field")
    return dict(mapping)
