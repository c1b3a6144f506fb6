from email_data_platform.lib.observability.stage import raise_alert, read_alerts


def test_alerts_append_json_lines(tmp_path):
    sink = tmp_path / "alerts.jsonl"
    raise_alert(sink, "row_count_anomaly", "fell 80%", {"asset": "x"})
    raise_alert(sink, "run_failure", "job failed")
    alerts = read_alerts(sink)
    assert [a["kind"] for a in alerts] == ["row_count_anomaly", "run_failure"]
    assert alerts[0]["details"] == {"asset": "x"}


def test_unreachable_webhook_does_not_lose_the_alert(tmp_path):
    sink = tmp_path / "alerts.jsonl"
    raise_alert(sink, "k", "m", webhook_url="http://127.0.0.1:9/hook")
    assert len(read_alerts(sink)) == 1
