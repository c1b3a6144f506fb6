"""`edp connections check` against the vendor simulators: one line per connection, each failure
named by what failed (credentials, audience), never showing a credential."""

import pytest

from email_data_platform.cli import main
from email_data_platform.cli.connections import check_connections
from email_data_platform.cli.sandbox_process import sandbox_env
from email_data_platform.sandbox.server import running_sandbox
from email_data_platform_tests.sandbox.sandbox_helpers import write_small_dataset


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    data = write_small_dataset(tmp_path_factory.mktemp("connections_data"), contacts=50)
    with running_sandbox(data, data / "journal.jsonl") as info:
        yield info


@pytest.fixture
def vendor_env(sandbox, monkeypatch):
    env = sandbox_env(sandbox)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EDP_ENV", raising=False)
    return env


def test_every_configured_connection_passes(vendor_env, capsys):
    assert main(["connections", "check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["hubspot", "mailchimp", "salesforce",
                                                   "sendgrid", "consent_feed"]
    assert all(line.split()[1] == "ok" for line in lines), lines


def test_a_refused_token_is_named_without_showing_it(vendor_env, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-wrong-token-123")
    (result,) = check_connections(["hubspot"])
    assert not result.ok and "credentials refused" in result.detail and "401" in result.detail
    assert "pat-wrong-token-123" not in result.line()


def test_a_missing_audience_is_reported(vendor_env, monkeypatch):
    monkeypatch.setenv("MAILCHIMP_LIST_ID", "no-such-list")
    (result,) = check_connections(["mailchimp"])
    assert not result.ok and "no-such-list" in result.detail


def test_an_unset_variable_is_named(vendor_env, monkeypatch):
    monkeypatch.delenv("SENDGRID_API_KEY")
    (result,) = check_connections(["sendgrid"])
    assert not result.ok and "SENDGRID_API_KEY" in result.detail
