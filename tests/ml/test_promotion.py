"""A challenger is promoted only if it beats every baseline and is not worse than the champion."""

from ml.evaluation.promotion import decide_promotion


def report(hybrid_all: float, hybrid_new: float, baseline: float = 0.2) -> dict:
    def models(hybrid):
        return {
            "popularity": {"ndcg@10": baseline / 2},
            "repeat": {"ndcg@10": baseline},
            "als": {"ndcg@10": baseline - 0.01},
            "hybrid": {"ndcg@10": hybrid},
        }

    return {"all": {"models": models(hybrid_all)}, "new": {"models": models(hybrid_new)}}


def test_first_model_that_beats_baselines_is_promoted():
    decision = decide_promotion(report(0.4, 0.3), champion=None)
    assert decision.promote
    assert "no champion yet" in decision.reasons


def test_worse_than_champion_is_not_promoted():
    decision = decide_promotion(report(0.4, 0.3), champion=0.45)
    assert not decision.promote
    assert any("worse than champion" in r for r in decision.reasons)


def test_equal_to_champion_is_promoted_because_it_has_newer_data():
    assert decide_promotion(report(0.4, 0.3), champion=0.4).promote


def test_losing_to_a_baseline_in_either_protocol_blocks_promotion():
    assert not decide_promotion(report(0.4, 0.15), champion=None).promote
    assert not decide_promotion(report(0.19, 0.3), champion=None).promote
