"""The whole pipeline through Dagster, on real DuckDB and dbt: what a data engineer sees."""

import json

import duckdb
import pytest

from orchestration.cli import collect_status, main
from orchestration.lib.env import TailorHome
from orchestration.lib.runner import run_pipeline
from tests.ml.test_sources import BAD_EVENTS_CSV

pytestmark = pytest.mark.integration


def synthetic(seed: int = 7) -> dict:
    return {"source": "synthetic", "synthetic_size": "small", "synthetic_seed": seed}


def files(path) -> dict:
    return {"source": "files", "events_path": str(path), "as_of": "2026-10-02T00:00:00"}


def count(home: TailorHome, relation: str) -> int:
    con = duckdb.connect(str(home.warehouse))
    try:
        return con.execute(f"select count(*) from {relation}").fetchone()[0]
    finally:
        con.close()


def started_steps(result) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}


@pytest.fixture(scope="module")
def synthetic_home(tmp_path_factory):
    home = TailorHome(tmp_path_factory.mktemp("home"))
    result = run_pipeline(home, synthetic())
    assert result.success
    return home, result


def test_synthetic_pipeline_builds_every_mart_and_passes_every_gate(synthetic_home):
    home, result = synthetic_home
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert all(checks.values())
    assert {"raw_events_pass_suite", "ml_user_features_pass_suite"} <= set(checks)
    materialized = {e.asset_key.to_user_string(): e.materialization.metadata
                    for e in result.get_asset_materialization_events()}
    assert materialized["raw_events"]["dagster/row_count"].value == count(home, "raw.events") > 50_000
    assert materialized["ml_user_features"]["dagster/row_count"].value == count(
        home, "main.ml_user_features")
    assert count(home, "truth.user_tastes") > 0
    assert (home.reports / "data_docs" / "index.html").exists()


def test_status_reports_runs_counts_and_quality(synthetic_home, capsys, monkeypatch):
    home, result = synthetic_home
    monkeypatch.setenv("TAILOR_HOME", str(home.root))
    assert main(["status", "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["runs"][0]["run_id"] == result.run_id
    assert state["runs"][0]["status"] == "SUCCESS"
    assert state["load"]["source"] == "synthetic"
    events = state["load"]["counts"]["events"]
    assert events["raw"] == events["loaded"] + events["quarantined"]
    assert state["data_quality"]["raw_events"]["success"] is True
    assert state["tables"]["main.ml_item_features"] == count(home, "main.ml_item_features")


def test_bad_rows_are_quarantined_and_the_valid_rows_flow_through(tmp_path):
    good = "".join(f"g{i},u{i % 40},i{i % 25},2026-10-01T{i % 24:02d}:00:00Z,view,1,2.5,s{i}\n"
                   for i in range(300))
    path = tmp_path / "events.csv"
    path.write_text(BAD_EVENTS_CSV + good)
    home = TailorHome(tmp_path / "home")
    assert run_pipeline(home, files(path)).success
    state = collect_status(home)
    events = state["load"]["counts"]["events"]
    assert events == {"raw": 312, "loaded": 303, "quarantined": 9}
    assert state["load"]["quarantine_by_reason"]["events"] == {
        "duplicate_event": 1, "future_timestamp": 1, "invalid_number": 1, "missing_id": 2,
        "negative_price": 1, "negative_quantity": 1, "unknown_event_type": 1,
        "unparsable_timestamp": 1}
    assert count(home, "main.fct_interactions") == 303


def test_a_failing_suite_blocks_downstream_and_keeps_the_last_good_marts(synthetic_home, tmp_path):
    home, _ = synthetic_home
    before = count(home, "main.ml_user_features")
    tiny = tmp_path / "tiny.csv"  # too few events for the raw_events suite's row-count sanity check
    tiny.write_text("user_id,item_id,occurred_at\n" + "".join(
        f"u{i},i{i},2026-10-01T10:00:00Z\n" for i in range(12)))
    result = run_pipeline(home, files(tiny))

    assert not result.success
    failed = {e.asset_check_key.name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "raw_events_pass_suite" in failed
    assert "raw_shop_data" in started_steps(result)
    assert "transforms_dbt_assets" not in started_steps(result)
    assert count(home, "main.ml_user_features") == before


def test_cli_run_names_a_missing_file_and_fails(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TAILOR_HOME", str(tmp_path / "home"))
    assert main(["run", "--source", "files", "--events", str(tmp_path / "nope.csv")]) == 2
    assert "--events" in capsys.readouterr().err
