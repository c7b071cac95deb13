"""Artifacts travel through the graph: reports are asset outputs, the challenger is a model folder
handed to the gate and to `tailor_bundle`, the gate's decision is its own metadata, the drift
reports and the governance page take the served model from `tailor_bundle`, and later data arrives
through the ingest asset."""

import json

import dagster as dg
import pandas as pd
import pytest

from ml.ranking.hybrid import CONTENDERS
from ml.sources.contract import RawSource, validate_source
from orchestration.lib.env import TailorHome
from orchestration.lib.ingest import append_load, replace_load
from orchestration.lib.model_store import ModelStore
from orchestration.lib.promotions import latest_decision
from orchestration.lib.runner import materialization, run_pipeline
from orchestration.lib.warehouse import DuckDBWarehouse
from tests.builders import small_store

pytestmark = pytest.mark.integration

FAST = {"model_tuning": {"source_trials": 1, "ranker_trials": 1}}


def store(home: TailorHome) -> ModelStore:
    return ModelStore(bentoml_home=str(home.bentoml))


def gate(result) -> dg.AssetCheckEvaluation:
    return next(e for e in result.get_asset_check_evaluations()
                if e.check_name == "challenger_beats_champion")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = TailorHome(tmp_path_factory.mktemp("lineage"))
    result = run_pipeline(home, {"source": "synthetic"}, op_config=FAST)
    assert result.success
    return home, result


def test_reports_are_asset_outputs_and_absent_values_have_no_entry(home):
    home, result = home
    folder = home.reports / "models"
    assert sorted(p.name for p in folder.glob("*.json")) == sorted([
        "tailor_bundle.json", "model_evaluation.json", "model_tuning.json",
        *(f"contender_{name}.json" for name in CONTENDERS)])
    ease = materialization(result, "contender_ease")
    assert 0 < ease["validation last_basket/all ndcg@10"] <= 1  # what competed, in the UI
    selection = json.loads((folder / "model_evaluation.json").read_text())["selection"]
    assert set(selection["scores"]) == set(CONTENDERS)
    evaluation = materialization(result, "model_evaluation")
    assert evaluation["report"] == str(folder / "model_evaluation.json")
    assert "champion" not in evaluation and "champion_validation_ndcg@10" not in evaluation
    challenger = materialization(result, "challenger_model")
    trained = home.artifacts / "challengers" / result.run_id
    assert challenger["folder"] == str(trained)  # the model_folders IO manager wrote it there
    card = json.loads((trained / "model_card.json").read_text())
    assert card["version"] == challenger["version"]
    served = json.loads((folder / "tailor_bundle.json").read_text())
    assert served["version"] == card["version"] and served["newly_promoted"] is True
    assert not (folder / "promotion.json").exists()  # the decision is the check's metadata


def test_drift_reports_and_the_governance_page_say_which_model_they_judged(home):
    home, result = home
    served = materialization(result, "tailor_bundle")
    for report in ("feature_drift_report", "prediction_drift_report", "target_drift_report"):
        metadata = materialization(result, report)
        assert (metadata["reference_model"], metadata["reference_version"]) == (
            served["tag"], served["version"])
    page = (home.reports / "index.html").read_text()
    assert materialization(result, "governance_page")["page"] == str(home.reports / "index.html")
    assert page.count("<svg") == 3  # NDCG per version, drift share per report, loads
    assert served["tag"] in page


def test_the_gate_decision_is_check_metadata_and_lands_in_the_model_card(home):
    home, result = home
    evaluation = gate(result)
    decision = evaluation.metadata["decision"].value
    assert evaluation.passed and decision["promote"] is True
    assert "champion_ndcg@10" not in evaluation.metadata  # no champion yet: no entry, no -1
    assert decision["judged_against"] is None and decision["champion"] is None
    champion = store(home).champion()
    card = json.loads((home.bentoml / "models" / "tailor" / champion["tag"].split(":")[1]
                       / "model_card.json").read_text())
    assert card["version"] == decision["challenger_version"]
    assert card["promotion"] == {k: decision[k] for k in ("promote", "reasons", "challenger",
                                                          "champion")}


def test_tailor_bundle_alone_promotes_the_newest_challenger_once(home):
    home, _ = home
    before = store(home).versions()
    result = run_pipeline(home, assets=["tailor_bundle"])
    assert result.success
    assert materialization(result, "tailor_bundle")["newly_promoted"] is False
    assert [str(m.tag) for m in store(home).versions()] == [str(m.tag) for m in before]


def test_a_decision_judged_against_another_champion_is_not_promoted(home):
    """challenger_model again, alone: its check reuses the last evaluation, which judged it
    against no champion; one serves now, so tailor_bundle refuses the stale decision."""
    home, _ = home
    serving = store(home).champion()["tag"]
    result = run_pipeline(home, assets=["challenger_model", "tailor_bundle"])
    assert gate(result).passed  # the old evaluation said "no champion yet"
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "tailor_bundle"
    assert "against no champion, but " + serving in str(failure.step_failure_data.error)
    assert store(home).champion()["tag"] == serving


def test_evaluating_again_promotes_a_new_version_judged_against_the_champion(home):
    home, _ = home
    serving = store(home).champion()["tag"]
    result = run_pipeline(home, assets=["model_evaluation", "challenger_model", "tailor_bundle"])
    assert result.success
    decision = newest_decision(home)
    assert decision["judged_against"] == serving and decision["champion"] is not None
    promoted = store(home).champion()
    assert promoted["tag"] != serving
    assert promoted["metadata"]["version"] == decision["challenger_version"]
    folders = [p for p in (home.artifacts / "challengers").iterdir() if p.is_dir()]
    assert len(folders) <= 3  # older ones pruned


def newest_decision(home: TailorHome) -> dict:
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        return latest_decision(instance)


def test_a_later_batch_arrives_through_the_ingest_asset(home):
    home, _ = home
    warehouse = DuckDBWarehouse(path=str(home.warehouse))
    before, as_of = warehouse.row_counts()["raw.events"], warehouse.as_of()
    config = {"source": "simulated-days", "arrival": "append", "simulated_days": 3,
              "simulated_shift": "taste", "simulated_seed": 3}
    result = run_pipeline(home, config, job_name="ingest_tailor_job")
    assert result.success
    after = warehouse.row_counts()["raw.events"]
    events = materialization(result, "raw_events")
    assert after == events["dagster/row_count"] == before + events["loaded_rows"] > before
    assert events["arrival"] == "append" and warehouse.as_of() > as_of
    keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "synthetic_truth" not in keys  # an appended batch leaves the truth as it is


def test_a_redelivered_batch_is_quarantined_not_double_counted(tmp_path):
    shop = small_store()
    data = validate_source(RawSource("synthetic", shop.events, shop.products, shop.customers))
    warehouse = DuckDBWarehouse(path=str(tmp_path / "w.duckdb"))
    replace_load(warehouse, data, data.as_of, truth={})
    batch = validate_source(RawSource("batch", shop.events.head(50), shop.products.head(5),
                                      shop.customers.head(5)))
    landed = append_load(warehouse, batch, None)
    counts = warehouse.row_counts()
    assert len(landed.events) == 0 and counts["raw.events"] == len(data.events)
    assert counts["raw.products"] == len(data.products)  # upserted by id, not added twice
    repeated = warehouse.query("select * from raw.quarantine where reason = 'duplicate_event'")
    assert len(repeated) == 50 and repeated["detail"].str.contains("loaded before").all()
    info = warehouse.query("select * from raw.load_info").iloc[0]
    assert info["raw_events_rows"] == len(shop.events) + 50
    assert info["loaded_events_rows"] == len(data.events)
    assert info["raw_events_rows"] - info["loaded_events_rows"] == len(
        warehouse.query("select * from raw.quarantine where table_name = 'events'"))
    assert pd.Timestamp(info["as_of"]) == pd.Timestamp(data.as_of)
