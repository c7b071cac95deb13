"""Model selection: which contender becomes the challenger.

The rule, over both protocols: in every (protocol, target) cell of the validation stage that judges
at least `MIN_JUDGED` customers, each contender's NDCG@10 is divided by the best NDCG@10 in that
cell; a contender's selection score is the mean of these shares over the cells. The highest score
wins (ties: the earlier in the given order of contenders, the hybrid first). So a contender wins
by being close to the best everywhere, and no protocol or target outweighs another.

When a model serves, its settings refit on the same data compete too, as `CHAMPION` (last on
ties: the same settings with newer data is the new model). If it wins, the challenger is the
champion's settings refit on the newer data.
"""

from __future__ import annotations

from ml.evaluation.protocols import TARGETS

METRIC = "ndcg@10"
MIN_JUDGED = 20  # customers a cell needs to count
FALLBACK = "popularity"  # when no cell judges anyone: what needs no history at all
CHAMPION = "champion"  # the serving model's settings, refit on the same data


def select(validation: dict[str, dict], contenders: tuple[str, ...]) -> dict:
    """`validation`: protocol -> `ml.ranking.training.evaluate(...)` of its validation split
    (with a `CHAMPION` row where a model serves); `contenders`: their names in tie-break order
    (`ml.ranking.hybrid.CONTENDERS`). Returns the winner, every contender's score, the cells used
    and the winner's margin."""
    cells = {}
    for protocol, report in validation.items():
        for target in TARGETS:
            entry = report[target]
            models = entry["models"]
            best = max((row[METRIC] for row in models.values()), default=0.0)
            if entry["users"]["judged"] >= MIN_JUDGED and best > 0:
                cells[f"{protocol}/{target}"] = {name: row[METRIC] / best
                                                 for name, row in models.items()}
    if not cells:
        return {"winner": FALLBACK, "runner_up": None, "scores": {}, "cells": [], "margin": None,
                "reason": f"no validation cell judges {MIN_JUDGED} customers: {FALLBACK}, "
                          f"which needs no history"}
    names = [c for c in (*contenders, CHAMPION) if all(c in shares for shares in cells.values())]
    scores = {name: sum(shares[name] for shares in cells.values()) / len(cells)
              for name in names}
    ranked = sorted(names, key=lambda name: (-scores[name], names.index(name)))
    winner = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else None
    margin = (scores[winner] / scores[runner_up] - 1) if runner_up and scores[runner_up] else None
    reason = (f"{winner} has the best mean share of the best NDCG@10 over {len(cells)} "
              f"validation cells ({', '.join(cells)}): {scores[winner]:.3f}")
    if runner_up is not None:
        reason += f", vs {runner_up} {scores[runner_up]:.3f}"
    return {"winner": winner, "runner_up": runner_up, "scores": scores, "cells": list(cells),
            "margin": margin, "reason": reason}
