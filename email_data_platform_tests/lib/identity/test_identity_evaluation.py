import polars as pl
import pytest

from email_data_platform.lib.identity.evaluation import evaluate


def test_perfect_resolution_scores_one_everywhere():
    entities = pl.DataFrame({"record_id": ["h:1", "h:2", "h:3"], "entity_id": ["A", "A", "B"]})
    truth = pl.DataFrame({"record_id": ["h:1", "h:2", "h:3"], "entity_id": ["t1", "t1", "t2"]})
    metrics = evaluate(entities, truth)
    assert metrics["pairwise_f1"] == 1.0 and metrics["cluster_f1"] == 1.0


def test_an_over_merge_costs_pairwise_precision_and_cluster_scores():
    # truth: {1,2} {3} {4}; predicted: {1,2,3} {4}
    entities = pl.DataFrame({"record_id": ["h:1", "h:2", "h:3", "h:4"],
                             "entity_id": ["A", "A", "A", "B"]})
    truth = pl.DataFrame({"id": ["1", "2", "3", "4"], "entity_id": ["t1", "t1", "t2", "t3"]})
    metrics = evaluate(entities, truth)
    assert metrics["pairwise_precision"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["pairwise_recall"] == 1.0
    assert metrics["cluster_precision"] == 0.5  # {4} right, {1,2,3} wrong
    assert metrics["cluster_recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert metrics["records_evaluated"] == 4

