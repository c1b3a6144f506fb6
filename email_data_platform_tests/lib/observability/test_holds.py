import pytest

from email_data_platform.lib.observability.stage import (
    Hold,
    SyncHeldError,
    acknowledge_hold,
    all_holds,
    open_hold,
    open_holds,
    refuse_sync_while_held,
)
from email_data_platform.lib.warehouse import DuckDBWarehouse


@pytest.fixture
def wh(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "wh.duckdb")
    yield warehouse
    warehouse.close()


def test_no_hold_lets_the_sync_pass(wh):
    refuse_sync_while_held(wh)
    assert open_holds(wh).height == 0


def test_an_open_hold_refuses_the_sync_and_names_itself(wh):
    hold_id = open_hold(wh, Hold("row_count_drop", "sources/crm_contacts", "fell 40%"))
    with pytest.raises(SyncHeldError) as refused:
        refuse_sync_while_held(wh)
    assert hold_id in str(refused.value)
    assert "row_count_drop on sources/crm_contacts: fell 40%" in str(refused.value)
    assert "edp alerts ack" in str(refused.value)


def test_acknowledging_every_hold_releases_the_sync_and_keeps_the_record(wh):
    first = open_hold(wh, Hold("row_count_drop", "sources/crm_contacts", "fell 40%"))
    second = open_hold(wh, Hold("esp_error_rate", "activation/esp_sync", "12% failed"))
    acknowledge_hold(wh, first, by="ana", reason="CRM export was partial, re-pulled")
    with pytest.raises(SyncHeldError):
        refuse_sync_while_held(wh)
    released = acknowledge_hold(wh, second, by="ben", reason="ESP outage over")
    refuse_sync_while_held(wh)
    assert released["acknowledged_by"] == "ben"
    history = all_holds(wh)
    assert history.height == 2
    assert history["ack_reason"].to_list() == ["CRM export was partial, re-pulled",
                                               "ESP outage over"]


def test_acknowledging_needs_a_known_open_hold_a_name_and_a_reason(wh):
    hold_id = open_hold(wh, Hold("freshness", "sources/crm_contacts", "overdue"))
    with pytest.raises(LookupError, match="no hold with id 'nope'"):
        acknowledge_hold(wh, "nope", by="ana", reason="x")
    with pytest.raises(ValueError, match="--reason"):
        acknowledge_hold(wh, hold_id, by="ana", reason=" ")
    acknowledge_hold(wh, hold_id, by="ana", reason="fine")
    with pytest.raises(ValueError, match="already acknowledged"):
        acknowledge_hold(wh, hold_id, by="ana", reason="again")
