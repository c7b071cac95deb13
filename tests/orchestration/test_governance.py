"""The governance page and the report tables, on a small reports folder written inline."""

import html
import json
import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from orchestration.lib.governance import write_governance_page
from orchestration.lib.tables import (
    METRIC_HEADERS,
    bucket_table,
    drift_column_table,
    metric_rows,
    metric_table,
)

SERVING, OLDER, UNKNOWN = "tailor:new", "tailor:old", "tailor:gone"


def metrics(ndcg: float, users: int = 40) -> dict:
    return {
        "ndcg@10": ndcg,
        "recall@10": 0.25,
        "recall@20": 0.5,
        "map@10": 0.125,
        "hit_rate@10": 0.75,
        "coverage@10": 0.0625,
        "users": users,
    }


EVALUATION = {
    "all": {"models": {"hybrid": metrics(0.31416), "popularity": metrics(0.1)}},
    "new": {"models": {"hybrid": metrics(0.2, users=12), "als": metrics(0.15, users=12)}},
}
PROMOTION = {
    "promote": True,
    "reasons": ["all: hybrid 0.3142 beats best baseline popularity 0.1000", "no champion yet"],
    "challenger": 0.31416,
    "champion": None,
}


def write(path: Path, payload: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))
    return path


def drift_summary(run: str, reference: str, drifted: list[str]) -> dict:
    return {
        "status": "ok",
        "created_at": f"2026-11-0{run[-1]}T08:00:00",
        "reference_model": reference,
        "dataset_drift": bool(drifted),
        "drift_share": len(drifted) / 4,
        "drifted_columns": drifted,
        "n_columns": 4,
        "files": {"html": ["feature_drift__ml_user_features.html"], "json": []},
    }


class FakeModelStore:
    """What governance uses of ModelStore: versions(), newest first."""

    def __init__(self, models):
        self.models = models

    def versions(self):
        return self.models


def bundle(folder: Path, tag: str, created: datetime, card: dict | None):
    folder.mkdir(parents=True)
    if card is not None:
        write(folder / "model_card.json", card)
    return SimpleNamespace(tag=tag, path=str(folder), info=SimpleNamespace(creation_time=created))


@pytest.fixture
def page(tmp_path) -> str:
    """Reports with a passing and a failing suite, an evaluation but no tuning report, no Data
    Docs; two versions (the older without a card); drift runs against a version and an unknown."""
    reports = tmp_path / "reports"
    write(
        reports / "data_quality" / "raw_events.json",
        {"success": True, "successful": 5, "evaluated": 5, "rows": 12345},
    )
    write(
        reports / "data_quality" / "raw_products.json",
        {
            "success": False,
            "successful": 3,
            "evaluated": 4,
            "rows": 10,
            "failure_lines": ["expect_column_values_to_match_regex(name): <script>x</script>"],
        },
    )
    write(reports / "models" / "model_evaluation.json", {
        "protocol": "last_basket", "contender": "hybrid",
        "selection": {"reason": "hybrid has the best mean share"},
        "protocols": {"last_basket": {"test": EVALUATION}}})
    card = {
        "version": "20261031-abcd1234",
        "contender": "hybrid",
        "protocol": "last_basket",
        "params": {"factors": 64, "objective": "rank:ndcg"},
        "validation": EVALUATION,
        "test": EVALUATION,
        "events": 1000,
        "users": 40,
        "items": 30,
        "promotion": PROMOTION,
    }
    serving = bundle(tmp_path / "store" / "new", SERVING, datetime(2026, 11, 1), card)
    older = bundle(tmp_path / "store" / "old", OLDER, datetime(2026, 10, 1), None)
    for run, reference, drifted in [("run1", SERVING, ["recency_days"]), ("run2", UNKNOWN, [])]:
        folder = reports / "drift" / "runs" / run
        write(folder / "feature_drift.json", drift_summary(run, reference, drifted))
        (folder / "feature_drift__ml_user_features.html").write_text("<html></html>")
    path = write_governance_page(reports, FakeModelStore([serving, older]))
    assert path == reports / "index.html"
    return path.read_text()


class Anchors(HTMLParser):
    """Every <a>: (href, text)."""

    def __init__(self):
        super().__init__()
        self.links, self._href = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs)["href"]

    def handle_data(self, data):
        if self._href is not None:
            self.links.append((self._href, data))
            self._href = None


def links(page: str) -> set[tuple[str, str]]:
    parser = Anchors()
    parser.feed(page)
    return set(parser.links)


def section(page: str, heading: str) -> str:
    """The <section> whose first heading is `heading`, as text without tags."""
    for body in re.findall(r"<section>(.*?)</section>", page, flags=re.S):
        if re.match(rf"\s*<h\d>{re.escape(heading)}", body):
            return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))
    raise AssertionError(f"no section {heading!r}")


def test_every_section_renders(page):
    quality = section(page, "Data quality")
    assert "raw_events pass 5/5 12,345" in quality
    assert "raw_products FAIL 3/4 10" in quality
    evaluation = section(page, "Evaluation")
    assert "Test split, last_basket protocol" in evaluation and "0.3142" in evaluation
    assert "Selected contender: hybrid (hybrid has the best mean share)" in evaluation
    serving = section(page, SERVING)
    assert "(serving)" in serving
    assert "1,000 events, 40 users, 30 items" in serving
    assert 'factors: 64; objective: "rank:ndcg"' in serving
    assert "hybrid (the contender model selection chose), judged by the last_basket protocol" in \
        serving
    assert "validation NDCG@10 0.3142, test NDCG@10 0.3142, test Recall@20 0.5000" in serving
    assert "1/4 drifted (share 0.25)" in serving and "recency_days" in serving
    older = section(page, OLDER)
    assert "(serving)" not in older and "No drift report against this version." in older
    # The run against a version no longer in the store is listed on its own.
    unmatched = page.split("Drift reports without a promoted reference")[1]
    assert "run2" in unmatched and "quiet" in unmatched
    assert "run1" not in unmatched


def test_promotion_decision_from_the_card_shows_its_reasons(page):
    serving = section(page, SERVING)
    assert "promoted : validation NDCG@10 0.3142 vs champion none" in serving
    for reason in PROMOTION["reasons"]:
        assert reason in serving
    assert "no decision recorded in the card" in section(page, OLDER)


def test_existing_files_are_relative_links_and_missing_ones_are_marked(page):
    anchors = links(page)
    assert {
        ("models/model_evaluation.json", "model_evaluation.json"),
        ("models/model_evaluation.json", "latest evaluation"),
        ("data_quality/raw_products.json", "raw_products"),
        ("drift/runs/run1/feature_drift__ml_user_features.html", "ml_user_features"),
        ("drift/runs/run1/feature_drift.json", "summary"),
        ("../store/new/model_card.json", "model_card.json"),
    } <= anchors
    hrefs = {href for href, _ in anchors}
    assert all(not href.startswith(("/", "http", "file:")) for href in hrefs)
    # No tuning report, no Data Docs, no card for the older version: named, not linked.
    assert "model_tuning.json (missing)" in page
    assert "Data Docs (missing)" in page
    assert "model_card.json (missing)" in section(page, OLDER)
    assert not {"models/model_tuning.json", "data_docs/index.html"} & set(hrefs)
    assert not any("promotion.json" in href for href in hrefs)


def test_plots_show_ndcg_per_version_and_drift_over_time_and_say_what_is_missing(page):
    over_time = page.split("<h2>Over time</h2>")[1].split("</section>")[0]
    assert over_time.count("<svg") == 2  # NDCG per version, drift share per report
    assert "no load recorded" in over_time  # the fixture has no load history
    assert "http" not in over_time.replace("http://www.w3.org/", "")  # nothing to fetch
    assert "<metadata" not in over_time and "<script" not in over_time


def test_the_loads_plot_shows_rows_and_quarantine_share_per_load(tmp_path):
    from orchestration.lib.governance_plots import loads_plot

    loads = [{"at": datetime(2026, 11, day), "raw_rows": 1000 * day, "quarantined_rows": day}
             for day in (1, 2, 3)]
    svg = loads_plot(loads)
    assert svg.startswith("<svg") and svg.count("<path") > 3
    assert loads_plot([]) is None
    page = write_governance_page(tmp_path / "reports", FakeModelStore([]), loads).read_text()
    assert page.split("<h2>Over time</h2>")[1].split("</section>")[0].count("<svg") == 1


def test_html_in_a_value_is_escaped(page):
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_metric_rows_and_table_show_every_model_and_metric():
    rows = metric_rows(EVALUATION)
    assert [(r["target"], r["model"]) for r in rows] == [
        ("all", "hybrid"),
        ("all", "popularity"),
        ("new", "hybrid"),
        ("new", "als"),
    ]
    assert rows[0]["NDCG@10"] == 0.31416 and rows[2]["users"] == 12
    lines = metric_table(EVALUATION).splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == ["target", "model", *METRIC_HEADERS.values(), "users"]
    assert len(lines) == 2 + len(rows)
    first = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert first == ["all", "hybrid", "0.3142", *"0.2500 0.5000 0.1250 0.7500 0.0625".split(), "40"]


def test_drift_column_table_formats_scores_and_marks_columns_without_values():
    columns = [
        {
            "column": "recency_days",
            "kind": "num",
            "method": "wasserstein",
            "threshold": 0.1,
            "score": 0.23456,
            "drifted": True,
        },
        {
            "column": "segment",
            "kind": "cat",
            "method": "jensenshannon",
            "threshold": 0.1,
            "score": None,
            "drifted": False,
        },
    ]
    lines = drift_column_table(columns).splitlines()
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert cells[0] == ["column", "kind", "method", "score", "threshold", "drifted"]
    assert cells[2] == ["recency_days", "num", "wasserstein", "0.235", "0.10", "yes"]
    assert cells[3] == ["segment", "cat", "jensenshannon", "no values", "0.10", "no"]


def test_bucket_table_shows_users_as_counts_and_ndcg_per_contender():
    report = {"all": {"buckets": {"1": {"users": 3, "hybrid": 0.5, "als": 0.25},
                                  "16+": {"users": 1052, "hybrid": 0.369, "als": 0.26}}}}
    lines = bucket_table(report).splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == [
        "prior interactions", "users", "hybrid", "als"]
    assert [c.strip() for c in lines[3].strip("|").split("|")] == ["16+", "1052", "0.3690",
                                                                   "0.2600"]


def test_an_experiment_report_is_a_page_with_its_verdict_and_plot_linked_from_governance(
        tmp_path):
    from datetime import timedelta

    from ml.experiments.analysis import analyse
    from orchestration.lib.experiment_page import write_experiment_page
    from tests.ml.test_experiment_analysis import T0, events, experiment, exposures

    rows = [(f"user:c{i}", "control", f"c{i}", None, f"rc{i}", i) for i in range(40)]
    rows += [(f"user:t{i}", "treatment", f"t{i}", None, f"rt{i}", i) for i in range(40)]
    bought = [(f"t{i}", "purchase", i + 1, None, 10.0, f"s{i}") for i in range(25)]
    bought += [(f"c{i}", "purchase", i + 1, None, 10.0, f"s{i}") for i in range(5)]
    report = analyse(experiment(planned_visitors=30), exposures(rows), events(bought),
                     T0 + timedelta(hours=2))
    reports = tmp_path / "reports"
    page_path = write_experiment_page(report, reports / "experiments" / "homepage-test.html",
                                      reports)
    write(reports / "experiments" / "homepage-test.json", report)
    page = page_path.read_text()
    assert "treatment vs control: ship" in page
    assert "<polyline" in page and "<polygon" in page  # the lift and its interval over time
    assert "conversion" in section(page, "KPIs (per visitor; 95% intervals)")
    assert ("../index.html", "governance") in links(page)
    assert "http" not in page and "<script" not in page  # opens offline: nothing to fetch
    index = write_governance_page(reports, FakeModelStore([])).read_text()
    experiments = section(index, "Experiments")
    assert "homepage-test" in experiments and "control 40, treatment 40" in experiments
    assert "treatment: ship" in experiments
    assert ("experiments/homepage-test.html", "report") in links(index)
