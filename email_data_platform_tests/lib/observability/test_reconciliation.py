import polars as pl

from email_data_platform.lib.observability.stage import (
    key_checksum,
    raw_vs_clean,
    reconcile_counts,
    reconcile_keys,
    to_frame,
)


def test_checksum_ignores_order_but_not_content():
    keys = pl.Series(["a", "b", "c"])
    assert key_checksum(keys) == key_checksum(pl.Series(["c", "a", "b"]))
    assert key_checksum(keys) != key_checksum(pl.Series(["a", "b", "d"]))
    assert key_checksum(keys) != key_checksum(pl.Series(["a", "b"]))


def test_reconcile_keys_names_what_is_missing_and_extra():
    row = reconcile_keys("x", "left", pl.Series(["a", "b", "c"]), "right", pl.Series(["a", "z"]))
    assert not row.ok
    assert row.detail == "2 missing from right, 1 unexpected"
    assert reconcile_keys("x", "l", pl.Series(["a"]), "r", pl.Series(["a"])).ok


def test_reconcile_counts():
    assert reconcile_counts("c", "hubspot", 10, "warehouse", 10).ok
    row = reconcile_counts("c", "hubspot", 10, "warehouse", 7)
    assert not row.ok and row.detail == "differ by -3"


def test_raw_equals_clean_plus_quarantine():
    raw = pl.DataFrame({"record_id": ["h:1", "h:2", "h:3"]})
    clean = pl.DataFrame({"record_id": ["h:1", "h:3"]})
    quarantine = pl.DataFrame({"table_name": ["crm_contacts", "crm_orders"],
                               "record_key": ["h:2", "h:9"]})
    assert raw_vs_clean(raw, clean, quarantine, "crm_contacts").ok
    lost = raw_vs_clean(raw, clean.head(1), quarantine, "crm_contacts")
    assert not lost.ok and "1 missing" in lost.detail


def test_to_frame_has_one_row_per_check():
    frame = to_frame([reconcile_counts("a", "l", 1, "r", 1), reconcile_counts("b", "l", 1, "r", 2)])
    assert frame["check"].to_list() == ["a", "b"]
    assert frame["ok"].to_list() == [True, False]



def _state(**statuses):
    return pl.DataFrame({"subscriber_hash": list(statuses), "status": list(statuses.values())})


def _never_listed():
    raise AssertionError("counts agree: the ESP's members must not be listed")


def test_equal_counts_skip_the_member_listing():
    from email_data_platform.lib.observability.stage import synced_state_vs_esp

    result = synced_state_vs_esp(_state(a="active", b="active", c="archived"), 2, _never_listed)
    assert result.row.ok and not result.listed and result.missing_at_esp == []
    assert result.row.detail == "counts match (members not listed)"


def test_a_count_gap_lists_members_and_names_only_the_absent_ones_for_repair():
    from email_data_platform.lib.observability.stage import synced_state_vs_esp

    esp = [{"id": "a", "status": "subscribed"}, {"id": "c", "status": "unsubscribed"},
           {"id": "x", "status": "subscribed"}]
    result = synced_state_vs_esp(_state(a="active", b="active", c="active"), 2, lambda: esp)
    assert result.listed and not result.row.ok
    assert result.missing_at_esp == ["b"]  # c unsubscribed at the ESP: never re-pushed
    assert "1 re-pushed, 1 unsubscribed or cleaned" in result.row.detail


def test_always_list_proves_the_checksum_even_when_counts_agree():
    from email_data_platform.lib.observability.stage import synced_state_vs_esp

    esp = [{"id": "a", "status": "subscribed"}, {"id": "x", "status": "subscribed"}]
    result = synced_state_vs_esp(_state(a="active", b="active"), 2, lambda: esp,
                                 always_list=True)
    assert not result.row.ok and result.missing_at_esp == ["b"]
