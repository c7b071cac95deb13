"""Experiments: definitions and the edits a started one refuses (design.py), sticky assignment
(assignment.py);
the statistics on per-arm sufficient statistics (statistics.py: scipy/statsmodels, planning,
the fixed-horizon verdict); the per-visitor analysis and the report (analysis.py). Method:
docs/experiments.md."""
