"""Experiments: the statistics of an A/B test (statistics.py: scipy/statsmodels on per-arm
sufficient statistics, planning, the fixed-horizon verdict). Assignment, exposure and the
traffic simulator come next (issue: Experiments)."""
