"""The code location loads with the expected graph: assets by stage, gates, jobs."""

import dagster as dg
import pytest

from ml.point_in_time import TABLES
from ml.ranking.hybrid import CONTENDERS
from orchestration.lib.dbt_project import ensure_manifest


@pytest.fixture(scope="module")
def defs():
    ensure_manifest()
    from orchestration.definitions import defs

    return defs


EXPECTED_ASSETS = {
    "ingest": {
        "raw_events",
        "raw_products",
        "raw_customers",
        "raw_quarantine",
        "raw_load_info",
        "raw_exposures",
        "synthetic_truth",
    },
    "staging": {
        "event_type_weights",
        "stg_shop__events",
        "stg_shop__products",
        "stg_shop__customers",
        "stg_shop__loads",
    },
    "marts": {
        "fct_interactions",
        "dim_products",
        "dim_customers",
        "ml_user_features",
        "ml_user_category_affinity",
        "ml_item_features",
        "ml_customer_segments",
        "ml_temporal_split",
    },
    "intermediate": {"int_purchase_rhythm"},
    # the cutoffs the models need, and the point-in-time features dbt builds for them
    "features": {"feature_cutoffs", "ml_pit_events", "ml_pit_user_item_features",
                 "ml_pit_user_features", "ml_pit_item_features", "ml_pit_user_category_features"},
    # one asset per contender (what competed), the selection (model_evaluation), the challenger
    "ranking": {"model_tuning", *(f"contender_{name}" for name in CONTENDERS), "model_evaluation",
                "challenger_model"},
    "serving": {"tailor_bundle"},
    "monitoring": {"feature_drift_report", "prediction_drift_report", "target_drift_report"},
    # the registry of definitions, and one report per experiment (partitioned)
    "experiments": {"experiment_registry", "experiment_report"},
}


def test_assets_are_grouped_by_stage(defs):
    graph = defs.resolve_asset_graph()
    by_group: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        by_group.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    for group, assets in EXPECTED_ASSETS.items():
        assert by_group[group] == assets


def test_every_gated_table_has_a_blocking_suite_check(defs):
    graph = defs.resolve_asset_graph()
    suite_checks = {
        k.to_user_string() for k in graph.asset_check_keys if k.name.endswith("_pass_suite")
    }
    assert suite_checks == {
        f"{t}:{t}_pass_suite"
        for t in (
            "raw_events",
            "raw_products",
            "raw_customers",
            "ml_pit_user_item_features",
            "ml_pit_user_features",
            "ml_pit_item_features",
            "ml_pit_user_category_features",
            "ml_user_features",
            "ml_item_features",
        )
    }
    for checks_def in defs.asset_checks or []:
        for spec in checks_def.check_specs:
            if spec.name.endswith("_pass_suite"):
                assert spec.blocking, spec.name


def test_dbt_tests_are_asset_checks(defs):
    graph = defs.resolve_asset_graph()
    dbt_checks = [k for k in graph.asset_check_keys if not k.name.endswith("_pass_suite")]
    assert len(dbt_checks) > 50
    assert (
        dg.AssetCheckKey(dg.AssetKey("ml_user_features"), "unique_ml_user_features_user_id")
        in dbt_checks
    )


def test_dbt_sources_are_linked_to_the_ingest_assets(defs):
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey("stg_shop__events")).parent_keys
    assert dg.AssetKey("raw_events") in upstream


def test_models_wait_for_the_feature_gates_and_promotion_waits_for_its_gate(defs):
    graph = defs.resolve_asset_graph()
    point_in_time = {dg.AssetKey(m) for m in TABLES.values()}
    assert point_in_time <= graph.get(dg.AssetKey("model_tuning")).parent_keys
    assert point_in_time <= graph.get(dg.AssetKey("prediction_drift_report")).parent_keys
    # the point-in-time features are built from the cutoffs, which come from the marts
    assert dg.AssetKey("feature_cutoffs") in graph.get(
        dg.AssetKey("ml_pit_user_features")).parent_keys
    assert dg.AssetKey("fct_interactions") in graph.get(dg.AssetKey("feature_cutoffs")).parent_keys
    # what the challenger's drift reference is taken from is gated before the challenger
    assert {dg.AssetKey("ml_user_features"), dg.AssetKey("ml_item_features")} <= graph.get(
        dg.AssetKey("challenger_model")).parent_keys
    assert graph.get(dg.AssetKey("tailor_bundle")).parent_keys == {dg.AssetKey("challenger_model")}
    gate = dg.AssetCheckKey(dg.AssetKey("challenger_model"), "challenger_beats_champion")
    assert gate in graph.asset_check_keys
    assert graph.get_check_spec(gate).blocking


def test_jobs(defs):
    assert {"build_tailor_job", "evaluate_tailor_job"} <= {
        job.name for job in defs.resolve_all_job_defs()
    }


def graph_description(defs: dg.Definitions) -> dict:
    """The whole graph as plain data: assets (group, kinds, deps), checks (blocking), jobs (what
    they select), schedules and sensors. A change to any of them shows in the snapshot diff."""
    graph = defs.resolve_asset_graph()
    assets = {
        key.to_user_string(): {
            "group": graph.get(key).group_name,
            "kinds": sorted(graph.get(key).kinds),
            "deps": sorted(k.to_user_string() for k in graph.get(key).parent_keys),
        }
        for key in sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string())
    }
    checks = {
        f"{key.asset_key.to_user_string()}:{key.name}": {
            "blocking": graph.get_check_spec(key).blocking,
            "reads": sorted(d.asset_key.to_user_string()
                            for d in graph.get_check_spec(key).additional_deps),
        }
        for key in sorted(graph.asset_check_keys, key=str)
    }
    jobs = {
        job.name: {
            "assets": sorted(k.to_user_string() for k in job.selection.resolve(graph)),
            "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}"
                             for k in job.selection.resolve_checks(graph)),
        }
        for job in sorted(defs.jobs, key=lambda j: j.name)
    }
    schedules = {s.name: {"job": s.job_name, "cron": s.cron_schedule,
                          "status": s.default_status.value}
                 for s in defs.schedules}
    sensors = {s.name: {"jobs": sorted(t.job_name for t in s.targets),
                        "status": s.default_status.value}
               for s in defs.sensors}
    return {"assets": assets, "checks": checks, "jobs": jobs, "schedules": schedules,
            "sensors": sensors}


def test_the_graph_matches_its_reviewed_snapshot(defs, snapshot):
    """Update with `pytest tests/orchestration/test_definitions.py --snapshot-update` and review
    the diff of tests/orchestration/__snapshots__/test_definitions.ambr."""
    assert graph_description(defs) == snapshot


def test_the_readme_diagram_is_generated_from_these_definitions(defs):
    from orchestration.lib.diagram import mermaid
    from orchestration.lib.env import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("<!-- asset-graph:start -->")[1].split("<!-- asset-graph:end -->")[0]
    assert block.strip() == f"```mermaid\n{mermaid(defs)}\n```", (
        "README.md's asset graph is stale: paste `python -m orchestration.lib.diagram`")
