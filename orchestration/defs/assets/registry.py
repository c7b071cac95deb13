"""Promotion: the challenger enters BentoML's model store only past the blocking gate.

The gate judges the challenger (`challenger_model`'s output, a `ModelFolder`) and keeps its
decision in its own metadata (`decision`); `tailor_bundle` takes the same challenger as its input
and promotes it as the gate decided, with the decision in its model card
(orchestration/lib/promotions.py). Its output, the model now serving (tag, version, folder), is
the input of the drift reports: the UI shows which model each report judged.
"""

import dagster as dg

from ml.evaluation.promotion import decide_promotion
from orchestration.defs.assets.ranking import challenger_model
from orchestration.lib.model_folders import ModelFolder
from orchestration.lib.model_store import ModelStore
from orchestration.lib.promotions import decision_record, promote, verdict


@dg.asset_check(
    asset=challenger_model,
    blocking=True,
    additional_ins={"model_evaluation": dg.AssetIn("model_evaluation")},
    description="The selected contender is not worse than the champion on the headline "
    "protocol's validation split (a first run always passes).",
)
def challenger_beats_champion(challenger_model: ModelFolder, model_evaluation: dict
                              ) -> dg.AssetCheckResult:
    champion_ndcg = model_evaluation["champion_validation_ndcg@10"]
    decision = decide_promotion(model_evaluation)
    record = decision_record(decision, challenger_model, model_evaluation["champion"])
    metadata = {"decision": dg.MetadataValue.json(record),
                "challenger_ndcg@10": decision.challenger,
                "challenger_version": challenger_model.version,
                "contender": model_evaluation["contender"]}
    if champion_ndcg is not None:  # no entry when there is no champion yet
        metadata["champion_ndcg@10"] = champion_ndcg
    return dg.AssetCheckResult(passed=decision.promote, severity=dg.AssetCheckSeverity.ERROR,
                               description="; ".join(decision.reasons), metadata=metadata)


@dg.asset(group_name="serving", kinds={"bentoml"}, io_manager_key="model_reports")
def tailor_bundle(context: dg.AssetExecutionContext, challenger_model: ModelFolder,
                  model_store: ModelStore) -> dg.Output[dict]:
    """The promoted model: the challenger, past challenger_beats_champion, saved as BentoML model
    `tailor` with the gate's decision in its model card."""
    served = promote(challenger_model, verdict(context.instance, challenger_model), model_store)
    metadata = {k: served[k] for k in ("tag", "version", "newly_promoted", "contender")}
    if served["test_ndcg@10"] is not None:  # absent when the test split judged nobody
        metadata["test_ndcg@10"] = served["test_ndcg@10"]
    return dg.Output(served, metadata=metadata)
