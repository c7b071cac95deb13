"""Experiments in the answers (serving/experiment_arms.py with ml/experiments/assignment.py), in
process: every answer on the experiment's placement names the experiment and the visitor's
sticky arm, the control arm gets the non-personalized answer of the same code path, visitors
without consent are left out, and each answer's exposure is logged once, cached or not. Over
HTTP, with the stream and the warehouse: test_http_experiments.py."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from serving_support import VERSION_1

from ml.experiments.design import Definitions, Experiment, write_published
from serving.engine import Engine
from serving.schemas import HomepageRequest, RecommendRequest
from serving.settings import ServingSettings

pytestmark = pytest.mark.integration


def published(folder, placement="homepage", **changes):
    experiment = Experiment.model_validate({
        "name": "homepage-carousel-2026-12", "placement": placement, "salt": "test-salt-1",
        "variants": [{"name": "control", "weight": 50, "serves": "trending"},
                     {"name": "treatment", "weight": 50, "serves": "personalized"}],
        "start_at": datetime.utcnow() - timedelta(days=1), "planned_visitors": 100, **changes})
    path = folder / "published.json"
    write_published(path, Definitions(experiments=[experiment]))
    return path


def engine(trained, path, **settings) -> tuple[Engine, list[dict]]:
    engine = Engine(ServingSettings(experiments_path=path, request_logs=False, **settings))
    engine.load(trained.folder, f"tailor:{VERSION_1}")
    logged: list[dict] = []
    engine.recorder.exposures = logged.append
    return engine, logged


def customers(trained) -> list[str]:
    index = trained.bundle.model.index
    return [u for u in index.user_ids.tolist() if index.history[index.user_index[u]].nnz
            and u != trained.opted_out]


def test_each_visitor_keeps_an_arm_and_control_gets_the_unknown_visitors_answer(trained,
                                                                              tmp_path):
    served, logged = engine(trained, published(tmp_path), cache_size=0)
    arms = {}
    for user in customers(trained)[:40]:
        answer = served.recommend(RecommendRequest(user_id=user, placement="homepage"), "r")
        assert answer.experiment == "homepage-carousel-2026-12"
        arms[user] = answer.variant
        if answer.variant == "control":
            assert not answer.personalized and answer.fallback_reason == "experiment_control"
            stranger = served.recommend(RecommendRequest(user_id="nobody-knows-me"), "s")
            assert [i.item_id for i in answer.items] == [i.item_id for i in stranger.items]
        else:
            assert answer.personalized and answer.fallback_reason is None
    assert set(arms.values()) == {"control", "treatment"}
    again, _ = engine(trained, published(tmp_path), cache_size=0)  # a restart, another worker
    for user, arm in arms.items():
        page = again.homepage(HomepageRequest(user_id=user), "h")
        assert page.variant == arm and page.experiment == "homepage-carousel-2026-12"
        assert page.carousels[0].id == ("trending" if arm == "control" else "picked_for_you")


def test_other_placements_and_other_endpoints_are_outside_the_experiment(trained, tmp_path):
    served, logged = engine(trained, published(tmp_path, placement="cart"))
    user = customers(trained)[0]
    home = served.recommend(RecommendRequest(user_id=user, placement="homepage"), "r1")
    assert home.experiment is None and home.variant is None and home.personalized
    cart = served.recommend(RecommendRequest(user_id=user, placement="cart"), "r2")
    assert cart.experiment == "homepage-carousel-2026-12" and cart.variant is not None
    assert [e["request_id"] for e in logged] == ["r2"]


def test_visitors_without_consent_are_left_out_and_say_so(trained, tmp_path):
    served, logged = engine(trained, published(tmp_path))
    answer = served.recommend(RecommendRequest(user_id=trained.opted_out), "r-out")
    assert answer.experiment == "homepage-carousel-2026-12" and answer.variant is None
    assert answer.fallback_reason == "no_consent"
    assert logged[-1]["excluded"] == "no_consent" and logged[-1]["variant"] is None


def test_one_exposure_per_answer_cached_or_not_with_what_was_shown(trained, tmp_path):
    served, logged = engine(trained, published(tmp_path), cache_size=100, cache_ttl_s=600)
    user = customers(trained)[1]
    answers = [served.recommend(RecommendRequest(user_id=user, anonymous_id="dev-1"), f"r{n}")
               for n in range(3)]
    page = served.homepage(HomepageRequest(user_id=user, anonymous_id="dev-1"), "h1")
    assert [a.cached for a in answers] == [False, True, True]
    assert [e["request_id"] for e in logged] == ["r0", "r1", "r2", "h1"]
    assert len({e["event_id"] for e in logged}) == 4
    first = logged[0]
    assert first["unit"] == "anon:dev-1" and first["user_id"] == user
    assert first["variant"] == answers[0].variant and first["endpoint"] == "recommend"
    assert first["item_ids"] == [i.item_id for i in answers[0].items]
    assert logged[3]["item_ids"] == [i.item_id for c in page.carousels for i in c.items]
    assert logged[3]["variant"] == first["variant"]  # the unit is the device, on every endpoint


def test_a_new_published_file_is_read_again_and_clears_the_cache(trained, tmp_path):
    path = published(tmp_path, placement="email")
    served, logged = engine(trained, path, cache_size=100, cache_ttl_s=600)
    user = customers(trained)[2]
    assert served.recommend(RecommendRequest(user_id=user), "a").experiment is None
    published(tmp_path)  # now on the homepage
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    assert served.refresh_experiments()
    answer = served.recommend(RecommendRequest(user_id=user), "b")
    assert answer.experiment == "homepage-carousel-2026-12" and not answer.cached


def test_a_broken_published_file_keeps_the_experiments_the_service_had(trained, tmp_path):
    path = published(tmp_path)
    served, _ = engine(trained, path)
    path.write_text("{not json")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    assert not served.refresh_experiments()
    user = customers(trained)[3]
    assert served.recommend(RecommendRequest(user_id=user), "r").experiment == (
        "homepage-carousel-2026-12")
    broken = Engine(ServingSettings(experiments_path=path, request_logs=False))  # a new worker
    assert not broken.published.running  # starts, without experiments, instead of failing
