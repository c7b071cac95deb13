"""Promotion: the challenger enters BentoML's model store only past the blocking gate.

The gate's decision is the check's own metadata (`decision`); `tailor_bundle` promotes the newest
challenger that passed it, with the decision in its model card (orchestration/lib/promotions.py).
"""

import dagster as dg

from ml.evaluation.promotion import decide_promotion
from ml.evaluation.reports import contender_ndcg
from orchestration.defs.assets.ranking import challenger_model
from orchestration.lib.model_store import ModelStore
from orchestration.lib.promotions import decision_record, promote_latest_passed


@dg.asset_check(
    asset=challenger_model,
    blocking=True,
    additional_ins={"model_evaluation": dg.AssetIn("model_evaluation")},
    description="The selected contender is not worse than the champion on the headline "
    "protocol's validation split (a first run always passes).",
)
def challenger_beats_champion(challenger_model: dict, model_evaluation: dict
                              ) -> dg.AssetCheckResult:
    champion_ndcg = model_evaluation["champion_validation_ndcg@10"]
    decision = decide_promotion(model_evaluation)
    record = decision_record(decision, challenger_model, model_evaluation["champion"])
    metadata = {"decision": dg.MetadataValue.json(record),
                "challenger_ndcg@10": decision.challenger,
                "challenger_version": challenger_model["version"],
                "contender": model_evaluation["contender"]}
    if champion_ndcg is not None:  # no entry when there is no champion yet
        metadata["champion_ndcg@10"] = champion_ndcg
    return dg.AssetCheckResult(passed=decision.promote, severity=dg.AssetCheckSeverity.ERROR,
                               description="; ".join(decision.reasons), metadata=metadata)


@dg.asset(group_name="serving", deps=[challenger_model], kinds={"bentoml"})
def tailor_bundle(context: dg.AssetExecutionContext, model_store: ModelStore
                  ) -> dg.MaterializeResult:
    """The promoted model: the newest challenger that passed challenger_beats_champion, saved as
    BentoML model `tailor` with the gate's decision in its model card."""
    promoted = promote_latest_passed(context.instance, model_store)
    card = promoted["card"]
    metadata = {"tag": promoted["tag"], "version": card["version"],
                "newly_promoted": promoted["new"], "contender": card["contender"]}
    test_ndcg = contender_ndcg(card["test"], card["contender"])
    if test_ndcg is not None:  # absent when the test split judged nobody
        metadata["test_ndcg@10"] = test_ndcg
    return dg.MaterializeResult(metadata=metadata)
