"""The raw gates on real files through Dagster, DuckDB and Great Expectations: a load that loses
too many rows to quarantine stops the run with the numbers; thresholds and the CSV separator are
run config; the documented smallest input passes every data gate."""

import re
from pathlib import Path

import dagster as dg
import pytest

from orchestration.lib.dbt_project import ensure_manifest
from orchestration.lib.env import TailorHome, configure_environment
from orchestration.lib.model_store import ModelStore
from orchestration.lib.runner import run_pipeline

DOC = Path(__file__).parents[2] / "docs" / "data-contract.md"


@pytest.fixture(scope="module")
def gates():
    ensure_manifest()  # checks.py imports the dbt assets, which read the manifest
    from orchestration.defs import checks

    return checks


def checks_of(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}


def started_steps(result) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}


def mixed_dates_csv(path: Path) -> None:
    """18,040 purchases; every second one dated day-first (30/11/2026 12:00), not ISO-8601."""
    lines = ["user_id,item_id,occurred_at"]
    for n in range(18_040):
        day, minute = 1 + n // 1_440 % 28, n % 1_440
        stamp = (
            f"2026-10-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"
            if n % 2 == 0
            else f"{day:02d}/10/2026 {minute // 60:02d}:{minute % 60:02d}"
        )
        lines.append(f"u{n % 300},i{n % 120},{stamp}")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.integration
def test_a_file_losing_half_its_rows_to_mixed_date_formats_fails_the_raw_gate(tmp_path):
    path = tmp_path / "events.csv"
    mixed_dates_csv(path)
    home = TailorHome(tmp_path / "home")
    result = run_pipeline(
        home, {"source": "files", "events_path": str(path)}
    )

    checks = checks_of(result)
    # The suite alone sees 9,020 good rows and passes: only the quarantine gate notices.
    assert checks["raw_events_pass_suite"].passed
    gate = checks["raw_events_quarantine_within_limits"]
    assert not gate.passed
    assert gate.description.startswith(
        "unparsable_timestamp: 9,020 of 18,040 rows (50.0%) quarantined, limit 5.0% "
        "(first at row 1: occurred_at '01/10/2026 00:01' is not a time; accepted: ISO-8601 "
    )
    assert "; all reasons: 9,020 of 18,040 rows (50.0%) quarantined, limit 10.0%" in (
        gate.description
    )
    assert gate.metadata["quarantined_rows"].value == 9_020
    assert gate.metadata["raw_rows"].value == 18_040
    # Blocking: nothing after the load ran, no model was trained or promoted.
    assert not result.success
    assert started_steps(result).isdisjoint(
        {"transforms_dbt_assets", "model_tuning", "challenger_model", "tailor_bundle"}
    )
    store = ModelStore(bentoml_home=str(home.bentoml))
    assert store.champion() is None


def raw_gate_run(gates, home: TailorHome, path: Path, thresholds: dict | None):
    """raw_shop_data and the raw_events gates alone, on the real resources of `home`."""
    from orchestration.defs.assets.ingest import raw_shop_data
    from orchestration.defs.resources import resources_for

    configure_environment(home)
    raw_events_gates = [
        c for c in gates.suite_checks + gates.quarantine_checks
        if c.node_def.name.startswith("raw_events_")
    ]
    ops = {
        name: {"config": values}
        for name, values in gates.data_gate_op_config(thresholds or {}).items()
        if name.startswith("raw_events_") and thresholds is not None
    }
    # the shop's own column names, mapped as the settings file's [columns.events] says
    columns = {"events": {"customer": "user_id", "product": "item_id", "when": "occurred_at"}}
    source = {"source": "files", "events_path": str(path), "sep": ";", "columns": columns}
    return dg.materialize(
        [raw_shop_data, *raw_events_gates],
        resources=resources_for(home),
        run_config={"ops": {**ops, "raw_shop_data": {"config": source}}},
        raise_on_error=False,
    )


@pytest.mark.integration
def test_gate_thresholds_the_separator_and_column_names_are_run_config(gates, tmp_path):
    path = tmp_path / "events.csv"  # ;-separated, 12 events, one of them dated day-first
    rows = [f"u{i};i{i};2026-10-01T{i:02d}:00:00Z" for i in range(11)] + ["u11;i11;01/10/2026"]
    path.write_text("customer;product;when\n" + "\n".join(rows) + "\n")
    home = TailorHome(tmp_path / "home")

    strict = checks_of(raw_gate_run(gates, home, path, thresholds=None))
    assert strict["raw_events_pass_suite"].passed is False  # 11 events < min_events 100
    assert strict["raw_events_quarantine_within_limits"].description.startswith(
        "unparsable_timestamp: 1 of 12 rows (8.3%) quarantined, limit 5.0%"
    )
    for check in ("raw_events_quarantine_within_limits", "raw_events_pass_suite"):
        assert strict[check].description.endswith(gates.HOW_TO_CHANGE)  # says how to change it

    loose = {"min_events": 10, "min_users": 5, "min_items": 5}
    loose |= {"max_quarantine_share_by_reason": {"unparsable_timestamp": 0.1}}
    relaxed = checks_of(raw_gate_run(gates, home, path, thresholds=loose))
    assert relaxed["raw_events_pass_suite"].passed
    assert relaxed["raw_events_quarantine_within_limits"].passed
    assert relaxed["raw_events_quarantine_within_limits"].description == (
        "1 of 12 rows quarantined, within the limits"
    )


def test_the_documented_launchpad_config_names_real_check_ops(gates):
    block = DOC.read_text().split("```yaml\nops:\n", 1)[1].split("```", 1)[0]
    documented = re.findall(r"^  (\w+):$", block, flags=re.MULTILINE)
    assert documented and set(documented) <= set(gates.data_gate_op_config({}))
    fields = set(gates.DataGateConfig.model_fields)
    assert set(re.findall(r"(\w+): ", block)) - {"config", "duplicate_event"} <= fields


@pytest.mark.integration
def test_the_documented_smallest_gate_passing_input_passes_every_data_gate(tmp_path):
    # docs/data-contract.md: 100 events between 10 users and 10 items, every user buying every item.
    path = tmp_path / "events.csv"
    path.write_text(
        "user_id,item_id,occurred_at\n"
        + "".join(
            f"u{u},i{i},2026-10-{1 + u:02d}T{10 + i:02d}:00:00Z\n"
            for u in range(10)
            for i in range(10)
        )
    )
    result = run_pipeline(
        TailorHome(tmp_path / "home"),
        {"source": "files", "events_path": str(path)},
        job_name="build_features_job",
    )
    failed = {name for name, e in checks_of(result).items() if not e.passed}
    assert failed == set()
    assert {"raw_events_pass_suite", "ml_user_features_pass_suite"} <= set(checks_of(result))
    assert result.success


def test_gate_config_is_given_only_to_the_gates_a_job_runs(gates):
    from orchestration.definitions import defs

    every_gate = set(gates.data_gate_op_config({"min_events": 10}))
    assert len(every_gate) == 12  # 3 raw suites, 3 quarantine limits, 4 point-in-time, 2 marts
    build = gates.data_gate_op_config({"min_events": 10}, defs.resolve_job_def("build_tailor_job"))
    assert set(build) == every_gate and build["raw_events_raw_events_pass_suite"] == {
        "min_events": 10
    }
    assert gates.data_gate_op_config({}, defs.resolve_job_def("evaluate_tailor_job")) == {}
