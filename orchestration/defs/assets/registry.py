"""Promotion: the challenger enters BentoML's model store only past the blocking gate."""

import json
import shutil

import dagster as dg

from ml.promotion import decide_promotion
from orchestration.defs.assets.ranking import challenger_model
from orchestration.lib.model_store import ModelStore
from orchestration.lib.reports import ReportStore


@dg.asset_check(
    asset=challenger_model,
    blocking=True,
    description="The challenger beats every baseline in both protocols and is not worse "
    "than the champion, on the validation window.",
)
def challenger_beats_champion(reports: ReportStore) -> dg.AssetCheckResult:
    evaluation = reports.read_json("models", "evaluation")
    decision = decide_promotion(evaluation["validation"], evaluation["champion_validation_ndcg@10"])
    reports.write_json("models", "promotion", decision.to_dict())
    return dg.AssetCheckResult(
        passed=decision.promote,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(decision.reasons),
        metadata={
            "challenger_ndcg@10": decision.challenger,
            "champion_ndcg@10": decision.champion,  # None (null) when there is no champion yet
        },
    )


@dg.asset(group_name="serving", deps=[challenger_model], kinds={"bentoml"})
def tailor_bundle(
    context: dg.AssetExecutionContext, model_store: ModelStore, reports: ReportStore
) -> dg.MaterializeResult:
    """The promoted model: the challenger's bundle saved as BentoML model `tailor`."""
    folder = model_store.challenger_folder(context.run.run_id)
    card = json.loads((folder / "model_card.json").read_text())
    card["promotion"] = reports.read_json("models", "promotion")
    (folder / "model_card.json").write_text(json.dumps(card, indent=2, default=str))
    test = card["test"]["all"]["models"]["hybrid"]
    tag = model_store.promote(
        folder,
        metadata={
            "version": card["version"],
            "params": card["params"],
            "code_version": card["code_version"],
            "data_window": card["data_window"],
            "test_ndcg@10": test["ndcg@10"],
            "validation_ndcg@10": card["validation"]["all"]["models"]["hybrid"]["ndcg@10"],
        },
        labels={"version": card["version"], "run_id": card["run_id"]},
    )
    shutil.rmtree(
        folder
    )  # the store holds it now; challengers that failed the gate stay for review
    return dg.MaterializeResult(
        metadata={"tag": tag, "version": card["version"], "test_ndcg@10": test["ndcg@10"]}
    )
