"""model_tuning through Dagster: the run's log tells how each trial went while tuning runs."""

import dagster as dg
import pandas as pd
import pytest

from orchestration.defs.assets.features import feature_cutoffs
from orchestration.defs.assets.ranking import model_tuning
from orchestration.defs.assets.transforms import point_in_time_dbt_assets
from orchestration.defs.resources import resources_for
from orchestration.lib.env import TailorHome, configure_environment
from orchestration.lib.reports import JsonReportIOManager
from tests.builders import interactions, products, small_store

pytestmark = pytest.mark.integration

AS_OF = pd.Timestamp("2026-10-31 23:59:59")  # the small store's last day


def test_model_tuning_logs_one_line_per_trial_to_the_run(tmp_path):
    store = small_store()
    home = configure_environment(TailorHome(tmp_path / "home"))  # dbt's profile: its warehouse
    resources = resources_for(home)
    warehouse = resources["warehouse"]
    # The three marts model_tuning's inputs come from, shaped as dbt builds them
    # (tests/builders.py); the cutoffs and the point-in-time features are built here.
    warehouse.replace_tables("main", {
        "dim_products": products(store.products),
        "fct_interactions": interactions(store.events),
        "ml_temporal_split": pd.DataFrame({"validation_start": [AS_OF - pd.Timedelta(days=28)],
                                           "test_start": [AS_OF - pd.Timedelta(days=14)],
                                           "as_of": [AS_OF], "decay_half_life_days": [30.0]}),
    })
    small = {"als": {"factors": 16, "iterations": 8}, "ranker": {"rounds": 20, "max_depth": 4}}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [feature_cutoffs, point_in_time_dbt_assets, model_tuning],
        instance=instance,
        resources={"warehouse": warehouse, "dbt": resources["dbt"],
                   "model_reports": JsonReportIOManager(folder=str(tmp_path / "reports"))},
        run_config={"ops": {"model_tuning": {"config": {
            "source_trials": 2, "ranker_trials": 3, "seconds": 600, "start": small}}}},
    )
    assert result.success
    trials = result.asset_materializations_for_node("model_tuning")[0].metadata["trials"].value
    # What context.log.info wrote: the run's event log, which the UI shows for the step.
    logged = [e.user_message for e in instance.all_logs(result.run_id) if e.dagster_event is None]
    lines = [m for m in logged if m.startswith("tuning ")]
    assert len(lines) == trials == 2 * 4 + 3  # two per source study (als, itemknn, ease,
    assert [line.split(":")[0] for line in lines] == [  # sequence), three for the ranker
        *(f"tuning {stage} {n}/2" for stage in ("als", "itemknn", "ease", "sequence")
          for n in (1, 2)),
        "tuning ranker 1/3", "tuning ranker 2/3", "tuning ranker 3/3",
    ]
    assert all(" (best " in line and " s; " in line for line in lines)
    assert (tmp_path / "reports" / "model_tuning.json").exists()  # its output, for evaluation
