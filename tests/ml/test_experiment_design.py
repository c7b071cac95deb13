"""Experiments as data (ml/experiments/design.py): the file's checks, the edits a started
experiment refuses, and sticky, balanced assignment that is the same in another process."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta

import pytest
from scipy import stats

from ml.experiments.assignment import Assigner, Running, bucket, read_published, unit_of
from ml.experiments.design import (
    DefinitionError,
    Definitions,
    Experiment,
    check_edits,
    parse_definitions,
    read_definitions,
    write_definitions,
    write_published,
)

NOW = datetime(2026, 12, 2, 12)


def experiment(**changes) -> Experiment:
    values = dict(name="homepage-carousel-2026-12", placement="homepage", salt="s3cr3t-salt",
                  variants=[{"name": "control", "weight": 50, "serves": "trending"},
                            {"name": "treatment", "weight": 50, "serves": "personalized"}],
                  start_at=NOW - timedelta(days=1), planned_visitors=1000)
    return Experiment.model_validate({**values, **changes})


def test_the_file_round_trips_and_its_errors_name_the_experiment_and_the_field(tmp_path):
    path = tmp_path / "experiments.yaml"
    definitions = Definitions(experiments=[experiment()])
    write_definitions(path, definitions)
    assert read_definitions(path) == definitions
    assert read_definitions(tmp_path / "none.yaml") == Definitions()
    bad = {"experiments": [{**experiment().model_dump(mode="json"), "placement": "footer"}]}
    with pytest.raises(DefinitionError, match=r"experiments\[homepage-carousel-2026-12\]"
                                              r"\.placement"):
        parse_definitions(bad, "file")
    no_control = experiment().model_dump(mode="json")
    no_control["variants"][0]["name"] = "baseline"
    with pytest.raises(DefinitionError, match="must be named control"):
        parse_definitions({"experiments": [no_control]}, "file")


def test_times_with_an_offset_become_naive_utc():
    assert experiment(start_at="2026-12-02T14:00:00+02:00").start_at == datetime(2026, 12, 2, 12)
    assert experiment(start_at="2026-12-02T12:00:00Z").running(NOW)


def test_two_experiments_on_one_placement_may_not_overlap():
    first = experiment()
    second = experiment(name="homepage-carousel-2027-01", start_at=NOW)
    with pytest.raises(ValueError, match="overlap on placement homepage"):
        Definitions(experiments=[first, second])
    stopped = first.model_copy(update={"end_at": NOW})
    assert len(Definitions(experiments=[stopped, second]).experiments) == 2


def test_a_started_experiment_refuses_new_weights_or_salt_but_may_stop():
    before = Definitions(experiments=[experiment()])
    reweighted = experiment(variants=[{"name": "control", "weight": 10, "serves": "trending"},
                                      {"name": "treatment", "weight": 90,
                                       "serves": "personalized"}])
    with pytest.raises(DefinitionError, match=r"\.variants: refused, the experiment started"):
        check_edits(before, Definitions(experiments=[reweighted]), NOW)
    with pytest.raises(DefinitionError, match=r"\.salt: refused"):
        check_edits(before, Definitions(experiments=[experiment(salt="another-salt")]), NOW)
    with pytest.raises(DefinitionError, match="cannot be removed"):
        check_edits(before, Definitions(), NOW)
    stopped = Definitions(experiments=[experiment(end_at=NOW)])
    check_edits(before, stopped, NOW)  # stopping is an allowed edit
    with pytest.raises(DefinitionError, match="cannot restart"):
        check_edits(stopped, before, NOW + timedelta(hours=1))
    # not started yet: anything may change
    future = Definitions(experiments=[experiment(start_at=NOW + timedelta(days=1))])
    check_edits(future, Definitions(experiments=[experiment(salt="changed-salt",
                                                            start_at=NOW + timedelta(days=1))]),
                NOW)


def test_assignment_is_sticky_and_splits_by_the_weights():
    assigner = Assigner(experiment(variants=[
        {"name": "control", "weight": 20, "serves": "trending"},
        {"name": "treatment", "weight": 50, "serves": "personalized"},
        {"name": "treatment-b", "weight": 30, "serves": "personalized"}]))
    units = [f"anon:v{i}" for i in range(30_000)]
    arms = [assigner.arm(u) for u in units]
    assert arms == [assigner.arm(u) for u in units]  # the same visitor, the same arm
    counts = Counter(arms)
    observed = [counts[n] for n in ("control", "treatment", "treatment-b")]
    expected = [0.2 * len(units), 0.5 * len(units), 0.3 * len(units)]
    assert stats.chisquare(observed, expected).pvalue > 0.001
    # a new salt reshuffles: about half of the visitors change arm between two 50/50 salts
    a, b = Assigner(experiment()), Assigner(experiment(salt="another-salt"))
    moved = sum(a.arm(u) != b.arm(u) for u in units) / len(units)
    assert 0.47 < moved < 0.53


def test_assignment_is_the_same_in_another_process():
    units = [f"anon:v{i}" for i in range(50)]
    code = ("from ml.experiments.assignment import bucket; import sys; "
            f"print(','.join(str(bucket('s3cr3t-salt', u)) for u in {units!r}))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.strip()
    assert other == ",".join(str(bucket("s3cr3t-salt", u)) for u in units)


def test_the_unit_is_the_first_stitched_visitor_then_the_anonymous_id_then_the_customer():
    assert unit_of("u1", "a1", ("anon:a0", "anon:a1")) == "anon:a0"
    assert unit_of("u1", "a1") == "anon:a1"
    assert unit_of(None, "a1") == "anon:a1"
    assert unit_of("u1", None) == "user:u1"


def test_the_published_file_says_which_experiment_runs_where_and_when(tmp_path):
    running = experiment()
    later = experiment(name="cart-upsell-2027-01", placement="cart", start_at=NOW + timedelta(1))
    version = write_published(tmp_path / "published.json",
                              Definitions(experiments=[running, later]))
    loaded = read_published(tmp_path / "published.json")
    assert loaded.version == version
    assert loaded.at("homepage", NOW).experiment == running
    assert loaded.at("cart", NOW) is None  # not started yet
    assert loaded.at("cart", NOW + timedelta(days=2)).experiment == later
    assert loaded.names(NOW) == [running.name]
    assert not Running()
