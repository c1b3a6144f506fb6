"""Invented word lists for the synthetic data generator (no real person's data).

Names are common given names and surnames, combined at random; addresses are real city names with
randomly generated postcodes in the country's format; phone numbers are random digits after a
plausible area or mobile prefix. Lists are ordered most common first: the generator draws them with
Zipf-like weights so namesakes ("James Smith") occur as they do in a real CRM.
"""

from dataclasses import dataclass


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ENGLISH_FIRST = words(
    "James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel "
    "Matthew Anthony Mark Steven Andrew Paul Joshua Kenneth Mary Patricia Jennifer Linda "
    "Elizabeth Barbara Susan Jessica Sarah Karen Margaret Emily Katherine Rebecca Laura Emma "
    "Olivia Sophie Charlotte Hannah Jonathan Samuel Benjamin Alexander Edward Victoria Nicholas"
)
ENGLISH_LAST = words(
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
    "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson "
    "Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen "
    "Murphy Kelly O'Brien Byrne Ryan O'Sullivan Walsh McCarthy Miller Davis Garcia Rodriguez"
)
GERMAN_FIRST = words(
    "Thomas Michael Andreas Stefan Peter Christian Alexander Markus Johannes Wolfgang Sabine "
    "Katharina Claudia Susanne Petra Andrea Julia Anna Lena Jürgen Uwe Matthias Franziska"
)
GERMAN_LAST = words(
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
    "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann"
)
FRENCH_FIRST = words(
    "Jean Pierre Michel Philippe Alain Nicolas François Julien Sébastien Antoine Marie Nathalie "
    "Isabelle Sylvie Catherine Camille Élodie Céline Amélie Chloé Léa Manon Hélène"
)
FRENCH_LAST = words(
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre "
    "Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefèvre"
)
DUTCH_FIRST = words(
    "Jan Johannes Pieter Hendrik Cornelis Willem Daan Sem Lucas Bram Maria Anna Johanna Sanne "
    "Lotte Emma Femke Anouk Eva Fleur Ingrid Joost Ruben"
)
# Underscores keep multi-word surnames ("van den Berg") together through split().
DUTCH_LAST = tuple(name.replace("_", " ") for name in words(
    "de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Janssen Visser Smit Meijer de_Boer "
    "Mulder de_Groot Bos Vos Peters Hendriks van_Leeuwen Dekker Brouwer"
))
SPANISH_FIRST = words(
    "Antonio José Manuel Francisco David Juan Javier Daniel Carlos Jesús Alejandro María Carmen "
    "Ana Isabel Laura Lucía Cristina Marta Elena Pilar Sofía Pablo"
)
SPANISH_LAST = words(
    "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz "
    "Hernández Díaz Moreno Álvarez Muñoz Romero Alonso Gutiérrez Navarro Torres Domínguez"
)

NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Katherine": "Kate",
    "Michael": "Mike", "James": "Jim", "Richard": "Rick", "Joseph": "Joe", "Thomas": "Tom",
    "Charles": "Charlie", "Christopher": "Chris", "Daniel": "Dan", "Matthew": "Matt",
    "Anthony": "Tony", "Steven": "Steve", "Andrew": "Andy", "Joshua": "Josh", "Kenneth": "Ken",
    "Margaret": "Maggie", "Jennifer": "Jen", "Patricia": "Pat", "Rebecca": "Becky",
    "Jonathan": "Jon", "Samuel": "Sam", "Benjamin": "Ben", "Alexander": "Alex",
    "Edward": "Ed", "Victoria": "Vicky", "Nicholas": "Nick", "Susan": "Sue", "Barbara": "Barb",
    "Johannes": "Hans", "Katharina": "Kathi", "Franziska": "Franzi", "Francisco": "Paco",
    "Manuel": "Manolo", "Cornelis": "Kees", "Hendrik": "Henk", "Willem": "Wim",
    "Nathalie": "Nath", "Alejandro": "Álex",
}

# Characters that give ASCII email local parts from accented names.
ASCII_FOLD = str.maketrans({
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ê": "e", "ç": "c",
    "á": "a", "í": "i", "ó": "o", "ú": "u", "ñ": "n", "ï": "i", "É": "e", "Á": "a", "'": "",
    "_": "", " ": "",
})


@dataclass(frozen=True)
class CountryProfile:
    """What makes an address, phone and email look like they belong to one country."""

    code: str
    weight: float
    spellings: tuple[str, ...]  # first is the ISO code; the rest are how CRMs spell it
    calling_code: str
    phone_prefixes: tuple[tuple[str, int], ...]  # (national prefix, national number length)
    cities: tuple[tuple[str, str], ...]  # (city, postcode prefix)
    postcode_template: str  # {p} = city prefix, 9 = digit, A = letter
    currency: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    email_domains: tuple[str, ...]
    company_suffix: str


GENERIC_DOMAINS = ("gmail.com",) * 4 + ("yahoo.com", "hotmail.com", "outlook.com", "icloud.com")

COUNTRIES = (
    CountryProfile(
        "GB", 0.34, ("GB", "United Kingdom", "UK", "gb", "Great Britain", "England"), "44",
        (("207", 10), ("208", 10), ("203", 10), ("1614", 10), ("1214", 10), ("1315", 10),
         ("7812", 10), ("7723", 10), ("7400", 10), ("7984", 10)),
        (("London", "SW"), ("London", "E"), ("Manchester", "M"), ("Birmingham", "B"),
         ("Leeds", "LS"), ("Edinburgh", "EH"), ("Bristol", "BS"), ("Glasgow", "G")),
        "{p}9 9AA", "GBP", tuple(ENGLISH_FIRST), tuple(ENGLISH_LAST),
        GENERIC_DOMAINS + ("btinternet.com", "yahoo.co.uk", "hotmail.co.uk", "sky.com"), "Ltd"),
    CountryProfile(
        "US", 0.25, ("US", "United States", "USA", "us", "U.S.A.", "United States of America"),
        "1",
        (("2125", 10), ("4157", 10), ("3122", 10), ("6174", 10), ("2063", 10), ("5128", 10),
         ("3036", 10)),
        (("New York", "100"), ("San Francisco", "941"), ("Chicago", "606"), ("Boston", "021"),
         ("Seattle", "981"), ("Austin", "787"), ("Denver", "802")),
        "{p}99", "USD", tuple(ENGLISH_FIRST), tuple(ENGLISH_LAST),
        GENERIC_DOMAINS + ("aol.com", "comcast.net"), "Inc"),
    CountryProfile(
        "DE", 0.11, ("DE", "Germany", "Deutschland", "de"), "49",
        (("30", 10), ("89", 10), ("40", 10), ("151", 11), ("170", 11)),
        (("Berlin", "10"), ("München", "80"), ("Hamburg", "20"), ("Köln", "50"),
         ("Frankfurt am Main", "60")),
        "{p}999", "EUR", tuple(GERMAN_FIRST), tuple(GERMAN_LAST),
        GENERIC_DOMAINS + ("web.de", "gmx.de", "t-online.de"), "GmbH"),
    CountryProfile(
        "FR", 0.10, ("FR", "France", "fr", "FRA"), "33",
        (("14", 9), ("47", 9), ("49", 9), ("61", 9), ("62", 9), ("65", 9)),
        (("Paris", "750"), ("Lyon", "690"), ("Marseille", "130"), ("Toulouse", "310"),
         ("Bordeaux", "330"), ("Lille", "590")),
        "{p}99", "EUR", tuple(FRENCH_FIRST), tuple(FRENCH_LAST),
        GENERIC_DOMAINS + ("orange.fr", "free.fr", "laposte.net"), "SARL"),
    CountryProfile(
        "IE", 0.06, ("IE", "Ireland", "Republic of Ireland", "ie", "Éire"), "353",
        (("1", 8), ("21", 9), ("87", 9), ("85", 9), ("86", 9)),
        (("Dublin", "D02"), ("Dublin", "D04"), ("Cork", "T12"), ("Galway", "H91"),
         ("Limerick", "V94")),
        "{p} A999", "EUR", tuple(ENGLISH_FIRST), tuple(ENGLISH_LAST),
        GENERIC_DOMAINS + ("eircom.net",), "Ltd"),
    CountryProfile(
        "NL", 0.08, ("NL", "Netherlands", "The Netherlands", "Holland", "nl"), "31",
        (("20", 9), ("10", 9), ("30", 9), ("61", 9), ("62", 9), ("64", 9)),
        (("Amsterdam", "10"), ("Rotterdam", "30"), ("Utrecht", "35"), ("Den Haag", "25"),
         ("Eindhoven", "56")),
        "{p}99 AA", "EUR", tuple(DUTCH_FIRST), tuple(DUTCH_LAST),
        GENERIC_DOMAINS + ("ziggo.nl", "kpnmail.nl"), "BV"),
    CountryProfile(
        "ES", 0.06, ("ES", "Spain", "España", "es"), "34",
        (("91", 9), ("93", 9), ("96", 9), ("61", 9), ("65", 9), ("69", 9)),
        (("Madrid", "28"), ("Barcelona", "08"), ("Valencia", "46"), ("Sevilla", "41"),
         ("Bilbao", "48")),
        "{p}999", "EUR", tuple(SPANISH_FIRST), tuple(SPANISH_LAST),
        GENERIC_DOMAINS + ("telefonica.net", "yahoo.es"), "SL"),
)

COMPANY_WORDS_A = words(
    "Northwind Bluebird Silverline Oakridge Brightwater Ironbridge Greenfield Redstone Clearview "
    "Harbour Summit Meadow Falcon Granite Willow Copper Lantern Beacon Maple Riverside"
)
COMPANY_WORDS_B = words(
    "Trading Logistics Digital Foods Consulting Textiles Partners Labs Analytics Media Studio "
    "Systems Supplies Ventures Holdings"
)

EMAIL_TAGS = ("news", "shop", "promo", "2024", "crm", "deals")

PLACEHOLDER_EMAILS = ("test@test.com", "noreply@example.com", "none@none.com", "n/a", "info@")
PLACEHOLDER_PHONES = ("0000000000", "1234567890", "+10000000000", "n/a")
INVALID_EMAILS = ("john.smith@", "no-at-sign", "a@@b.com", "user@domain", "@example.com")
INVALID_DATES = ("2091-05-01", "1850-01-01", "1899-12-31", "31/31/1999", "not a date",
                 "0000-00-00", "2099-13-45")
HOSTILE_VALUES = (
    "Ro\x00bert", "Ann\x07e\x1b[31m", "\u202eevil\u202c", "Zoë 😀🎉", "x" * 5000,
    "<script>alert(1)</script>", "'; DROP TABLE x;--", "Robert'); DELETE FROM contacts;--",
    "\ufeffBOM", "Tab\tand\nnewline",
)
MONTH_NAMES = words(
    "January February March April May June July August September October November December"
)
