"""Business-rule helpers, the answer cache and the settings loader (pure, no model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.consent import ConsentSnapshot, load_consent, read_consent_file, save_consent
from serving.cache import AnswerCache
from serving.rules import allowed_mask, diversify
from serving.settings import ServingSettings, load_settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_diversify_caps_each_category_then_fills_with_the_best_skipped():
    items = np.arange(8)
    categories = np.array([0, 0, 0, 0, 1, 0, 2, 0])  # by item
    positions = diversify(items, categories, k=4, max_share=0.5)  # cap 2 per category
    assert positions.tolist() == [0, 1, 4, 6]
    # Not enough other categories: the best skipped items fill up rather than returning fewer.
    positions = diversify(items[:5], categories, k=5, max_share=0.2)  # cap 1
    assert positions.tolist() == [0, 4, 1, 2, 3]


def test_diversify_with_share_one_keeps_rank_order():
    categories = np.zeros(6, dtype=int)
    assert diversify(np.arange(6), categories, k=3, max_share=1.0).tolist() == [0, 1, 2]


def test_allowed_mask_drops_out_of_stock_and_excluded_items_unless_the_rule_is_off():
    in_stock = np.array([True, False, True, True])
    on = allowed_mask(4, in_stock, np.array([3]), ServingSettings())
    off = allowed_mask(4, in_stock, np.array([3]), ServingSettings(exclude_out_of_stock=False))
    assert on.tolist() == [True, False, True, False]
    assert off.tolist() == [True, True, True, False]


def test_cache_evicts_least_recently_used_and_expires_after_ttl():
    clock = Clock()
    cache = AnswerCache(size=2, ttl_s=10, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3)  # evicts b
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    clock.now = 10.0
    assert cache.get("a") is None  # expired
    assert len(cache) == 1


def test_cache_of_size_zero_stores_nothing():
    cache = AnswerCache(size=0, ttl_s=60)
    cache.put("a", 1)
    assert cache.get("a") is None
    assert len(cache) == 0


def test_settings_come_from_defaults_then_file_then_environment(tmp_path):
    config = tmp_path / "tailor.toml"
    config.write_text("[serving]\nmax_category_share = 0.3\ncache_size = 5\n")
    settings = load_settings({"TAILOR_CONFIG": str(config),
                              "TAILOR_SERVING_CACHE_SIZE": "7",
                              "TAILOR_SERVING_EXCLUDE_PURCHASED": "true",
                              "TAILOR_CONSENT_PATH": "/data/consent.csv"})
    assert settings.max_category_share == 0.3
    assert settings.cache_size == 7
    assert settings.exclude_purchased is True
    assert str(settings.consent_path) == "/data/consent.csv"
    assert load_settings({"TAILOR_HOME": str(tmp_path / "empty")}).exclude_out_of_stock is True
    # an empty variable is unset, not "the current folder"
    assert load_settings({"TAILOR_HOME": str(tmp_path / "empty"), "TAILOR_CONFIG": "",
                          "TAILOR_CONSENT_PATH": ""}).consent_path is None


def test_settings_reject_bad_values_naming_the_variable(tmp_path):
    with pytest.raises(ValueError, match="TAILOR_SERVING_MAX_CATEGORY_SHARE"):
        load_settings({"TAILOR_SERVING_MAX_CATEGORY_SHARE": "2", "TAILOR_HOME": str(tmp_path)})
    with pytest.raises(ValueError, match="TAILOR_SERVING_CONFIG is no longer read"):
        load_settings({"TAILOR_SERVING_CONFIG": str(tmp_path / "serving.json")})
    toml = tmp_path / "tailor.toml"
    toml.write_text("[serving]\ncache_ttl_s = -1\n")
    with pytest.raises(ValueError, match=r"\[serving\] cache_ttl_s in .*tailor.toml"):
        load_settings({"TAILOR_CONFIG": str(toml)})
    # without TAILOR_CONFIG, the home's tailor.toml
    with pytest.raises(ValueError, match="cache_ttl_s"):
        load_settings({"TAILOR_HOME": str(tmp_path)})
    toml.write_text("[serving\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_settings({"TAILOR_CONFIG": str(toml)})


def test_consent_false_opts_out_and_unrecorded_users_get_the_default(tmp_path):
    customers = pd.DataFrame({"user_id": ["a", "b", "c"],
                              "consent_personalization": pd.array([True, False, None],
                                                                  dtype="boolean")})
    save_consent(customers, tmp_path)
    snapshot = load_consent(tmp_path)
    assert [snapshot.allows(u) for u in ("a", "b", "c", "never-seen")] == [True, False, True, True]
    strict = load_consent(tmp_path, default=False)
    assert [strict.allows(u) for u in ("a", "b", "c")] == [True, False, False]


def test_consent_falls_back_to_a_csv_file_when_the_bundle_has_none(tmp_path):
    csv = tmp_path / "consent.csv"
    csv.write_text("user_id,consent_personalization\nu1,false\nu2,true\nu3,\n")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    snapshot = load_consent(bundle, fallback=csv)
    assert (snapshot.allows("u1"), snapshot.allows("u2"), snapshot.allows("u3")) == (
        False, True, True)
    assert snapshot.source == str(csv)
    assert load_consent(bundle).source == "none"
    with pytest.raises(ValueError, match="consent_personalization"):
        ConsentSnapshot.from_frame(pd.DataFrame({"user_id": ["x"]}))
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,consent_personalization\nu1,maybe\n")
    with pytest.raises(ValueError, match="maybe"):
        read_consent_file(bad)
