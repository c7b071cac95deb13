"""`tailor experiment create|stop|status` and the experiment_registry asset: the definitions
file checked against the warehouse's recorded versions (a hand edit of a started experiment's
salt or weights fails the run and leaves the published file alone), a planned sample from the
power calculation, the partitions of experiment_report."""

from __future__ import annotations

import json
import math

import dagster as dg
import pytest
import yaml

from orchestration.cli import main
from orchestration.lib.env import TailorHome
from orchestration.lib.experiments import history
from orchestration.lib.runner import run_pipeline
from orchestration.lib.warehouse import DuckDBWarehouse

pytestmark = pytest.mark.integration
NAME = "homepage-carousel-2026-12"


@pytest.fixture
def home(tmp_path, monkeypatch) -> TailorHome:
    monkeypatch.setenv("TAILOR_HOME", str(tmp_path / "home"))
    return TailorHome(tmp_path / "home")


def test_create_plans_publishes_and_refuses_a_hand_edited_salt(home, capsys):
    assert main(["experiment", "create", NAME, "--baseline-rate", "0.04", "--mde", "0.2"]) == 0
    capsys.readouterr()
    published = json.loads(home.published_experiments.read_text())
    experiment = published["experiments"][0]
    # per arm, for 4% -> 4.8% at alpha 0.05 and power 0.8: 2 ((z_0.975 + z_0.8) / h)^2 with
    # Cohen's h = 2 asin(sqrt(0.048)) - 2 asin(sqrt(0.04)) (the arcsine's variance is 1/n)
    h = 2 * math.asin(math.sqrt(0.048)) - 2 * math.asin(math.sqrt(0.04))
    textbook = 2 * ((1.959964 + 0.841621) / h) ** 2
    assert experiment["name"] == NAME
    assert experiment["planned_visitors"] == pytest.approx(textbook, rel=0.01)
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        assert instance.get_dynamic_partitions("experiments") == [NAME]

    text = yaml.safe_load(home.experiments.read_text())
    text["experiments"][0]["salt"] = "a-salt-edited-by-hand"
    home.experiments.write_text(yaml.safe_dump(text))
    result = run_pipeline(home, job_name="experiment_registry_job")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert f"experiments[{NAME}].salt: refused" in str(failure.event_specific_data.error)
    assert json.loads(home.published_experiments.read_text()) == published  # still served

    text["experiments"][0]["salt"] = experiment["salt"]
    home.experiments.write_text(yaml.safe_dump(text))
    assert main(["experiment", "stop", NAME, "--holdback-share", "5"]) == 0
    versions = history(DuckDBWarehouse(path=str(home.warehouse)), NAME)
    assert len(versions) == 2 and versions[-1]["definition"]["end_at"] is not None
    capsys.readouterr()
    assert main(["experiment", "status", "--json"]) == 0
    out = capsys.readouterr().out
    status = json.loads(out[out.index("["):])
    assert [(s["name"], s["state"], s["holdback"]) for s in status] == [
        (NAME, "ended", False), (f"{NAME}-holdback", "running", True)]
    assert status[1]["arms"] == {"control": 5.0, "treatment": 95.0}


def test_create_refuses_what_it_cannot_plan_or_place(home, capsys):
    assert main(["experiment", "create", NAME]) == 2
    assert "--baseline-rate and --mde" in capsys.readouterr().err
    assert main(["experiment", "create", "Bad Name!", "--planned-visitors", "10"]) == 2
    assert "name:" in capsys.readouterr().err
    assert main(["experiment", "create", NAME, "--planned-visitors", "100",
                 "--weights", "control=1,other=1,control=1"]) == 2
    assert "names repeat" in capsys.readouterr().err
    assert main(["experiment", "create", NAME, "--planned-visitors", "100"]) == 0
    capsys.readouterr()
    # a second experiment on the same placement while the first runs
    assert main(["experiment", "create", "homepage-second", "--planned-visitors", "100"]) == 2
    assert "overlap on placement homepage" in capsys.readouterr().err
    assert main(["experiment", "stop", "homepage-second"]) == 2
