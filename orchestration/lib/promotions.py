"""Promotion decisions as the gate records them, and the promotion of the challenger they judged.

`challenger_beats_champion` (orchestration/defs/assets/registry.py) keeps its decision in its own
metadata, `decision`: promote, reasons, the NDCG@10 of challenger and champion, and which challenger
(version, folder) it judged against which champion. `tailor_bundle` takes the challenger as its
input (the `model_folders` IO manager) and the gate's verdict on that very challenger: in a run
that trains it, the blocking check has passed before `tailor_bundle` starts; materialized alone,
`tailor_bundle` reads the check's latest evaluation and refuses one about another challenger.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from ml.evaluation.promotion import PromotionDecision
from ml.evaluation.reports import contender_ndcg
from orchestration.lib.model_folders import ModelFolder
from orchestration.lib.model_store import CARD, ModelStore

PROMOTION_CHECK = dg.AssetCheckKey(dg.AssetKey("challenger_model"), "challenger_beats_champion")


def decision_record(decision: PromotionDecision, challenger: ModelFolder,
                    judged_against: str | None) -> dict:
    """The check's `decision` metadata: the decision plus what it was about."""
    return {
        **decision.to_dict(),
        "challenger_version": challenger.version,
        "challenger_folder": str(challenger.path),
        "judged_against": judged_against,  # the champion's tag at evaluation; None: none yet
    }


def run_decision(result: dg.ExecuteInProcessResult) -> dict | None:
    """The gate's decision in one run, or None when it did not run (an earlier gate failed)."""
    return next((e.metadata["decision"].value for e in result.get_asset_check_evaluations()
                 if e.asset_check_key == PROMOTION_CHECK), None)


def latest_decision(instance: dg.DagsterInstance) -> dict | None:
    """The newest decision, promoted or not (what `tailor status` shows)."""
    record = instance.get_latest_asset_check_evaluation_record(PROMOTION_CHECK)
    evaluation = record is not None and record.event and record.event.asset_check_evaluation
    if not evaluation or "decision" not in evaluation.metadata:
        return None
    return {**evaluation.metadata["decision"].value, "run_id": record.run_id}


def verdict(instance: dg.DagsterInstance, challenger: ModelFolder) -> dict:
    """The gate's decision on `challenger` (its latest evaluation), or a ValueError saying why
    there is none."""
    decision = latest_decision(instance)
    if decision is None or decision["challenger_version"] != challenger.version:
        raise ValueError(f"challenger_beats_champion: the newest challenger ({challenger.version}) "
                         "has not been judged; materialize challenger_model (its check runs "
                         "with it)")
    return decision


def promote(challenger: ModelFolder, decision: dict, model_store: ModelStore) -> dict:
    """Promote `challenger` as the gate decided; {"tag", "version", "path", "contender",
    "newly_promoted"}. Promoting it again is a no-op; refused when the gate said no, or when the
    champion changed since the gate judged it (a stale decision)."""
    version = challenger.version
    if not decision["promote"]:
        raise ValueError(f"challenger_beats_champion: {version} did not pass the gate: "
                         + "; ".join(decision["reasons"]))
    promoted = model_store.promoted(version)
    if promoted is not None:
        return _served(promoted["tag"], Path(promoted["path"]), new=False)
    champion = model_store.champion()
    serving = champion and champion["tag"]
    if serving != decision["judged_against"]:
        raise ValueError(f"challenger_beats_champion: the gate judged {version} against "
                         f"{decision['judged_against'] or 'no champion'}, but {serving} serves "
                         "now; evaluate again (materialize model_evaluation and challenger_model)")
    card = {**challenger.card, "promotion": _promotion(decision)}
    tag = model_store.promote(challenger.path, card, metadata=promoted_metadata(card),
                              labels={"version": card["version"], "run_id": card["run_id"]})
    return _served(tag, Path(model_store.promoted(version)["path"]), new=True)


def _served(tag: str, path: Path, new: bool) -> dict:
    card = _read_card(path)
    return {"tag": tag, "version": card["version"], "path": str(path),
            "contender": card["contender"], "newly_promoted": new,
            "test_ndcg@10": contender_ndcg(card["test"], card["contender"])}


def promoted_metadata(card: dict) -> dict:
    """What the BentoML model carries besides its card (read by `ModelStore.champion`).
    BentoML's metadata holds no None: what is unknown (a split that judged nobody, the purchase
    rhythm of a shop without repeat buyers) has no entry; the card itself keeps it."""
    return _without_none({
        "version": card["version"],
        "params": card["params"],
        "contender": card["contender"],
        "protocol": card["protocol"],
        "code_version": card["code_version"],
        "data_window": card["data_window"],
        "test_ndcg@10": contender_ndcg(card["test"], card["contender"]),
        "validation_ndcg@10": contender_ndcg(card["validation"], card["contender"]),
    })


def _without_none(values: dict) -> dict:
    return {key: _without_none(value) if isinstance(value, dict) else value
            for key, value in values.items() if value is not None}


def _promotion(decision: dict) -> dict:
    """The decision as the model card keeps it."""
    return {name: decision[name] for name in ("promote", "reasons", "challenger", "champion")}


def _read_card(folder: Path) -> dict:
    return json.loads((folder / CARD).read_text())
