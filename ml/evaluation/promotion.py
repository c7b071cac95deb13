"""The promotion rule: the challenger replaces the champion when it won a selection the champion
competed in.

Model selection (`ml.evaluation.selection`) chooses the best contender on validation, the champion's
settings refit on the same data among them (`CHAMPION`). So a first run on valid data always
promotes; later, the challenger is either better than the champion's settings on this data, or is
those settings refit on newer data. What is refused: an evaluation in which the champion did not
compete (it was made before this champion served; `orchestration.lib.promotions` refuses stale
decisions too).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ml.evaluation.selection import CHAMPION, METRIC

__all__ = ["METRIC", "PromotionDecision", "decide_promotion"]


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reasons: tuple[str, ...]
    challenger: float  # NDCG@10, target "all", headline protocol's validation split
    champion: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def decide_promotion(evaluation: dict) -> PromotionDecision:
    """`evaluation` is `ml.evaluation.reports.evaluation_report(...)`."""
    selection = evaluation["selection"]
    challenger = evaluation["challenger_validation_ndcg@10"] or 0.0
    champion = evaluation["champion_validation_ndcg@10"]
    cell = f"{evaluation['protocol']}/all"
    reasons = [f"selected {evaluation['contender']}: {selection['reason']}"]
    promote = True
    if evaluation["champion"] is None:
        reasons.append("no champion yet")
    elif CHAMPION not in selection["scores"]:
        promote = False
        reasons.append(f"the champion {evaluation['champion']} did not compete in this selection")
    elif selection["winner"] == CHAMPION:
        reasons.append(f"the champion's settings won: refit on newer data ({cell}: "
                       f"{challenger:.4f})")
    else:
        reasons.append(f"beat the champion's settings refit on this data ({cell}: challenger "
                       f"{challenger:.4f}, champion {champion:.4f})")
    return PromotionDecision(promote, tuple(reasons), challenger, champion)
