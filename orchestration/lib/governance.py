"""The governance page: one static HTML index of what a reviewer needs, per model version.

`<reports>/index.html` links, with relative paths that resolve inside the home, to
- the data-quality results: Great Expectations Data Docs and the suite summaries
  (`data_quality/*.json`, the latest run's);
- the drift reports (`drift/runs/<run id>/`), grouped under the model version they judged;
- the evaluation table (`models/evaluation.json`, the latest run's; each card has its metrics);
- a short model card per promoted version (data window, features, parameters, metrics, promotion
  decision), read from `model_card.json` inside each bundle of the BentoML store.
Only files that exist are linked. Written by `tailor report`.
"""

from __future__ import annotations

import html
import json
import os
from datetime import datetime
from pathlib import Path

from ml.candidates import SOURCES
from ml.ranking import FEATURES
from orchestration.lib.model_store import ModelStore

INDEX = "index.html"
DRIFT_REPORTS = ("feature_drift", "prediction_drift", "target_drift")
CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;
text-align:left;font-size:.9rem}th{background:#f3f3f3}
section{border-top:2px solid #ddd;margin-top:2rem}
.ok{color:#176117}.bad{color:#a11}.muted{color:#777}code{font-size:.85rem}
"""


def write_governance_page(reports_root: Path, model_store: ModelStore) -> Path:
    root = Path(reports_root)
    root.mkdir(parents=True, exist_ok=True)
    versions = list_versions(model_store)
    drift_runs = read_drift_runs(root)
    body = [
        "<h1>Tailor governance</h1>",
        f"<p class='muted'>Written {datetime.utcnow():%Y-%m-%d %H:%M} UTC from "
        f"<code>{html.escape(str(root))}</code>. Serving model: "
        + (html.escape(versions[0]["tag"]) if versions else "none yet")
        + "</p>",
        _data_quality(root),
        _evaluation(root),
        "<h2>Model versions</h2>",
    ]
    if not versions:
        body.append("<p>No model has been promoted yet.</p>")
    for position, version in enumerate(versions):
        body.append(_version(root, version, drift_runs, serving=position == 0))
    unmatched = [r for r in drift_runs if r["reference_model"] not in {v["tag"] for v in versions}]
    if unmatched:
        body.append("<h2>Drift reports without a promoted reference</h2>")
        body.append(_drift_table(root, unmatched))
    path = root / INDEX
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Tailor governance</title>"
        f"<style>{CSS}</style></head><body>" + "\n".join(body) + "</body></html>"
    )
    return path


def list_versions(model_store: ModelStore) -> list[dict]:
    """Every promoted `tailor` model, newest (serving) first: tag, path, created, card."""
    versions = []
    for model in model_store.versions():
        card_path = Path(model.path) / "model_card.json"
        versions.append(
            {
                "tag": str(model.tag),
                "path": Path(model.path),
                "created": model.info.creation_time,
                "card_path": card_path,
                "card": json.loads(card_path.read_text()) if card_path.exists() else {},
            }
        )
    return versions


def read_drift_runs(root: Path) -> list[dict]:
    """One entry per run that wrote drift reports: run id, created, reference, summaries."""
    runs = []
    for folder in sorted((root / "drift" / "runs").glob("*")):
        summaries = {
            name: json.loads((folder / f"{name}.json").read_text())
            for name in DRIFT_REPORTS
            if (folder / f"{name}.json").exists()
        }
        if not summaries:
            continue
        first = next(iter(summaries.values()))
        runs.append(
            {
                "run_id": folder.name,
                "folder": folder,
                "created_at": first["created_at"],
                "reference_model": first["reference_model"],
                "summaries": summaries,
            }
        )
    return sorted(runs, key=lambda r: r["created_at"], reverse=True)


def _link(root: Path, target: Path, text: str) -> str:
    """A relative link when the file exists, else the text marked missing."""
    if not target.exists():
        return f"<span class='muted'>{html.escape(text)} (missing)</span>"
    href = Path(os.path.relpath(target, root)).as_posix()
    return f"<a href='{html.escape(href)}'>{html.escape(text)}</a>"


def _data_quality(root: Path) -> str:
    rows = []
    for path in sorted((root / "data_quality").glob("*.json")):
        summary = json.loads(path.read_text())
        verdict = (
            "<span class='ok'>pass</span>"
            if summary["success"]
            else ("<span class='bad'>FAIL</span>")
        )
        # Observed values beside the thresholds they broke (summaries older than that have none).
        failed = "<br>".join(html.escape(line) for line in summary.get("failure_lines", []))
        rows.append(
            f"<tr><td>{_link(root, path, path.stem)}</td><td>{verdict}</td>"
            f"<td>{summary['successful']}/{summary['evaluated']}</td><td>{summary['rows']:,}</td>"
            f"<td><code>{failed}</code></td></tr>"
        )
    table = (
        "<table><tr><th>suite</th><th>result</th><th>expectations met</th><th>rows</th>"
        "<th>failed expectations: observed, expected</th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p>No suite has run yet.</p>"
    )
    return (
        "<section><h2>Data quality (latest run)</h2><p>Great Expectations "
        + _link(root, root / "data_docs" / "index.html", "Data Docs")
        + " (every validation run, with the failing values)</p>"
        + table
        + "</section>"
    )


def _evaluation(root: Path) -> str:
    links = " · ".join(
        _link(root, root / "models" / f"{name}.json", f"{name}.json")
        for name in ("evaluation", "tuning", "promotion")
    )
    path = root / "models" / "evaluation.json"
    table = ""
    if path.exists():
        evaluation = json.loads(path.read_text())
        table = "<h3>Test window</h3>" + _metric_table(evaluation["test"])
    return "<section><h2>Evaluation (latest run)</h2><p>" + links + "</p>" + table + "</section>"


def _metric_table(report: dict) -> str:
    metrics = ("ndcg@10", "recall@10", "recall@20", "map@10", "hit_rate@10", "coverage@10")
    head = "".join(f"<th>{m}</th>" for m in metrics)
    rows = []
    for protocol, block in report.items():
        for name, values in block["models"].items():
            cells = "".join(f"<td>{values[m]:.4f}</td>" for m in metrics)
            rows.append(
                f"<tr><td>{protocol}</td><td>{name}</td>{cells}<td>{values['users']}</td></tr>"
            )
    return (
        f"<table><tr><th>protocol</th><th>model</th>{head}<th>users</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _version(root: Path, version: dict, drift_runs: list[dict], serving: bool) -> str:
    card = version["card"]
    window = card.get("data_window", {})
    promotion = card.get("promotion") or {}
    params = card.get("params", {})

    def hybrid(split: str) -> dict:
        return card.get(split, {}).get("all", {}).get("models", {}).get("hybrid", {})

    rows = [
        ("version", card.get("version", "?")),
        ("trained", f"{card.get('trained_at', '?')} (code {card.get('code_version', '?')})"),
        (
            "data window",
            f"{window.get('first_event', '?')} .. {window.get('as_of', '?')}; validation from "
            f"{window.get('validation_start', '?')}, test from {window.get('test_start', '?')}; "
            f"{card.get('events', 0):,} events, {card.get('users', 0):,} users, "
            f"{card.get('items', 0):,} items",
        ),
        (
            "features",
            f"candidate sources: {', '.join(SOURCES)}; ranker: {len(FEATURES)} pair features "
            f"({', '.join(FEATURES)})",
        ),
        ("parameters", "; ".join(f"{k}: {json.dumps(v)}" for k, v in params.items())),
        (
            "metrics",
            f"validation NDCG@10 {hybrid('validation').get('ndcg@10', float('nan')):.4f}, "
            f"test NDCG@10 {hybrid('test').get('ndcg@10', float('nan')):.4f}, "
            f"test Recall@20 {hybrid('test').get('recall@20', float('nan')):.4f}",
        ),
        (
            "promotion",
            ("promoted: " if promotion.get("promote") else "")
            + "; ".join(promotion.get("reasons", [])),
        ),
    ]
    table = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    mine = [r for r in drift_runs if r["reference_model"] == version["tag"]]
    drift = (
        _drift_table(root, mine)
        if mine
        else "<p class='muted'>No drift report against this version.</p>"
    )
    status = " <span class='ok'>(serving)</span>" if serving else ""
    test = card.get("test")
    return (
        f"<section><h3>{html.escape(version['tag'])}{status}</h3>"
        f"<p>{_link(root, version['card_path'], 'model_card.json')} · data quality: "
        + _link(root, root / "data_docs" / "index.html", "Data Docs")
        + " · "
        + _link(root, root / "models" / "evaluation.json", "latest evaluation")
        + f"</p><table>{table}</table>"
        + ("<h4>Test window (this version)</h4>" + _metric_table(test) if test else "")
        + "<h4>Drift reports against this version</h4>"
        + drift
        + "</section>"
    )


def _drift_table(root: Path, runs: list[dict]) -> str:
    rows = []
    for run in runs:
        cells = []
        for name in DRIFT_REPORTS:
            summary = run["summaries"].get(name)
            if summary is None or summary.get("status") != "ok":
                cells.append("<td class='muted'>-</td>")
                continue
            links = " ".join(
                _link(root, run["folder"] / f, Path(f).stem.split("__")[-1])
                for f in summary["files"]["html"]
            )
            drifted = ", ".join(summary["drifted_columns"]) or "none"
            cells.append(
                f"<td>{len(summary['drifted_columns'])}/{summary['n_columns']} drifted "
                f"(share {summary['drift_share']:.2f}) {links}<br>"
                f"<span class='muted'>{html.escape(drifted)}</span> "
                + _link(root, run["folder"] / f"{name}.json", "summary")
                + "</td>"
            )
        feature = run["summaries"].get("feature_drift", {})
        verdict = "<span class='bad'>retrain</span>" if feature.get("dataset_drift") else "quiet"
        rows.append(
            f"<tr><td>{html.escape(run['created_at'])}<br><code>{run['run_id'][:8]}</code></td>"
            f"<td>{verdict}</td>" + "".join(cells) + "</tr>"
        )
    return (
        "<table><tr><th>run</th><th>verdict</th><th>features</th><th>predictions</th>"
        "<th>target</th></tr>" + "".join(rows) + "</table>"
    )
