"""The shop's settings file (orchestration/lib/settings.py): checked with errors naming the table
and key, installed in the home, and turned into the run's config; the files source maps a shop's
own column names onto the contract."""

from __future__ import annotations

import argparse

import pytest

from ml.sources.files import check_files, load_files
from orchestration.cli.options import tuning_config
from orchestration.lib.settings import install_settings, read_shop_settings

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
