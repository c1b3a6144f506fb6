from datetime import UTC, datetime

import polars as pl

from email_data_platform.lib.audiences.history import members_at, update_membership_history

DAY1, DAY2, DAY3 = (datetime(2026, 3, d, tzinfo=UTC) for d in (1, 2, 3))


def memberships(*pairs):
    return pl.DataFrame(list(pairs), schema={"entity_id": pl.Utf8, "segment": pl.Utf8},
                        orient="row")


def test_stays_open_close_and_reopen_across_runs():
    history = update_membership_history(None, memberships(("e1", "lapsed"), ("e2", "vip")), DAY1)
    history = update_membership_history(history, memberships(("e2", "vip")), DAY2)
    history = update_membership_history(history, memberships(("e1", "lapsed"), ("e2", "vip")),
                                        DAY3)
    e1 = history.filter(pl.col("entity_id") == "e1").select("entered_at", "left_at").rows()
    assert e1 == [(DAY1, DAY2), (DAY3, None)]
    assert history.filter(pl.col("entity_id") == "e2").rows() == [("e2", "vip", DAY1, None)]
    assert members_at(history, "lapsed", datetime(2026, 3, 2, 12, tzinfo=UTC)).height == 0
    assert members_at(history, "lapsed", DAY1)["entity_id"].to_list() == ["e1"]


def test_an_unchanged_run_changes_nothing():
    first = update_membership_history(None, memberships(("e1", "vip")), DAY1)
    assert update_membership_history(first, memberships(("e1", "vip")), DAY2).equals(first)
