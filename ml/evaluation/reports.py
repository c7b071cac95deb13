"""What the model assets report, as plain JSON-able dicts: the tuning report, the evaluation report
(the tuned settings and the champion's, beside the baselines) and the challenger's model card."""

from __future__ import annotations

from datetime import datetime

from ml.data import Catalog, EventLog, Windows
from ml.ranking.training import TrainingParams, evaluate, train_hybrid


def tuning_report(best: TrainingParams, trials: list[dict], windows: Windows) -> dict:
    return {"best": best.to_dict(), "trials": trials, "windows": windows.describe()}


def evaluation_report(
    log: EventLog,
    catalog: Catalog,
    windows: Windows,
    params: TrainingParams,
    champion: dict | None = None,
) -> dict:
    """`params` on the validation and test windows, in both protocols, beside the baselines; and
    the champion ({"tag", "metadata": {"params"}}) judged on the same validation window, its
    settings refit on this data (its NDCG@10 is None when there is no champion)."""
    validation = _evaluate_on(log, catalog, windows, params, "validation")
    report = {
        "windows": windows.describe(),
        "params": params.to_dict(),
        "validation": validation,
        "test": _evaluate_on(log, catalog, windows, params, "test"),
        "champion": champion and champion["tag"],
        "champion_validation_ndcg@10": None,
    }
    if champion is not None:
        champion_params = TrainingParams.from_dict(champion["metadata"]["params"])
        same = champion_params == params
        judged = validation if same else _evaluate_on(log, catalog, windows, champion_params,
                                                      "validation")
        report["champion_validation_ndcg@10"] = judged["all"]["models"]["hybrid"]["ndcg@10"]
    return report


def _evaluate_on(log: EventLog, catalog: Catalog, windows: Windows, params: TrainingParams,
                 window: str) -> dict:
    """validation: fit before validation_start, judged up to test_start; test: fit before
    test_start (ranker labelled on the validation window), judged up to as_of."""
    cutoff, end = ((windows.validation_start, windows.test_start) if window == "validation"
                   else (windows.test_start, windows.as_of))
    model = train_hybrid(log, catalog, cutoff, windows.validation_days, params)
    return evaluate(model, log, end)


def model_card(run_id: str, code_version: str, log: EventLog, catalog: Catalog,
               windows: Windows, evaluation: dict) -> dict:
    """The challenger's card: version, data window, settings and their evaluation, sizes."""
    as_of = datetime.utcfromtimestamp(windows.as_of)
    return {
        "version": f"{as_of:%Y%m%d}-{run_id[:8]}",
        "run_id": run_id,
        "code_version": code_version,
        "trained_at": datetime.utcnow().isoformat(timespec="seconds"),
        "data_window": {
            "first_event": datetime.utcfromtimestamp(float(log.time.min())).isoformat(),
            **windows.describe(),
        },
        "params": evaluation["params"],
        "validation": evaluation["validation"],
        "test": evaluation["test"],
        "users": int(log.n_users),
        "items": int(catalog.size),
        "events": len(log),
    }
