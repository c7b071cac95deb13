"""The selected contender is promoted when the champion competed in its selection, or when there is
none yet: a first run always is."""

from ml.evaluation.promotion import decide_promotion


def report(winner: str, champion: str | None, scores: dict) -> dict:
    return {"contender": "ease" if winner == "champion" else winner, "protocol": "last_basket",
            "selection": {"winner": winner, "reason": f"{winner} has the best mean share",
                          "scores": scores},
            "challenger_validation_ndcg@10": 0.2, "champion": champion,
            "champion_validation_ndcg@10": None if champion is None else 0.18}


def test_a_first_run_promotes_whatever_the_baselines_scored():
    decision = decide_promotion(report("popularity", None, {"popularity": 1.0}))
    assert decision.promote
    assert decision.reasons[0] == "selected popularity: popularity has the best mean share"
    assert "no champion yet" in decision.reasons


def test_a_winner_over_the_champion_s_settings_is_promoted():
    decision = decide_promotion(report("hybrid", "tailor:v1", {"hybrid": 1.0, "champion": 0.9}))
    assert decision.promote
    assert decision.reasons[-1] == ("beat the champion's settings refit on this data "
                                    "(last_basket/all: challenger 0.2000, champion 0.1800)")


def test_the_champion_s_settings_winning_are_promoted_refit_on_newer_data():
    decision = decide_promotion(report("champion", "tailor:v1", {"hybrid": 0.8, "champion": 1.0}))
    assert decision.promote and "the champion's settings won" in decision.reasons[-1]


def test_an_evaluation_the_champion_did_not_compete_in_is_refused():
    decision = decide_promotion(report("hybrid", "tailor:v1", {"hybrid": 1.0}))
    assert not decision.promote
    assert decision.reasons[-1] == "the champion tailor:v1 did not compete in this selection"
