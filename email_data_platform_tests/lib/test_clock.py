from datetime import UTC, datetime

import pytest

from email_data_platform.lib import clock


def test_now_unless_pinned(monkeypatch):
    monkeypatch.delenv("EDP_AS_OF", raising=False)
    before = datetime.now(UTC)
    assert before <= clock.as_of() <= datetime.now(UTC)
    monkeypatch.setenv("EDP_AS_OF", "2026-11-01")
    assert clock.as_of() == datetime(2026, 11, 1, tzinfo=UTC)


def test_a_run_config_beats_the_environment_and_zones_become_utc(monkeypatch):
    monkeypatch.setenv("EDP_AS_OF", "2026-11-01")
    assert clock.as_of("2025-03-01T02:00:00+02:00") == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)


def test_a_bad_instant_names_the_setting_and_the_value(monkeypatch):
    monkeypatch.setenv("EDP_AS_OF", "last tuesday")
    with pytest.raises(ValueError, match="EDP_AS_OF='last tuesday' is not an ISO 8601 instant"):
        clock.as_of()
