"""An experiment report's HTML page (templates/experiment.html): the KPI table, the SRM status,
the verdict and an inline-SVG plot of the primary KPI's cumulative lift and its interval."""

from __future__ import annotations

import os
from pathlib import Path

from ml.experiments.analysis import PRE_PERIOD_DAYS
from orchestration.lib.governance import ENVIRONMENT, INDEX

WIDTH, HEIGHT, LEFT, BOTTOM = 760, 260, 50, 20


def write_experiment_page(report: dict, path: Path, reports_root: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page = {"report": report, "definition": report["definition"], "rows": table_rows(report),
            "plot": lift_plot(report["timeline"]), "pre_days": PRE_PERIOD_DAYS,
            "governance": Path(os.path.relpath(reports_root / INDEX, path.parent)).as_posix()}
    path.write_text(ENVIRONMENT.get_template("experiment.html").render(page), encoding="utf-8")
    return path


def _number(value) -> str:
    return "?" if value is None else f"{value:.4g}"


def _percent(value) -> str:
    return "?" if value is None else f"{100 * value:+.1f}%"


def table_rows(report: dict) -> list[dict]:
    rows = []
    for c in report["comparisons"]:
        tone = "" if not c["significant"] else "ok" if (c["lift"] or 0) > 0 else "bad"
        rows.append({"kpi": c["kpi"], "role": c["role"], "arm": c["arm"],
                     "control": _number(c["control"]), "treatment": _number(c["treatment"]),
                     "lift": _number(c["lift"]),
                     "interval": f"{_number(c['lift_low'])} .. {_number(c['lift_high'])}",
                     "relative": _percent(c["relative_lift"]),
                     "relative_interval": f"{_percent(c['relative_low'])} .. "
                                          f"{_percent(c['relative_high'])}",
                     "p": "?" if c["p_value"] is None else f"{c['p_value']:.3g}",
                     "test": c["test"], "tone": tone})
    return rows


def lift_plot(timeline: list[dict]) -> dict | None:
    points = [p for p in timeline if None not in (p["relative_lift"], p["relative_low"],
                                                  p["relative_high"])]
    if len(points) < 2:
        return None
    low = min(0.0, *(p["relative_low"] for p in points))
    high = max(0.0, *(p["relative_high"] for p in points))
    span = (high - low) or 1.0
    right = WIDTH - 10

    def x(i: int) -> float:
        return LEFT + (right - LEFT) * i / (len(points) - 1)

    def y(value: float) -> float:
        return 10 + (HEIGHT - BOTTOM - 20) * (high - value) / span

    def coords(pairs) -> str:
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in pairs)

    upper = [(x(i), y(p["relative_high"])) for i, p in enumerate(points)]
    lower = [(x(i), y(p["relative_low"])) for i, p in enumerate(points)]
    ticks = [{"y": f"{y(v) + 4:.1f}", "label": f"{100 * v:+.0f}%"}
             for v in (high, (high + low) / 2, low)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": right,
            "zero": f"{y(0.0):.1f}", "band": coords(upper + lower[::-1]),
            "line": coords((x(i), y(p["relative_lift"])) for i, p in enumerate(points)),
            "ticks": ticks, "first": points[0]["at"][:16], "last": points[-1]["at"][:16]}
