"""The promotion rule: a new model replaces the champion only if it is better, on validation.

The challenger must beat every baseline (popularity, repeat-purchase, ALS alone) on NDCG@10 in both
protocols, and must not be worse than the current champion judged on the same validation window.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ml.ranking.hybrid import BASELINES
from ml.ranking.training import PROTOCOLS

METRIC = "ndcg@10"


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reasons: tuple[str, ...]
    challenger: float  # NDCG@10, protocol "all", validation window
    champion: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def decide_promotion(validation: dict, champion: float | None) -> PromotionDecision:
    """`validation` is `ml.ranking.training.evaluate(...)` on the validation window; `champion` the
    champion's NDCG@10 (protocol "all") on that same window, or None when there is none."""
    reasons, promote = [], True
    for protocol in PROTOCOLS:
        models = validation[protocol]["models"]
        hybrid = models["hybrid"][METRIC]
        best_name = max(BASELINES, key=lambda name: models[name][METRIC])
        best = models[best_name][METRIC]
        if hybrid > best:
            reasons.append(
                f"{protocol}: hybrid {hybrid:.4f} beats best baseline {best_name} {best:.4f}"
            )
        else:
            promote = False
            reasons.append(f"{protocol}: hybrid {hybrid:.4f} does not beat {best_name} {best:.4f}")
    challenger = validation["all"]["models"]["hybrid"][METRIC]
    if champion is None:
        reasons.append("no champion yet")
    elif challenger >= champion:
        reasons.append(f"all: challenger {challenger:.4f} >= champion {champion:.4f}")
    else:
        promote = False
        reasons.append(f"all: challenger {challenger:.4f} is worse than champion {champion:.4f}")
    return PromotionDecision(promote, tuple(reasons), challenger, champion)
