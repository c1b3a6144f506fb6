"""Money: decimal amounts with an ISO 4217 currency.

Amounts stay decimal (never float) so totals reconcile to the penny. A string is accepted only
when it is unambiguous: digits with at most two decimals, an optional minus sign, optional
thousands commas ("1,234.50"). "12,50" (decimal comma) and "1e5" are rejected, not guessed.
"""

import polars as pl

AMOUNT_DTYPE = pl.Decimal(18, 2)
AMOUNT_PATTERN = r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?$"

# Active ISO 4217 codes (2024 list; funds, metals and testing codes such as XXX excluded).
_ISO_4217_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
ISO_4217_CURRENCIES = frozenset(_ISO_4217_CODES.split())


def parse_amount(column: str | pl.Expr) -> pl.Expr:
    """Decimal(18,2) from a tidy amount string; null when the string is not a plain amount."""
    text = pl.col(column) if isinstance(column, str) else column
    plain = text.str.replace_all(",", "", literal=True)
    return pl.when(text.str.contains(AMOUNT_PATTERN)).then(plain.cast(AMOUNT_DTYPE, strict=False))


def normalise_currency(column: str | pl.Expr) -> pl.Expr:
    """Upper-cased currency code; null unless it is an active ISO 4217 code."""
    text = pl.col(column) if isinstance(column, str) else column
    code = text.str.to_uppercase()
    return pl.when(code.is_in(sorted(ISO_4217_CURRENCIES))).then(code)
