"""The governance page's plots, drawn by matplotlib as inline SVG (text as paths: the page opens
offline and fetches nothing): NDCG@10 of each model version, the drift share of each report over
time, and the rows and quarantine share of each load.

Each function takes plain data and returns the SVG markup, or None when there is nothing to
draw (fewer than one point)."""

from __future__ import annotations

import io
import re
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display; before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

SIZE = (6.4, 2.6)  # inches: about 640 x 260 px
STYLE = {"svg.fonttype": "path", "font.size": 8, "axes.spines.top": False,
         "axes.spines.right": False, "svg.hashsalt": "tailor"}  # same data, same bytes


def ndcg_plot(versions: list[dict]) -> str | None:
    """Test and validation NDCG@10 of each promoted version, oldest first. `versions`: dicts with
    version, trained_at, test_ndcg, validation_ndcg (None where a split judged nobody)."""
    points = [v for v in reversed(versions) if v.get("test_ndcg") is not None
              or v.get("validation_ndcg") is not None]
    if not points:
        return None
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=SIZE)
        labels = [v["version"][:19] for v in points]
        for key, name in (("test_ndcg", "test"), ("validation_ndcg", "validation")):
            values = [v.get(key) for v in points]
            axes.plot(labels, [float("nan") if x is None else x for x in values], marker="o",
                      label=name)
        axes.set_ylabel("NDCG@10")
        axes.set_ylim(bottom=0)
        axes.legend(frameon=False)
        axes.tick_params(axis="x", labelrotation=20)
        return _svg(figure)


def drift_plot(runs: list[dict]) -> str | None:
    """Drift share of each report over time. `runs`: dicts with created_at (ISO) and summaries
    {report: {"status", "drift_share"}}; a threshold line for the feature report's retrain."""
    series: dict[str, list[tuple[datetime, float]]] = {}
    threshold = None
    for run in sorted(runs, key=lambda r: r["created_at"]):
        for name, summary in run["summaries"].items():
            if summary.get("status") == "ok" and summary.get("drift_share") is not None:
                series.setdefault(name, []).append(
                    (datetime.fromisoformat(run["created_at"]), summary["drift_share"]))
                if name == "feature_drift":
                    threshold = summary.get("retrain_threshold", threshold)
    if not series:
        return None
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=SIZE)
        for name, points in sorted(series.items()):
            axes.plot([t for t, _ in points], [s for _, s in points], marker="o",
                      label=name.replace("_", " "))
        if threshold is not None:
            axes.axhline(threshold, linestyle="--", color="grey", linewidth=0.8,
                         label="retrain threshold")
        axes.set_ylabel("share of drifted columns")
        axes.set_ylim(0, 1)
        axes.legend(frameon=False)
        figure.autofmt_xdate()
        return _svg(figure)


def loads_plot(loads: list[dict]) -> str | None:
    """Rows loaded and the quarantined share of each load of raw events. `loads`: dicts with at
    (datetime), raw_rows, quarantined_rows."""
    if not loads:
        return None
    loads = sorted(loads, key=lambda load: load["at"])
    with plt.rc_context(STYLE):
        figure, rows = plt.subplots(figsize=SIZE)
        positions = range(len(loads))  # one slot per load, labelled with its time
        rows.bar(positions, [load["raw_rows"] - load["quarantined_rows"] for load in loads],
                 width=0.6, color="#9bb7d4", label="rows loaded")
        rows.set_ylabel("events loaded")
        rows.set_xticks(list(positions), [f"{load['at']:%m-%d %H:%M}" for load in loads],
                        rotation=20)
        share = rows.twinx()
        share.plot(positions, [load["quarantined_rows"] / max(load["raw_rows"], 1)
                               for load in loads],
                   marker="o", color="#c0392b", label="quarantined share")
        share.set_ylabel("quarantined share")
        share.set_ylim(bottom=0)
        share.spines["top"].set_visible(False)
        figure.legend(frameon=False, loc="upper right")
        return _svg(figure)


def _svg(figure) -> str:
    """The figure as SVG markup to inline (the XML declaration and DOCTYPE dropped)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)  # RDF about the file
    return text[text.index("<svg"):]
