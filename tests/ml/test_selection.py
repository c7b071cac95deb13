"""Model selection picks the contender best over every validation cell, by the documented rule."""

from ml.evaluation.selection import MIN_JUDGED, select
from ml.ranking.hybrid import CONTENDERS


def cell(judged: int, **ndcg: float) -> dict:
    return {"users": {"judged": judged},
            "models": {name: {"ndcg@10": value} for name, value in ndcg.items()}}


def protocol(all_cell: dict, new_cell: dict) -> dict:
    return {"all": all_cell, "new": new_cell}


def test_the_contender_closest_to_the_best_everywhere_wins():
    validation = {
        # hybrid wins three cells narrowly, ease one cell by far: the mean share decides
        "calendar": protocol(cell(500, hybrid=0.30, ease=0.29, als=0.10),
                             cell(500, hybrid=0.10, ease=0.09, als=0.05)),
        "last_basket": protocol(cell(900, hybrid=0.20, ease=0.19, als=0.12),
                                cell(900, hybrid=0.02, ease=0.08, als=0.03)),
    }
    selection = select(validation, CONTENDERS)
    assert selection["winner"] == "ease" and selection["runner_up"] == "hybrid"
    assert abs(selection["scores"]["ease"] - (0.29 / 0.30 + 0.9 + 0.95 + 1) / 4) < 1e-9
    assert selection["margin"] > 0
    assert selection["cells"] == ["calendar/all", "calendar/new", "last_basket/all",
                                  "last_basket/new"]


def test_cells_that_judge_too_few_customers_do_not_count():
    validation = {
        "calendar": protocol(cell(MIN_JUDGED - 1, hybrid=0.1, repeat=0.9),
                             cell(MIN_JUDGED - 1, hybrid=0.1, repeat=0.9)),
        "last_basket": protocol(cell(400, hybrid=0.3, repeat=0.2),
                                cell(400, hybrid=0.1, repeat=0.05)),
    }
    selection = select(validation, CONTENDERS)
    assert selection["winner"] == "hybrid"
    assert selection["cells"] == ["last_basket/all", "last_basket/new"]


def test_ties_go_to_the_earlier_contender_and_no_cell_falls_back_to_popularity():
    tie = {"last_basket": protocol(cell(100, als=0.2, hybrid=0.2), cell(100, als=0.1, hybrid=0.1))}
    assert select(tie, CONTENDERS)["winner"] == "hybrid"
    empty = {"calendar": protocol(cell(0), cell(0))}
    assert select(empty, CONTENDERS)["winner"] == "popularity"


def test_the_champion_competes_and_loses_ties_to_the_new_contenders():
    validation = {"last_basket": protocol(cell(100, hybrid=0.2, champion=0.2),
                                          cell(100, hybrid=0.1, champion=0.1))}
    assert select(validation, CONTENDERS)["winner"] == "hybrid"
    better = {"last_basket": protocol(cell(100, hybrid=0.2, champion=0.25),
                                      cell(100, hybrid=0.1, champion=0.1))}
    assert select(better, CONTENDERS)["winner"] == "champion"
