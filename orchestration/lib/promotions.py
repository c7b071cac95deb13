"""Promotion decisions as the gate records them, and the promotion of the challenger they passed.

`challenger_beats_champion` (orchestration/defs/assets/registry.py) keeps its decision in its own
metadata, `decision`: promote, reasons, the NDCG@10 of challenger and champion, and which challenger
(version, folder) it judged against which champion. `tailor_bundle` promotes the newest challenger
whose check passed, read from the Dagster instance, so it can be materialized on its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from ml.evaluation.promotion import PromotionDecision
from ml.evaluation.reports import contender_ndcg
from orchestration.lib.model_store import CARD, ModelStore

PROMOTION_CHECK = dg.AssetCheckKey(dg.AssetKey("challenger_model"), "challenger_beats_champion")
HISTORY = 50  # check evaluations searched for the newest that passed


def decision_record(decision: PromotionDecision, challenger: dict,
                    judged_against: str | None) -> dict:
    """The check's `decision` metadata: the decision plus what it was about."""
    return {
        **decision.to_dict(),
        "challenger_version": challenger["version"],
        "challenger_folder": challenger["folder"],
        "judged_against": judged_against,  # the champion's tag at evaluation; None: none yet
    }


def decisions(instance: dg.DagsterInstance, limit: int = HISTORY) -> list[dict]:
    """The gate's recorded decisions, newest first (each with the run id that made it)."""
    records = instance.event_log_storage.get_asset_check_execution_history(PROMOTION_CHECK, limit)
    found = []
    for record in records:
        evaluation = record.event and record.event.asset_check_evaluation
        if evaluation is not None and "decision" in evaluation.metadata:
            found.append({**evaluation.metadata["decision"].value, "run_id": record.run_id})
    return found


def run_decision(result: dg.ExecuteInProcessResult) -> dict | None:
    """The gate's decision in one run, or None when it did not run (an earlier gate failed)."""
    return next((e.metadata["decision"].value for e in result.get_asset_check_evaluations()
                 if e.asset_check_key == PROMOTION_CHECK), None)


def latest_decision(instance: dg.DagsterInstance) -> dict | None:
    """The newest decision, promoted or not (what `tailor status` shows)."""
    return next(iter(decisions(instance, limit=1)), None)


def promote_latest_passed(instance: dg.DagsterInstance, model_store: ModelStore) -> dict:
    """Promote the newest challenger that passed the gate; returns {"tag", "card", "new"}.
    Promoting it again is a no-op (`new` False). Refused when no challenger passed, when its
    folder is gone, or when the champion changed since the gate judged it (a stale decision)."""
    passed = next((d for d in decisions(instance) if d["promote"]), None)
    if passed is None:
        raise ValueError("challenger_beats_champion: no challenger has passed the gate in this "
                         "home; materialize challenger_model (its check runs with it) first")
    version = passed["challenger_version"]
    promoted = model_store.promoted(version)
    if promoted is not None:
        return {"tag": promoted["tag"], "card": _read_card(Path(promoted["path"])), "new": False}
    champion = model_store.champion()
    serving = champion and champion["tag"]
    if serving != passed["judged_against"]:
        raise ValueError(f"challenger_beats_champion: the gate judged {version} against "
                         f"{passed['judged_against'] or 'no champion'}, but {serving} serves "
                         "now; evaluate again (materialize model_evaluation and challenger_model)")
    folder = Path(passed["challenger_folder"])
    if not (folder / CARD).exists():
        raise ValueError(f"challenger_folder: {folder} is gone (only the newest challengers are "
                         "kept); materialize challenger_model again")
    card = {**_read_card(folder), "promotion": _promotion(passed)}
    tag = model_store.promote(folder, card, metadata=promoted_metadata(card),
                              labels={"version": card["version"], "run_id": card["run_id"]})
    return {"tag": tag, "card": card, "new": True}


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
