"""Small markdown tables for asset metadata previews (no pandas/tabulate needed)."""

import polars as pl


def frame_to_markdown(frame: pl.DataFrame, max_rows: int = 20) -> str:
    shown = frame.head(max_rows)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "| " + " | ".join("---" for _ in shown.columns) + " |"
    body = [
        "| " + " | ".join(_cell(value) for value in row) + " |" for row in shown.iter_rows()
    ]
    more = [f"\n_{frame.height - max_rows} more rows_"] if frame.height > max_rows else []
    return "\n".join([header, rule, *body, *more])


def _cell(value) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
