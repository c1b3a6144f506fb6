"""Clusters from scored pairs: connected components at a threshold, full or incremental.

Components are computed in polars by min-label propagation with pointer jumping over integer
node ids, so the result does not depend on the order of the input rows: a cluster is named
after its smallest record_id.
"""

import logging

import polars as pl

logger = logging.getLogger(__name__)

MAX_ITERATIONS = 100


def connected_components(nodes: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """Label every node with the smallest node of its component.

    Args:
        nodes: node names (Utf8), unique.
        edges: frame with columns `left` and `right` naming nodes.

    Returns:
        Frame `node`, `component` (both Utf8), one row per node.
    """
    # Most records link to nothing: only nodes on an edge are indexed and propagated.
    index = (
        pl.concat([edges["left"], edges["right"]]).unique().sort().to_frame("node")
        .with_row_index("id")
    )
    links = (
        edges.join(index.rename({"node": "left", "id": "l"}), on="left")
        .join(index.rename({"node": "right", "id": "r"}), on="right")
        .select("l", "r")
    )
    labels = index.select("id", pl.col("id").alias("label"))
    for iteration in range(MAX_ITERATIONS):
        updated = _propagate_once(labels, links)
        changed = updated.join(labels, on="id").filter(
            pl.col("label") != pl.col("label_right")
        ).height
        labels = updated
        if changed == 0:
            logger.debug("components converged after %d iterations", iteration + 1)
            break
    else:
        raise RuntimeError(f"connected components did not converge in {MAX_ITERATIONS} rounds")
    component_of = labels.join(index, on="id").join(
        index.rename({"id": "label", "node": "component"}), on="label"
    ).select("node", "component")
    named = nodes.to_frame("node").join(component_of, on="node", how="left")
    return named.select("node", pl.coalesce("component", "node").alias("component"))


def _propagate_once(labels: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """Each node takes the smallest label among itself and its neighbours, then jumps once."""
    labelled = links.join(labels.rename({"id": "l", "label": "ll"}), on="l").join(
        labels.rename({"id": "r", "label": "lr"}), on="r"
    )
    smallest = pl.min_horizontal("ll", "lr")
    proposals = pl.concat(
        [
            labels,
            labelled.select(pl.col("l").alias("id"), smallest.alias("label")),
            labelled.select(pl.col("r").alias("id"), smallest.alias("label")),
            # Also pull each label's own label down (pointer jumping across rounds).
            labelled.select(pl.col("ll").alias("id"), smallest.alias("label")),
            labelled.select(pl.col("lr").alias("id"), smallest.alias("label")),
        ]
    )
    merged = proposals.group_by("id").agg(pl.col("label").min())
    jumped = merged.join(merged.rename({"id": "label", "label": "label2"}), on="label", how="left")
    return jumped.select("id", pl.min_horizontal("label", "label2").alias("label"))


def cluster_records(record_ids: pl.Series, pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Cluster records linked by pairs with match_probability >= threshold.

    Returns `record_id`, `cluster_id` (the cluster's smallest record_id), one row per record.
    """
    links = pairs.filter(pl.col("match_probability") >= threshold).select(
        pl.col("record_id_l").alias("left"), pl.col("record_id_r").alias("right")
    )
    components = connected_components(record_ids.unique(), links)
    return components.rename({"node": "record_id", "component": "cluster_id"})


def cluster_incrementally(
    previous: pl.DataFrame, delta_ids: pl.Series, new_pairs: pl.DataFrame, threshold: float
) -> pl.DataFrame:
    """Clusters for the part of the graph a delta touches; existing entities stay whole.

    Every existing entity is one node, so linking a new record to any of its records links it
    to the entity, and two entities bridged by new records merge. Records of untouched
    entities are not returned.

    Args:
        previous: current `record_id`, `entity_id` (delta records may appear: changed ones).
        delta_ids: record ids of new and changed records.
        new_pairs: scored pairs involving at least one delta record.
        threshold: match probability at which a pair links.

    Returns:
        `record_id`, `cluster_id` for delta records and every record of a touched entity.
    """
    delta = pl.DataFrame({"record_id": delta_ids.unique()})
    settled = previous.join(delta, on="record_id", how="anti").select(
        "record_id", ("entity:" + pl.col("entity_id")).alias("node")
    )
    node_of = pl.concat([settled, delta.select("record_id", pl.col("record_id").alias("node"))])
    links = (
        new_pairs.filter(pl.col("match_probability") >= threshold)
        .join(node_of.rename({"record_id": "record_id_l", "node": "left"}), on="record_id_l")
        .join(node_of.rename({"record_id": "record_id_r", "node": "right"}), on="record_id_r")
        .select("left", "right")
    )
    graph_nodes = pl.concat([delta["record_id"], links["left"], links["right"]]).unique()
    components = connected_components(graph_nodes, links)
    touched = node_of.join(components, on="node")
    # Name clusters after their smallest record so the name is independent of entity ids.
    return touched.select(
        "record_id", pl.col("record_id").min().over("component").alias("cluster_id")
    )
