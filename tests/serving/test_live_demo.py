"""The real-time part of `tailor demo` (orchestration/cli/live_demo.py): over real HTTP, this
home's own Redis and a real stream worker, the answers after a visitor's events reflect them."""

from __future__ import annotations

import pytest
from serving_support import VERSION_1, promote

from orchestration.cli.live_demo import VIEWS, format_live_demo, run_live_demo
from orchestration.lib.env import TailorHome
from serving.stream.local_redis import URL_ENV, redis_folder

pytestmark = pytest.mark.integration


def test_the_demo_s_views_change_the_next_answers_and_the_worker_applies_them(
        trained, tmp_path, monkeypatch):
    monkeypatch.delenv(URL_ENV, raising=False)  # the demo starts this home's own Redis
    home = TailorHome(tmp_path / "home")
    promote(home.bentoml, trained.folder, VERSION_1)

    demo = run_live_demo(home)

    customer, anonymous = demo.customer, demo.anonymous
    assert customer.before.personalized and customer.after.personalized
    assert customer.before.share(customer.category) == 0  # a category the answer did not show
    assert customer.after.share(customer.category) > 0  # read-your-writes, before any worker
    assert not anonymous.before.personalized  # trending for someone never seen
    assert anonymous.after.personalized and anonymous.after.share(anonymous.category) > 0
    assert anonymous.category != customer.category
    assert demo.accepted == 2 * VIEWS
    assert [(r["field"], r["reason"]) for r in demo.rejected] == [
        ("event_type", "unknown_event_type")]  # the bad neighbour cost the good events nothing
    assert demo.applied == demo.accepted
    assert f"the stream worker applied {demo.accepted} of {demo.accepted}" in format_live_demo(
        demo)
    assert not (redis_folder(home.root) / "redis.pid").exists()  # its Redis stopped again


def test_without_a_promoted_model_the_demo_says_so(tmp_path):
    assert run_live_demo(TailorHome(tmp_path)) is None
    assert format_live_demo(None) == "Real time: no promoted model to serve"
