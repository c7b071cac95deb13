"""The governance page: one static HTML index of what a reviewer needs, per model version.

`<reports>/index.html` links, with relative paths that resolve inside the home, to
- the data-quality results: Great Expectations Data Docs and the suite summaries
  (`data_quality/*.json`, the latest run's);
- the drift reports (`drift/runs/<run id>/`), grouped under the model version they judged;
- the evaluation table (`models/model_evaluation.json`, the latest run's; each card has its
  metrics) and the tuning trials (`models/model_tuning.json`);
- each experiment's latest report (`experiments/<name>.html`: KPIs, SRM, verdict, lift plot);
- a short model card per promoted version (data window, features, parameters, metrics, promotion
  decision), read from `model_card.json` inside each bundle of the BentoML store;
- plots over time (orchestration/lib/governance_plots.py): NDCG@10 per model version, the drift
  share per report, the rows and quarantine share per load.
Only files that exist are linked. Written by the `governance_page` asset (and so `tailor report`).

This module gathers plain data; `templates/governance.html` lays it out (autoescaped).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ml.candidates import SOURCES
from ml.evaluation.reports import headline
from ml.ranking.features import FEATURES
from orchestration.lib.model_store import ModelStore
from orchestration.lib.tables import METRIC_COLUMNS, metric_rows

INDEX = "index.html"
EVALUATION = "model_evaluation.json"  # under <reports>/models/, written by model_evaluation
TUNING = "model_tuning.json"  # under <reports>/models/, written by model_tuning
DRIFT_REPORTS = ("feature_drift", "prediction_drift", "target_drift")
TEMPLATES = Path(__file__).parent / "templates"


def _fixed(value: float | None, digits: int = 4) -> str:
    return "?" if value is None else f"{value:.{digits}f}"


# StrictUndefined: a misspelt field fails the page instead of rendering blank.
ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters.update(fixed=_fixed, thousands="{:,}".format, json=json.dumps)


def write_governance_page(reports_root: Path, model_store: ModelStore,
                          loads: list[dict] | None = None) -> Path:
    """`loads`: the raw-events loads over time ({"at", "raw_rows", "quarantined_rows"})."""
    root = Path(reports_root)
    root.mkdir(parents=True, exist_ok=True)
    page = governance_page(root, list_versions(model_store), read_drift_runs(root), loads or [])
    path = root / INDEX
    path.write_text(ENVIRONMENT.get_template("governance.html").render(page), encoding="utf-8")
    return path


def governance_page(root: Path, versions: list[dict], drift_runs: list[dict],
                    loads: list[dict] | None = None) -> dict:
    """Everything the template shows, as plain data (the plots as inline SVG markup)."""
    # matplotlib is imported when a page is written, not whenever the definitions load
    from orchestration.lib.governance_plots import drift_plot, loads_plot, ndcg_plot

    tags = {v["tag"] for v in versions}
    models = root / "models"
    cards = [version_card(root, version, drift_runs, serving=position == 0)
             for position, version in enumerate(versions)]
    return {
        "plots": {"ndcg": _markup(ndcg_plot(cards)), "drift": _markup(drift_plot(drift_runs)),
                  "loads": _markup(loads_plot(loads or []))},
        "written_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "root": str(root),
        "serving": versions[0]["tag"] if versions else None,
        "data_docs": file_link(root, root / "data_docs" / "index.html", "Data Docs"),
        "suites": [
            suite_row(root, path) for path in sorted((root / "data_quality").glob("*.json"))
        ],
        "evaluation": {
            "links": [
                file_link(root, models / EVALUATION, EVALUATION),
                file_link(root, models / TUNING, TUNING),
            ],
            **latest_evaluation(models / EVALUATION),
        },
        "latest_evaluation": file_link(root, models / EVALUATION, "latest evaluation"),
        "metric_columns": METRIC_COLUMNS,
        "candidate_sources": list(SOURCES),
        "ranker_features": list(FEATURES),
        "versions": cards,
        "unmatched_drift": [
            drift_row(root, run) for run in drift_runs if run["reference_model"] not in tags
        ],
        "experiments": [
            experiment_row(root, path) for path in sorted((root / "experiments").glob("*.json"))
        ],
    }


def _markup(svg: str | None) -> Markup | None:
    """Our own plot's SVG, inlined as it is (matplotlib escapes the text it draws)."""
    return None if svg is None else Markup(svg)


def experiment_row(root: Path, path: Path) -> dict:
    """An experiment's latest report (the experiment_report asset's JSON and HTML)."""
    report = json.loads(path.read_text())
    verdicts = "; ".join(f"{arm}: {v['decision']}" for arm, v in report["verdicts"].items())
    return {"name": report["experiment"], "status": report["status"],
            "as_of": report["as_of"][:16], "visitors": report["visitors"],
            "srm": "no visitors" if report["srm"] is None else
                   "MISMATCH" if report["srm"]["mismatch"] else "ok",
            "verdicts": verdicts or "-",
            "page": file_link(root, path.with_suffix(".html"), "report")}


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


def file_link(root: Path, target: Path, text: str) -> dict:
    """{"text", "href"}: href relative to the page, or None when the file is missing."""
    if not target.exists():
        return {"text": text, "href": None}
    return {"text": text, "href": quote(Path(os.path.relpath(target, root)).as_posix())}


def suite_row(root: Path, path: Path) -> dict:
    summary = json.loads(path.read_text())
    return {
        "link": file_link(root, path, path.stem),
        "success": summary["success"],
        "successful": summary["successful"],
        "evaluated": summary["evaluated"],
        "rows": summary["rows"],
        # Observed values beside the thresholds they broke (summaries older than that have none).
        "failure_lines": summary.get("failure_lines", []),
    }


def latest_evaluation(evaluation_path: Path) -> dict:
    """The latest evaluation's headline test rows, its protocol and the selected contender."""
    if not evaluation_path.exists():
        return {"test_rows": []}
    report = json.loads(evaluation_path.read_text())
    return {"test_rows": metric_rows(headline(report, "test")), "protocol": report["protocol"],
            "contender": report["contender"], "selection": report["selection"]["reason"]}


def version_card(root: Path, version: dict, drift_runs: list[dict], serving: bool) -> dict:
    card = version["card"]
    window = card.get("data_window", {})

    contender = card.get("contender", "hybrid")

    def served(split: str) -> dict:
        return card.get(split, {}).get("all", {}).get("models", {}).get(contender, {})

    return {
        "tag": version["tag"],
        "serving": serving,
        "card": file_link(root, version["card_path"], "model_card.json"),
        "version": card.get("version", "?"),
        "trained_at": card.get("trained_at", "?"),
        "code_version": card.get("code_version", "?"),
        "window": {
            key: window.get(key, "?")
            for key in ("first_event", "as_of", "validation_start", "test_start")
        },
        # n_items, not items: in the template `.items` would find dict.items.
        "n_events": card.get("events", 0),
        "n_users": card.get("users", 0),
        "n_items": card.get("items", 0),
        "params": card.get("params", {}),
        "contender": contender,
        "protocol": card.get("protocol", "calendar"),
        "validation_ndcg": served("validation").get("ndcg@10"),
        "test_ndcg": served("test").get("ndcg@10"),
        "test_recall": served("test").get("recall@20"),
        # {"promote", "reasons", "challenger", "champion"}; None on cards written before it.
        "promotion": card.get("promotion"),
        "test_rows": metric_rows(card["test"]) if card.get("test") else [],
        "drift": [
            drift_row(root, run) for run in drift_runs if run["reference_model"] == version["tag"]
        ],
    }


def drift_row(root: Path, run: dict) -> dict:
    return {
        "created_at": run["created_at"],
        "run_id": run["run_id"],
        "retrain": bool(run["summaries"].get("feature_drift", {}).get("dataset_drift")),
        # One cell per report, None where the run did not compare (absent, or no reference).
        "reports": [drift_cell(root, run, name) for name in DRIFT_REPORTS],
    }


def drift_cell(root: Path, run: dict, name: str) -> dict | None:
    summary = run["summaries"].get(name)
    if summary is None or summary.get("status") != "ok":
        return None
    return {
        "n_drifted": len(summary["drifted_columns"]),
        "n_columns": summary["n_columns"],
        "drift_share": summary["drift_share"],
        "drifted_columns": summary["drifted_columns"],
        "html": [
            file_link(root, run["folder"] / file, Path(file).stem.split("__")[-1])
            for file in summary["files"]["html"]
        ],
        "summary": file_link(root, run["folder"] / f"{name}.json", "summary"),
    }
