"""The whole pipeline through Dagster, on real DuckDB and dbt: what a data engineer sees."""

import json
import re
from pathlib import Path

import duckdb
import pytest

from ml.synthetic import SyntheticParams, generate_store
from orchestration.cli import build_parser, main
from orchestration.cli.options import tuning_config
from orchestration.cli.pipeline import demo_as_run
from orchestration.cli.status import collect_status
from orchestration.lib.env import TailorHome
from orchestration.lib.model_store import ModelStore
from orchestration.lib.promotions import run_decision
from orchestration.lib.runner import run_pipeline
from tests.builders import WEAK_RANKER, small_store
from tests.ml.test_sources import BAD_EVENTS_CSV

pytestmark = pytest.mark.integration


def synthetic(seed: int = 7) -> dict:
    return {"source": "synthetic", "synthetic_size": "small", "synthetic_seed": seed}


def files(path, as_of: str = "2026-10-02T00:00:00") -> dict:
    return {"source": "files", "events_path": str(path), "as_of": as_of}


def count(home: TailorHome, relation: str) -> int:
    con = duckdb.connect(str(home.warehouse))
    try:
        return con.execute(f"select count(*) from {relation}").fetchone()[0]
    finally:
        con.close()


def champion(home: TailorHome) -> dict | None:
    return ModelStore(bentoml_home=str(home.bentoml)).champion()


def purchases_csv(path, sep: str = ",") -> None:
    """A purchases-only events file with nothing but user_id, item_id, occurred_at."""
    events = generate_store(SyntheticParams()).events
    events = events[events["event_type"] == "purchase"][["user_id", "item_id", "occurred_at"]]
    path.write_text(events.to_csv(index=False, sep=sep))


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
    assert {"raw_events_pass_suite", "ml_user_features_pass_suite",
            "ml_pit_user_item_features_pass_suite",
            "ml_pit_user_features_pass_suite"} <= set(checks)
    materialized = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert (
        materialized["raw_events"]["dagster/row_count"].value == count(home, "raw.events") > 50_000
    )
    assert materialized["ml_user_features"]["dagster/row_count"].value == count(
        home, "main.ml_user_features"
    )
    assert materialized["ml_pit_user_features"]["dagster/row_count"].value == count(
        home, "main.ml_pit_user_features") == count(home, "features.cutoffs")
    assert count(home, "truth.user_tastes") > 0
    assert (home.reports / "data_docs" / "index.html").exists()
    promoted = champion(home)
    assert promoted["metadata"]["version"].endswith(result.run_id[:8])
    assert promoted["metadata"]["test_ndcg@10"] > 0
    assert (Path(promoted["path"]) / "ranker.ubj").exists()


def test_point_in_time_features_never_see_events_at_or_after_their_cutoff(synthetic_home):
    """Counted straight from fct_interactions: each cutoff's user features hold exactly the
    user's events before the user's own cutoff, and no visible event is at or after it."""
    home, _ = synthetic_home
    with duckdb.connect(str(home.warehouse)) as con:
        cutoffs = con.execute("select count(distinct cutoff_id), count(distinct cutoff_seconds) "
                              "from features.cutoffs").fetchone()
        assert cutoffs[0] >= 10 and cutoffs[1] > cutoffs[0]  # per-user cutoffs, not only shop's
        assert con.execute("select count(*) from main.ml_pit_events where age_days <= 0"
                           ).fetchone() == (0,)
        mismatched = con.execute("""
            with expected as (
                select c.cutoff_id, c.user_id, count(f.user_id) as events
                from features.cutoffs c
                left join main.fct_interactions f
                    on f.user_id = c.user_id
                    and epoch_us(f.occurred_at) / 1e6 < c.cutoff_seconds
                    and f.item_id in (select item_id from main.dim_products)
                group by all
            )
            select count(*) from expected
            join main.ml_pit_user_features p using (cutoff_id, user_id)
            where p.u_events != expected.events
        """).fetchone()
        assert mismatched == (0,)
        # the served cutoff sees every event; an earlier one sees fewer
        served, earlier = con.execute("""
            select sum(u_events) filter (where cutoff_id = 'serve'),
                   sum(u_events) filter (where cutoff_id = 'calendar/test/0')
            from main.ml_pit_user_features""").fetchone()
    assert served == count(home, "main.fct_interactions") > earlier > 0


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
    path = tmp_path / "events.csv"
    path.write_text(BAD_EVENTS_CSV)
    good = small_store().events
    good = good[good["event_type"].isin(["view", "purchase"])][
        [
            "event_id",
            "user_id",
            "item_id",
            "occurred_at",
            "event_type",
            "quantity",
            "price",
            "session_id",
        ]
    ]
    with path.open("a") as f:
        good.to_csv(f, header=False, index=False)
    home = TailorHome(tmp_path / "home")
    assert run_pipeline(home, files(path, as_of="2026-10-31T23:59:59")).success
    state = collect_status(home)
    events = state["load"]["counts"]["events"]
    assert events == {"raw": 12 + len(good), "loaded": 3 + len(good), "quarantined": 9}
    assert state["load"]["quarantine_by_reason"]["events"] == {
        "duplicate_event": 1,
        "future_timestamp": 1,
        "invalid_number": 1,
        "missing_id": 2,
        "negative_price": 1,
        "negative_quantity": 1,
        "unknown_event_type": 1,
        "unparsable_timestamp": 1,
    }
    assert count(home, "main.fct_interactions") == 3 + len(good)
    assert champion(home) is not None


def test_a_failing_suite_blocks_downstream_and_keeps_the_last_good_marts(synthetic_home, tmp_path):
    home, _ = synthetic_home
    before = count(home, "main.ml_user_features")
    tiny = tmp_path / "tiny.csv"  # too few events for the raw_events suite's row-count sanity check
    tiny.write_text(
        "user_id,item_id,occurred_at\n"
        + "".join(f"u{i},i{i},2026-10-01T10:00:00Z\n" for i in range(12))
    )
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


def test_demo_runs_with_every_option_of_run_at_its_default():
    demo = build_parser().parse_args(["demo", "--seed", "3", "--tuning-trials", "2"])
    run = demo_as_run(demo)
    defaults = build_parser().parse_args(["run"])
    assert set(vars(run)) == set(vars(defaults))
    assert (run.source, run.seed, run.tuning_trials, run.size, run.sep) == (
        "synthetic", 3, 2, "small", None)


def test_tuning_options_become_model_tuning_s_config_and_seconds_only_when_given():
    given = build_parser().parse_args(["demo", "--tuning-trials", "0", "--tuning-seconds", "90"])
    assert tuning_config(demo_as_run(given)) == {
        "model_tuning": {"source_trials": 1, "ranker_trials": 1, "seconds": 90.0}}
    assert tuning_config(build_parser().parse_args(["run"])) == {
        "model_tuning": {"source_trials": 4, "ranker_trials": 4}}  # seconds: the asset's default


def test_cli_run_checks_the_header_before_starting_dagster(tmp_path, capsys, monkeypatch):
    path = tmp_path / "events.csv"
    path.write_text("customer,item_id,occurred_at\nu1,i1,2026-10-01T00:00:00Z\n")
    monkeypatch.setenv("TAILOR_HOME", str(tmp_path / "home"))
    assert main(["run", "--source", "files", "--events", str(path)]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and "user_id" in error and "customer" in error
    assert not list((tmp_path / "home").rglob("runs.db"))  # no Dagster run was started
    assert main(["run", "--source", "synthetic", "--sep", ";"]) == 2
    assert "--sep" in capsys.readouterr().err


def test_files_source_goes_end_to_end_on_user_item_time_only(tmp_path, capsys, monkeypatch):
    path = tmp_path / "purchases.csv"
    purchases_csv(path, sep=";")
    monkeypatch.setenv("TAILOR_HOME", str(tmp_path / "home"))
    assert main(["run", "--source", "files", "--events", str(path), "--sep", "semicolon",
                 "--tuning-trials", "1"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert re.search(r"\|\s*all\s*\|\s*hybrid\s*\|", out) and "Serving model: tailor:" in out
    assert "model_tuning: tuning ranker 1/1" in captured.err  # progress inside the long step
    assert main(["recommend", "--user", "u000012", "--k", "3", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["items"]) == 3
    export = tmp_path / "recs.csv"
    assert main(["export-recommendations", "--k", "4", "--out", str(export)]) == 0
    lines = export.read_text().splitlines()
    assert lines[0] == ("user_id,rank,item_id,title,category,score,source,reason,personalized,"
                        "fallback_reason,model_version")
    assert len(lines) > 4


def test_worse_tuned_settings_lose_to_the_champion_s_settings_refit_on_newer_data(synthetic_home):
    home, _ = synthetic_home
    before = champion(home)
    # A ranker of 3 trees of depth 2, as it is: worse than the champion's settings (tuned, never
    # worse than the defaults), which compete refit on the same data, and win.
    result = run_pipeline(
        home, synthetic(), op_config={"model_tuning": WEAK_RANKER}
    )
    gate = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert gate["challenger_beats_champion"] is True
    promotion = run_decision(result)
    assert promotion["reasons"][-1].startswith("the champion's settings won: refit on newer data")
    after = champion(home)
    assert after["tag"] != before["tag"]
    assert after["metadata"]["params"] == before["metadata"]["params"]
    weak_rounds = WEAK_RANKER["start"]["ranker"]["rounds"]
    assert after["metadata"]["params"]["ranker"]["rounds"] != weak_rounds


def test_a_failing_feature_suite_stops_training(synthetic_home, tmp_path):
    """Broken view tracking: every item is bought more often than viewed (conversion > 1)."""
    home, _ = synthetic_home
    before = champion(home)
    rows = []
    for item in range(30):
        rows.append(f"u{item},i{item},2026-10-01T08:00:00Z,view")
        rows += [f"u{(item + n) % 40},i{item},2026-10-01T09:0{n}:00Z,purchase" for n in range(1, 4)]
    path = tmp_path / "broken.csv"
    path.write_text("user_id,item_id,occurred_at,event_type\n" + "\n".join(rows) + "\n")
    result = run_pipeline(home, files(path))
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["raw_events_pass_suite"] is True
    assert checks["ml_item_features_pass_suite"] is False
    assert checks["ml_pit_item_features_pass_suite"] is False  # what the models would read
    assert "model_tuning" not in started_steps(result)
    assert champion(home)["tag"] == before["tag"]


def test_a_first_run_records_no_champion_score_rather_than_a_made_up_one(synthetic_home):
    _, result = synthetic_home
    gate = next(e for e in result.get_asset_check_evaluations()
                if e.check_name == "challenger_beats_champion")
    assert "champion_ndcg@10" not in gate.metadata  # absent, not -1 or 0
    assert gate.metadata["decision"].value["champion"] is None
    assert 0.0 < gate.metadata["challenger_ndcg@10"].value <= 1.0


def test_a_shop_too_sparse_to_judge_still_ends_with_a_served_model(tmp_path, rees46_file):
    """An hour of a public event export: no validation split judges enough customers, so
    popularity is selected, and promoted, with no test score to record (REES46's head sample once
    failed here, at promotion)."""
    home = TailorHome(tmp_path / "home")
    result = run_pipeline(home, {"source": "rees46", "events_path": str(rees46_file)},
                          op_config={"model_tuning": {"source_trials": 1, "ranker_trials": 1}})
    assert result.success
    promoted = champion(home)
    assert promoted["metadata"]["contender"] == "popularity"
    assert (Path(promoted["path"]) / "model_card.json").exists()
