"""Monitoring and the retraining loop: definitions, the drift sensor, retrain gates, governance."""

import contextlib
import io
import json
import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.cli import main
from orchestration.cli.drift import evaluate_retrain_sensor
from orchestration.cli.status import collect_status
from orchestration.defs.sensors import retrain_on_drift_sensor, retrain_request
from orchestration.lib.dbt_project import ensure_manifest
from orchestration.lib.env import TailorHome
from orchestration.lib.model_store import ModelStore
from orchestration.lib.promotions import run_decision
from orchestration.lib.runner import run_pipeline
from tests.builders import WEAK_RANKER

MONITORING = {"feature_drift_report", "prediction_drift_report", "target_drift_report"}


@pytest.fixture(scope="module")
def defs():
    ensure_manifest()
    from orchestration.definitions import defs

    return defs


def selected_steps(defs, job_name: str) -> set[str]:
    return set(defs.resolve_job_def(job_name).graph.node_dict)


def test_monitoring_group_holds_the_three_drift_reports(defs):
    graph = defs.resolve_asset_graph()
    monitoring = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).group_name == "monitoring"
    }
    assert monitoring == MONITORING
    assert {dg.AssetKey("ml_user_features"), dg.AssetKey("ml_item_features")} <= graph.get(
        dg.AssetKey("feature_drift_report")
    ).parent_keys


def test_retrain_job_reruns_everything_but_ingestion_and_keeps_the_gates(defs):
    steps = selected_steps(defs, "retrain_tailor_job")
    assert "raw_shop_data" not in steps
    assert not MONITORING & steps
    assert {
        "transforms_dbt_assets",
        "raw_events_raw_events_pass_suite",
        "ml_user_features_ml_user_features_pass_suite",
        "model_tuning",
        "challenger_model",
        "challenger_model_challenger_beats_champion",
        "tailor_bundle",
    } <= steps


def test_monitor_job_transforms_checks_and_reports_without_training(defs):
    steps = selected_steps(defs, "monitor_tailor_job")
    assert MONITORING | {"transforms_dbt_assets", "raw_events_raw_events_pass_suite"} <= steps
    assert not {"raw_shop_data", "model_tuning", "tailor_bundle"} & steps


def test_sensor_and_weekly_schedule_target_the_retrain_job(defs):
    sensor = defs.resolve_sensor_def("retrain_on_drift_sensor")
    assert sensor.job_name == "retrain_tailor_job"
    assert sensor.asset_key == dg.AssetKey("feature_drift_report")
    schedule = defs.resolve_schedule_def("retrain_tailor_weekly_schedule")
    assert schedule.job_name == "retrain_tailor_job"
    assert schedule.cron_schedule == "0 3 * * 1"
    assert {
        "build_tailor_job",
        "evaluate_tailor_job",
        "retrain_tailor_job",
        "monitor_tailor_job",
    } <= {job.name for job in defs.resolve_all_job_defs()}


# ---- the sensor on an instance holding materializations ---------------------------------------


def stub_asset(key: str, metadata: dict) -> dg.AssetsDefinition:
    @dg.asset(name=key)
    def _stub() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=metadata)

    return _stub


def report(share: float, threshold: float = 0.1, status: str = "ok") -> dg.AssetsDefinition:
    return stub_asset(
        "feature_drift_report",
        {
            "status": status,
            "drift_share": share,
            "retrain_threshold": threshold,
            "drifted_columns": "ml_user_features.top_category",
            "summary": dg.MetadataValue.path("/home/reports/drift/feature_drift.json"),
        },
    )


def evaluate(instance: dg.DagsterInstance):
    return retrain_on_drift_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))


def test_sensor_requests_a_retrain_once_per_drifted_report():
    with dg.instance_for_test() as instance:
        run = dg.materialize([report(share=0.25)], instance=instance)
        [request] = evaluate(instance).run_requests
        assert request.run_key == run.run_id
        assert request.tags["tailor/drift_report"] == "/home/reports/drift/feature_drift.json"
        assert request.tags["tailor/drift_share"] == "0.250"


def test_sensor_stays_quiet_on_a_clean_report_and_uses_the_reports_threshold():
    with dg.instance_for_test() as instance:
        dg.materialize([report(share=0.05)], instance=instance)
        data = evaluate(instance)
        assert data.run_requests == [] and "below 0.10" in data.skip_message
    with dg.instance_for_test() as instance:
        dg.materialize([report(share=0.25, threshold=0.5)], instance=instance)
        assert evaluate(instance).run_requests == []
    with dg.instance_for_test() as instance:
        dg.materialize([report(share=0.0, status="no_reference")], instance=instance)
        assert "no_reference" in evaluate(instance).skip_message


def test_sensor_skips_a_report_when_a_model_was_promoted_after_it():
    with dg.instance_for_test() as instance:
        dg.materialize([report(share=0.5)], instance=instance)
        dg.materialize([stub_asset("tailor_bundle", {"tag": "tailor:new"})], instance=instance)
        data = evaluate(instance)
        assert data.run_requests == [] and "promoted after" in data.skip_message


def test_a_report_from_a_training_run_does_not_request_another():
    metadata = {"status": "ok", "drift_share": 0.5, "retrain_threshold": 0.1}
    assert isinstance(
        retrain_request(metadata, "r1", report_job="monitor_tailor_job"), dg.RunRequest
    )
    skipped = retrain_request(metadata, "r1", report_job="build_tailor_job")
    assert isinstance(skipped, dg.SkipReason) and "trains a model" in skipped.skip_message


# ---- the real loop on a small synthetic home -----------------------------------------------------


def champion(home: TailorHome) -> dict | None:
    return ModelStore(bentoml_home=str(home.bentoml)).champion()


def started_steps(result) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}


def gate_results(result) -> dict[str, bool]:
    return {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """The demo: the synthetic store, four tuning trials."""
    home = TailorHome(tmp_path_factory.mktemp("monitoring-home"))
    result = run_pipeline(
        home, {"source": "synthetic", "synthetic_size": "small", "synthetic_seed": 7}
    )
    assert result.success
    return home


@pytest.mark.integration
def test_the_first_run_judges_the_model_it_promoted_whose_bundle_carries_the_reference(home):
    served = champion(home)
    status = collect_status(home)["drift"]["feature_drift"]
    # the drift reports run after tailor_bundle: they judge the model now serving, trained on
    # this very data, so nothing has drifted
    assert status["status"] == "ok" and status["reference_model"] == served["tag"]
    assert status["reference_version"] == served["metadata"]["version"]
    assert status["drift_share"] == 0.0 and status["dataset_drift"] is False
    reference = Path(served["path"]) / "reference"
    assert {p.name for p in reference.iterdir()} >= {
        "user_features.parquet",
        "item_features.parquet",
        "predictions.parquet",
        "sessions.parquet",
        "reference.json",
    }


@pytest.mark.integration
def test_a_retrain_with_worse_settings_keeps_the_champion_s_settings(home):
    before = champion(home)
    # A ranker of 3 trees of depth 2, as it is: the champion's settings, refit on the same data,
    # beat it in the selection, so the retrain promotes those settings refit.
    result = run_pipeline(
        home,
        job_name="retrain_tailor_job",
        op_config={"model_tuning": WEAK_RANKER},
    )
    assert "raw_shop_data" not in started_steps(result)
    assert gate_results(result)["challenger_beats_champion"] is True
    promotion = run_decision(result)
    assert promotion["reasons"][-1].startswith("the champion's settings won")
    assert champion(home)["metadata"]["params"] == before["metadata"]["params"]


@pytest.mark.integration
def test_new_data_failing_its_checks_stops_the_retrain_job(home):
    before = champion(home)
    con = duckdb.connect(str(home.warehouse))
    try:  # a loader delivered every event twice: raw_events' ids are no longer unique
        con.execute("create table raw.events_backup as select * from raw.events")
        con.execute("insert into raw.events select * from raw.events limit 500")
    finally:
        con.close()
    try:
        result = run_pipeline(home, job_name="retrain_tailor_job")
    finally:
        con = duckdb.connect(str(home.warehouse))
        con.execute("create or replace table raw.events as select * from raw.events_backup")
        con.execute("drop table raw.events_backup")
        con.close()
    assert not result.success
    assert gate_results(result)["raw_events_pass_suite"] is False
    assert not {"transforms_dbt_assets", "model_tuning", "tailor_bundle"} & started_steps(result)
    assert champion(home)["tag"] == before["tag"]


@pytest.fixture(scope="module")
def drifted(home):
    """`tailor simulate-drift --shift taste`: drift -> sensor -> retrain -> promotion."""
    before = champion(home)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.setenv("TAILOR_HOME", str(home.root))
        code = main(["simulate-drift", "--shift", "taste", "--seed", "0", "--tuning-trials", "4"])
    return before, code, out.getvalue()


@pytest.mark.integration
def test_simulated_drift_is_detected_retrained_and_promoted(home, drifted):
    before, code, out = drifted
    assert code == 0
    assert "[1/4] new data" in out and "[3/4] retrain_on_drift_sensor requested" in out
    after = champion(home)
    assert after["tag"] != before["tag"]
    assert f"[4/4] retrained and promoted {after['tag']}" in out
    assert after["metadata"]["data_window"]["as_of"] > before["metadata"]["data_window"]["as_of"]
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        jobs = [r.job_name for r in instance.get_runs(limit=3)]
    assert jobs[:2] == ["retrain_tailor_job", "monitor_tailor_job"]


@pytest.mark.integration
def test_status_reports_drift_headlines_and_evidently_files(home, drifted, capsys, monkeypatch):
    monkeypatch.setenv("TAILOR_HOME", str(home.root))
    assert main(["status", "--json"]) == 0
    drift = json.loads(capsys.readouterr().out)["drift"]
    feature = drift["feature_drift"]
    assert feature["status"] == "ok" and feature["dataset_drift"] is True
    assert feature["drift_share"] >= feature["retrain_threshold"]
    assert "ml_user_features.top_category" in feature["drifted_columns"]
    assert feature["methods"] == {
        "num": "Wasserstein distance (normed)",
        "cat": "Jensen-Shannon distance",
    }
    assert not {"ml_user_features.user_id", "ml_item_features.item_id"} & {
        c["column"] for c in feature["columns"]
    }
    folder = home.reports / feature["folder"]
    for name in ("feature_drift", "prediction_drift", "target_drift"):
        assert drift[name]["status"] == "ok"
        for file in drift[name]["files"]["html"] + drift[name]["files"]["json"]:
            assert (folder / file).stat().st_size > 1000
    assert (
        drift["prediction_drift"]["stats"]["share_beauty"]["current"]
        > (drift["prediction_drift"]["stats"]["share_beauty"]["reference"])
    )


@pytest.mark.integration
def test_sensor_on_the_home_instance_does_not_retrain_twice(home, drifted):
    decision = evaluate_retrain_sensor(home)
    assert isinstance(decision, dg.SkipReason)
    assert "promoted after" in decision.skip_message


@pytest.mark.integration
def test_governance_page_links_resolve_to_files_that_exist(home, drifted, capsys, monkeypatch):
    monkeypatch.setenv("TAILOR_HOME", str(home.root))
    assert main(["report"]) == 0
    page = Path(capsys.readouterr().out.strip())
    assert page == home.reports / "index.html"
    html = page.read_text()
    links = re.findall(r"href='([^']+)'", html)
    assert links and all(not link.startswith(("/", "http")) for link in links)
    missing = [link for link in links if not (page.parent / link).is_file()]
    assert missing == []
    assert "data_docs/index.html" in links
    assert "models/model_evaluation.json" in links
    assert any(link.startswith("data_quality/") for link in links)
    report = re.compile(r"drift/runs/.+/feature_drift__ml_user_features\.html")
    assert any(report.match(link) for link in links)
    cards = [link for link in links if link.endswith("model_card.json")]
    # the demo's model, the retrain that kept the champion's settings, the one retrained on drift
    assert len(cards) == 3
    assert "(missing)" not in html
