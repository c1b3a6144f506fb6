"""Country names and codes to ISO 3166-1 alpha-2.

The name table is built from the locale data shipped inside `phonenumbers` (already a
dependency; ~250 regions with names in many languages), plus the aliases CRMs actually contain
("uk", "usa", "england", common alpha-3 codes). Lookup is a vectorised dictionary replace on a
folded key (lowercase, no dots, no accents, single spaces).
"""

import functools
import unicodedata

import phonenumbers
import polars as pl

_NAME_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "sv", "da", "pl")

# Codes people write that are not the alpha-2 code, or names the locale data lacks.
COUNTRY_ALIASES = {
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "gbr": "GB",
    "united kingdom of great britain and northern ireland": "GB",
    "usa": "US",
    "us": "US",
    "u s": "US",
    "u s a": "US",
    "america": "US",
    "united states of america": "US",
    "the united states": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "deutschland": "DE",
    "eire": "IE",
    "republic of ireland": "IE",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
    "czech republic": "CZ",
    "uae": "AE",
    "ivory coast": "CI",
    "irl": "IE",
    "deu": "DE",
    "fra": "FR",
    "esp": "ES",
    "ita": "IT",
    "nld": "NL",
    "bel": "BE",
    "che": "CH",
    "aut": "AT",
    "swe": "SE",
    "nor": "NO",
    "dnk": "DK",
    "fin": "FI",
    "prt": "PT",
    "pol": "PL",
    "can": "CA",
    "aus": "AU",
    "nzl": "NZ",
    "ind": "IN",
    "jpn": "JP",
    "chn": "CN",
    "bra": "BR",
    "mex": "MX",
    "zaf": "ZA",
    "sgp": "SG",
    "are": "AE",
}


def fold_country_key(value: str) -> str:
    """The lookup key for a country string: accents, case, dots and extra spaces removed."""
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    for separator in ".-'’":
        ascii_only = ascii_only.replace(separator, " ")
    return " ".join(ascii_only.lower().split())


def _display_name(locale_data: dict, code: str, language: str) -> str:
    name = locale_data[code].get(language, "")
    if name.startswith("*"):  # the locale data points to another language's entry
        name = locale_data[code].get(name[1:], "")
    return name


@functools.cache
def country_lookup() -> dict[str, str]:
    """Folded country string -> ISO alpha-2, built once per process."""
    # The locale names take ~2-4 s to import: load them when cleaning runs, not when the
    # Definitions (UI, sensors, `dg check`) import this module.
    from phonenumbers.geodata.locale import LOCALE_DATA

    codes = sorted(ISO_ALPHA2_CODES)
    lookup: dict[str, str] = {}
    for language in reversed(_NAME_LANGUAGES):  # English names win on a clash
        for code in codes:
            name = _display_name(LOCALE_DATA, code, language)
            if name:
                lookup[fold_country_key(name)] = code
    lookup.update({code.lower(): code for code in codes})
    lookup.update(COUNTRY_ALIASES)
    return lookup


# phonenumbers' regions are ISO 3166-1 alpha-2 codes, plus three that are not (AC and TA are
# reserved, XK is user-assigned) and minus eight territories without phone numbering plans.
ISO_ALPHA2_CODES = frozenset(
    (set(phonenumbers.SUPPORTED_REGIONS) - {"AC", "TA", "XK"})
    | {"AN", "AQ", "BV", "GS", "HM", "PN", "TF", "UM"}
)


def to_iso_alpha2(values: pl.Series) -> pl.Series:
    """ISO alpha-2 codes for tidy country strings; null where the country is unknown."""
    distinct = values.unique().drop_nulls()
    mapping = {v: country_lookup().get(fold_country_key(v)) for v in distinct.to_list()}
    return values.replace_strict(mapping, default=None, return_dtype=pl.Utf8)
