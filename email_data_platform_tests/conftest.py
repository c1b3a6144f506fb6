"""Suite-wide settings shared by every test module."""

import pytest

# Fast tests get pyproject's `timeout` (pytest-timeout). Slow and Spark ones run whole graphs,
# browsers and 200k-row data sets, several minutes each on a busy 2-core machine.
SLOW_TEST_TIMEOUT_S = 1200


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        slow = item.get_closest_marker("slow") or item.get_closest_marker("spark")
        if slow and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT_S))
