"""ml/experiments/statistics.py: each statistic against a published worked example or another
library's function on the same numbers; the error rates by seeded simulation, with tolerances
from the binomial standard error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ml.experiments.statistics import (
    Covariate,
    Mean,
    Proportion,
    Ratio,
    cuped,
    delta_ratio,
    mde_rate,
    power_rate,
    sample_ratio,
    sample_size_mean,
    sample_size_rate,
    two_proportions,
    verdict,
    welch,
)

# Welch's t-test, example 1 of the Wikipedia article (t = -2.46, df = 24.99, p = 0.021)
A1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
A2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]


def three_se(p: float, n: int) -> float:
    return 3 * math.sqrt(p * (1 - p) / n)


def test_welch_matches_the_worked_example_and_scipy_on_the_raw_values():
    result = welch(Mean.of(A1), Mean.of(A2))
    assert result.p_value == pytest.approx(0.021, abs=5e-4)
    raw = stats.ttest_ind(A2, A1, equal_var=False)
    assert result.p_value == pytest.approx(raw.pvalue, rel=1e-9)
    interval = raw.confidence_interval()
    assert (result.lift_low, result.lift_high) == pytest.approx((interval.low, interval.high))
    assert result.lift == pytest.approx(np.mean(A2) - np.mean(A1))
    assert result.significant


def test_two_proportions_equals_the_chi_square_of_the_table_and_statsmodels_intervals():
    control, treatment = Proportion(2_000, 200), Proportion(2_000, 250)
    result = two_proportions(control, treatment)
    table = [[250, 1_750], [200, 1_800]]
    chi2 = stats.chi2_contingency(table, correction=False)  # z^2 of the pooled z-test
    assert result.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    # Wald interval of the difference, by hand: d +/- 1.96 sqrt(p1 q1 / n1 + p2 q2 / n2)
    se = math.sqrt(0.125 * 0.875 / 2_000 + 0.1 * 0.9 / 2_000)
    z = stats.norm.ppf(0.975)
    assert (result.lift_low, result.lift_high) == pytest.approx((0.025 - z * se, 0.025 + z * se))
    # the ratio's interval by its log: exp(log(1.25) +/- z sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2))
    half = z * math.sqrt(1 / 250 - 1 / 2_000 + 1 / 200 - 1 / 2_000)
    assert result.relative_low == pytest.approx(1.25 * math.exp(-half) - 1)
    assert result.relative_high == pytest.approx(1.25 * math.exp(half) - 1)
    assert result.relative_lift == pytest.approx(0.25)


def test_no_variation_at_all_is_not_a_difference():
    assert two_proportions(Proportion(100, 0), Proportion(100, 0)).p_value == 1.0
    assert welch(Mean.of([1.0] * 10), Mean.of([1.0] * 10)).p_value == 1.0


def test_the_delta_method_variance_is_that_of_the_linearized_values():
    rng = np.random.default_rng(3)
    orders = rng.poisson(1.2, 5_000)
    revenue = orders * rng.gamma(4.0, 10.0, 5_000)
    ratio = Ratio.of(revenue, orders)
    # Deng et al.: the ratio's variance = var((x - r y) / mean y) / n
    r, mean_y = revenue.sum() / orders.sum(), orders.mean()
    linear = (revenue - r * orders) / mean_y
    assert ratio.variance == pytest.approx(linear.var(ddof=1) / len(orders), rel=1e-9)
    assert ratio.value == pytest.approx(r)


def test_delta_ratio_intervals_cover_the_true_ratio_difference_at_their_level():
    rng = np.random.default_rng(11)
    runs, covered = 400, 0
    for _ in range(runs):
        arms = []
        for value in (40.0, 44.0):  # true average order values
            orders = rng.poisson(0.3, 4_000)
            revenue = np.array([rng.exponential(value, k).sum() for k in orders])
            arms.append(Ratio.of(revenue, orders))
        result = delta_ratio(*arms)
        covered += result.lift_low <= 4.0 <= result.lift_high
    assert abs(covered / runs - 0.95) <= three_se(0.95, runs)


def test_cuped_is_welch_on_the_adjusted_values_and_narrows_the_interval():
    rng = np.random.default_rng(5)
    before = [rng.gamma(2.0, 5.0, 3_000) for _ in range(2)]
    after = [b * 0.8 + rng.normal(0, 3, 3_000) + lift for b, lift in zip(before, (0.0, 0.5),
                                                                          strict=True)]
    arms = [Covariate.of(y, x) for y, x in zip(after, before, strict=True)]
    result = cuped(*arms)
    x_all, y_all = np.concatenate(before), np.concatenate(after)
    theta = np.cov(x_all, y_all)[0, 1] / x_all.var(ddof=1)
    adjusted = [y - theta * (x - x_all.mean()) for y, x in zip(after, before, strict=True)]
    by_hand = stats.ttest_ind(adjusted[1], adjusted[0], equal_var=False)
    assert result.p_value == pytest.approx(by_hand.pvalue, rel=1e-6)
    assert result.lift == pytest.approx(adjusted[1].mean() - adjusted[0].mean())
    plain = welch(Mean.of(after[0]), Mean.of(after[1]))
    assert result.lift_high - result.lift_low < 0.5 * (plain.lift_high - plain.lift_low)


def test_sample_ratio_is_scipy_s_chi_square_and_flags_51_49_at_100000_visitors():
    check = sample_ratio([50_600, 49_400], [0.5, 0.5])
    assert check.p_value == pytest.approx(stats.chisquare([50_600, 49_400]).pvalue)
    assert check.mismatch
    assert sample_ratio([51_000, 49_000], [0.5, 0.5]).mismatch
    assert not sample_ratio([50_100, 49_900], [0.5, 0.5]).mismatch
    assert not sample_ratio([9_010, 990], [0.9, 0.1]).mismatch  # a 90/10 split as planned


def test_sample_size_is_the_textbook_formula_on_cohen_s_h():
    n = sample_size_rate(0.10, 0.10)
    h = 2 * math.asin(math.sqrt(0.11)) - 2 * math.asin(math.sqrt(0.10))
    # per arm: var(2 asin sqrt(p)) = 1 / n, so the difference has 2 / n
    textbook = 2 * ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / h) ** 2
    assert n == math.ceil(textbook)
    assert power_rate(0.10, 0.10, n) == pytest.approx(0.8, abs=1e-3)
    assert mde_rate(0.10, n) == pytest.approx(0.10, abs=1e-3)
    # means: d = mde / sd, about 2 (z_a + z_b)^2 / d^2 (+1 for the t distribution)
    assert sample_size_mean(10.0, 1.0) == pytest.approx(2 * 2.8016 ** 2 / 0.01, rel=0.01)


def test_a_a_experiments_are_significant_about_five_percent_of_the_time():
    rng = np.random.default_rng(2)
    runs, n = 2_000, 5_000
    conversions = rng.binomial(n, 0.08, size=(runs, 2))
    significant = sum(two_proportions(Proportion(n, int(c)), Proportion(n, int(t))).significant
                      for c, t in conversions)
    assert abs(significant / runs - 0.05) <= three_se(0.05, runs)


def test_observed_power_is_what_the_calculator_predicts():
    rng = np.random.default_rng(4)
    runs, n = 1_000, sample_size_rate(0.08, 0.15, power=0.7)
    predicted = power_rate(0.08, 0.15, n)
    control = rng.binomial(n, 0.08, runs)
    treatment = rng.binomial(n, 0.08 * 1.15, runs)
    found = sum(two_proportions(Proportion(n, int(c)), Proportion(n, int(t))).significant
                for c, t in zip(control, treatment, strict=True))
    assert abs(found / runs - predicted) <= three_se(predicted, runs)


def test_the_verdict_waits_for_the_sample_and_a_mismatch_blocks_it():
    up = two_proportions(Proportion(10_000, 800), Proportion(10_000, 950))
    down = two_proportions(Proportion(10_000, 950), Proportion(10_000, 800))
    flat = two_proportions(Proportion(10_000, 800), Proportion(10_000, 805))
    fair, skewed = sample_ratio([10_000, 10_000], [1, 1]), sample_ratio([10_000, 9_000], [1, 1])
    planned = [10_000, 10_000]
    assert verdict(up, {}, fair, [10_000, 10_000], planned).decision == "ship"
    assert verdict(up, {}, skewed, [10_000, 9_000], [9_000, 9_000]).decision == "stop"
    assert "sample ratio mismatch" in verdict(up, {}, skewed, [10_000, 9_000], planned).reason
    assert verdict(up, {}, fair, [5_000, 5_000], planned).decision == "keep running"
    assert verdict(down, {}, fair, planned, planned).decision == "stop"
    assert verdict(up, {"aov": down}, fair, planned, planned).decision == "stop"
    assert verdict(flat, {}, fair, planned, planned).decision == "inconclusive"
