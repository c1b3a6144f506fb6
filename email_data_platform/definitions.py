"""Assembles the project's Definitions from the defs/ folder, then applies the global policies:
definition-time table schemas, column lineage and code references (defs/catalog.py)."""

from pathlib import Path

import dagster as dg

from email_data_platform.defs.catalog import apply_catalog


@dg.definitions
def defs() -> dg.Definitions:
    return apply_catalog(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
