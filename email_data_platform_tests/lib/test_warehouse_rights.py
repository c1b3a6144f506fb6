"""Erasure on Snowflake (fakesnow's server) and BigQuery (the emulator): the rights warehouse of
the privacy tests, one person erased, every trace of her gone and everyone else kept.

The end-to-end graph runs with no erasure request, so this is where erasure's SQL (catalogue,
matching, deletes, tombstones) meets the cloud warehouses.
"""

import json

import pytest

from email_data_platform.lib.privacy.erasure import process_erasures, request_erasure
from email_data_platform.lib.privacy.tombstones import remaining_rows
from email_data_platform.lib.warehouse import open_warehouse
from email_data_platform_tests.lib.privacy.rights_data import (
    SUBJECT_EMAIL,
    cipher,
    keyring,
    seed_rights_warehouse,
)
from email_data_platform_tests.warehouse_servers import (
    bigquery_emulator_settings,
    fakesnow_settings,
)

pytestmark = pytest.mark.slow
SUBJECT_MARKERS = ["ann@example.com", "ann+news", '"h:1"', '"h:2"', '"e1"', '"ann"', '"lee"']


@pytest.fixture(params=["snowflake", "bigquery"])
def wh(request):
    servers = fakesnow_settings() if request.param == "snowflake" else bigquery_emulator_settings()
    with servers as settings:
        warehouse = open_warehouse(request.param, snowflake=settings, bigquery=settings)
        seed_rights_warehouse(warehouse, keyring())
        yield warehouse
        warehouse.close()


def all_text(wh) -> str:
    return "\n".join(json.dumps(wh.read(table).to_dicts(), default=str)
                     for table in wh.table_columns()).lower()


def test_erasure_removes_every_trace_and_keeps_everyone_else(wh):
    before = all_text(wh)
    request_erasure(wh, cipher(), keyring(), email=SUBJECT_EMAIL)
    (outcome,) = process_erasures(wh, keyring(), cipher(), [], run_id="run-1")
    after = all_text(wh)
    for marker in SUBJECT_MARKERS:
        assert marker in before and marker not in after, marker
    for other in ["bob@example.com", '"h:3"', "gus@example.com", "cy@example.com", "flo"]:
        assert other in after, other
    assert outcome.rows_per_table["sources.crm_contacts"] == 2
    assert remaining_rows(wh, keyring()) == {}
