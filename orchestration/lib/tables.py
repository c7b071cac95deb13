"""The report tables: evaluation metrics and drift columns, as Markdown (Dagster metadata, the CLI)
and, for the metrics, as rows the governance page renders in HTML, so both show the same columns."""

from __future__ import annotations

import pandas as pd

from ml.evaluation.protocols import TARGETS
from ml.ranking.hybrid import CONTENDERS

# Evaluation report key -> column header, in table order: the one list of what a table shows.
METRIC_HEADERS = {
    "ndcg@10": "NDCG@10",
    "recall@10": "Recall@10",
    "recall@20": "Recall@20",
    "map@10": "MAP@10",
    "hit_rate@10": "HitRate@10",
    "coverage@10": "coverage",
}
METRIC_COLUMNS = ("target", "model", *METRIC_HEADERS.values(), "users")
DRIFT_COLUMNS = ("column", "kind", "method", "score", "threshold", "drifted")


def metric_rows(report: dict) -> list[dict]:
    """One row per target (all, new) and contender of an `ml.ranking.training.evaluate` report,
    keyed by METRIC_COLUMNS; the metrics as floats, users as an int."""
    return [
        {
            "target": target,
            "model": model,
            **{header: values[key] for key, header in METRIC_HEADERS.items()},
            "users": values["users"],
        }
        for target in TARGETS
        for model, values in sorted(report[target]["models"].items(), key=_contender_order)
    ]


def _contender_order(entry: tuple[str, dict]) -> int:
    """The hybrid first, then the sources in CONTENDERS order (stored JSON sorts keys)."""
    return CONTENDERS.index(entry[0]) if entry[0] in CONTENDERS else len(CONTENDERS)


def bucket_table(report: dict, target: str = "all") -> str:
    """NDCG@10 per history-length bucket (rows) and contender (columns) of one target."""
    buckets = report[target]["buckets"]
    frame = pd.DataFrame.from_dict(buckets, orient="index")
    frame = frame[["users", *sorted((c for c in frame.columns if c != "users"),
                                    key=lambda name: _contender_order((name, {})))]]
    frame.index.name = "prior interactions"
    # the bucket, then users (a count, not a metric), then each contender's NDCG@10
    return frame.to_markdown(floatfmt=("", ".0f", *[".4f"] * (frame.shape[1] - 1)))


def metric_table(report: dict) -> str:
    """The evaluation report as a Markdown table, metrics to 4 decimals."""
    frame = pd.DataFrame(metric_rows(report), columns=METRIC_COLUMNS)
    return frame.to_markdown(index=False, floatfmt=".4f")


def drift_column_table(columns: list[dict]) -> str:
    """A drift summary's columns (`ColumnDrift` dicts) as a Markdown table: the score to 3
    decimals or "no values" when a side had none, the threshold to 2, drifted yes/no."""
    rows = [{**c, "drifted": "yes" if c["drifted"] else "no"} for c in columns]
    # Object dtype keeps a missing score as None (tabulate's missingval), not as NaN ("nan").
    frame = pd.DataFrame(rows, columns=DRIFT_COLUMNS, dtype=object)
    return frame.to_markdown(
        index=False, floatfmt=("", "", "", ".3f", ".2f", ""), missingval="no values"
    )
