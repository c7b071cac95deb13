"""The shop's settings file (orchestration/lib/shop_settings.py): checked with errors naming the
table and key, installed in the home, and turned into the run's config; the files source maps a
shop's own column names onto the contract."""

from __future__ import annotations

import argparse

import pytest

from ml.sources.files import check_files, load_files
from orchestration.cli.options import tuning_config
from orchestration.lib.shop_settings import install_settings, read_shop_settings

SETTINGS = """
[columns.events]
user = "user_id"
item = "item_id"
time = "occurred_at"

[gates]
max_quantity = 100000

[tuning]
trials = 2
seconds = 45

[serving]
exclude_purchased = true
"""


def test_a_settings_file_sets_what_it_names_and_keeps_every_other_default(tmp_path):
    path = tmp_path / "shop.toml"
    path.write_text(SETTINGS)
    settings = read_shop_settings(path)
    assert settings.gate_thresholds() == {"max_quantity": 100000}
    assert settings.gates.min_events == 100  # the default
    assert settings.serving.exclude_purchased is True
    assert settings.changed() == {
        "columns": {"events": {"user": "user_id", "item": "item_id", "time": "occurred_at"}},
        "gates": {"max_quantity": 100000}, "tuning": {"trials": 2, "seconds": 45.0},
        "serving": {"exclude_purchased": True}}
    assert read_shop_settings(None).changed() == {}


@pytest.mark.parametrize(("text", "named"), [
    ("[gates]\nmax_quantiy = 5\n", "[gates] max_quantiy: Extra inputs are not permitted"),
    ("[gates]\nmax_quarantine_share = 3\n", "max_quarantine_share: a share between 0 and 1"),
    ("[tuning]\ntrials = 0\n", "[tuning] trials: Input should be greater than or equal to 1"),
    ("[serving]\nmax_category_share = 2\n", "[serving] max_category_share"),
    ("[columns.events]\nuser = \"customer\"\n", "['customer'] are not contract columns"),
    ("[colums]\n", "colums: Extra inputs are not permitted"),
    ("[gates\n", "not valid TOML"),
])
def test_a_bad_settings_file_is_refused_naming_the_key_and_the_reason(tmp_path, text, named):
    path = tmp_path / "shop.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match="settings file .*shop.toml") as error:
        read_shop_settings(path)
    assert named in str(error.value)


def test_install_checks_the_file_then_keeps_it_as_the_home_s_tailor_toml(tmp_path):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(SETTINGS)
    bad.write_text("[tuning]\ntrials = -1\n")
    home = tmp_path / "home"
    with pytest.raises(ValueError, match="trials"):
        install_settings(bad, home)
    assert not (home / "tailor.toml").exists()
    assert install_settings(good, home).read_text() == SETTINGS


def test_tuning_options_win_over_the_file_and_the_file_over_the_defaults(tmp_path):
    path = tmp_path / "shop.toml"
    path.write_text(SETTINGS)
    tuning = read_shop_settings(path).tuning
    none_given = argparse.Namespace(tuning_trials=None, tuning_seconds=None)
    assert tuning_config(none_given, tuning) == {
        "model_tuning": {"source_trials": 2, "ranker_trials": 2, "seconds": 45.0}}
    given = argparse.Namespace(tuning_trials=6, tuning_seconds=None)
    assert tuning_config(given, tuning) == {
        "model_tuning": {"source_trials": 6, "ranker_trials": 6, "seconds": 45.0}}
    assert tuning_config(none_given) == {"model_tuning": {"source_trials": 4, "ranker_trials": 4}}


def test_a_shop_s_own_column_names_are_mapped_onto_the_contract(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("user,item,time,basket\nu1,i1,2026-10-01T00:00:00Z,b1\n"
                      "u2,i2,2026-10-02T00:00:00Z,b2\n")
    refused = check_files(events)
    assert len(refused) == 1 and "missing required column(s) ['user_id', 'item_id', " \
                                 "'occurred_at']" in refused[0]
    assert "[columns.events]" in refused[0]  # the message says where to map them
    columns = {"events": {"user": "user_id", "item": "item_id", "time": "occurred_at",
                          "basket": "order_id"}}
    assert check_files(events, columns=columns) == []
    loaded = load_files(events, columns=columns)
    assert loaded.events[["user_id", "item_id", "order_id"]].values.tolist() == [
        ["u1", "i1", "b1"], ["u2", "i2", "b2"]]
    half = {"events": {"user": "user_id"}}
    problems = check_files(events, columns=half)
    assert "['item_id', 'occurred_at']" in problems[0] and "after [columns.events]" in problems[0]
    both = tmp_path / "both.csv"
    both.write_text("user,user_id,item_id,occurred_at\nu1,u1,i1,2026-10-01T00:00:00Z\n")
    onto_an_existing_column = {"events": {"user": "user_id"}}
    assert "has ['user_id'] twice" in check_files(both, columns=onto_an_existing_column)[0]
    with pytest.raises(ValueError, match="twice"):
        load_files(both, columns=onto_an_existing_column)


def test_scheduled_and_drift_retrains_get_the_settings_file_s_gates_and_tuning(tmp_path,
                                                                                monkeypatch):
    import dagster as dg

    from orchestration.lib.dbt_project import ensure_manifest

    ensure_manifest()
    from orchestration.definitions import defs
    from orchestration.defs.schedules import retrain_tailor_weekly_schedule
    from orchestration.defs.sensors import settings_run_config

    (tmp_path / "tailor.toml").write_text("[gates]\nmax_quantity = 100000\n[tuning]\ntrials = 2\n")
    monkeypatch.setenv("TAILOR_HOME", str(tmp_path))
    context = dg.build_schedule_context(repository_def=defs.get_repository_def())
    ops = retrain_tailor_weekly_schedule(context).run_config["ops"]
    assert ops["model_tuning"]["config"] == {"source_trials": 2, "ranker_trials": 2}
    gates = {name for name, op in ops.items() if op["config"] == {"max_quantity": 100000}}
    assert "raw_events_raw_events_pass_suite" in gates and len(gates) > 5
    sensor = dg.build_sensor_context(repository_def=defs.get_repository_def())
    assert settings_run_config(sensor, "retrain_tailor_job")["ops"] == ops
