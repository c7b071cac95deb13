"""The statistics of an experiment, on sufficient statistics per arm: scipy and statsmodels do the
distributions and tests; this module only says which test a metric gets and what it reports.

A metric's unit is the visitor (the randomization unit): each arm's data is per-visitor sums.

- rates (conversion: did the visitor buy?): `Proportion`, two-proportion z-test
  (`statsmodels.stats.proportion.proportions_ztest`, pooled variance), the interval of the
  difference by Wald (`confint_proportions_2indep`), of the ratio by its log (same function);
- means per visitor (revenue per visitor, session length): `Mean`, Welch's t-test
  (`scipy.stats.ttest_ind_from_stats`, equal_var=False) and its interval with the
  Welch-Satterthwaite degrees of freedom; the relative lift's interval by the delta method;
- ratios of two per-visitor sums (average order value = revenue / orders, CTR per impression =
  clicks / impressions): `Ratio`, the delta method for the variance of each arm's ratio
  (Deng et al. 2018, "Applying the Delta Method in Metric Analytics"), then a z-test;
- sample-ratio mismatch: `scipy.stats.chisquare` of the visitors per arm against the planned
  weights, an alarm at p < SRM_ALPHA;
- planning: `statsmodels.stats.power` (NormalIndPower on Cohen's h for rates, TTestIndPower for
  means): sample size per arm, power, minimum detectable effect;
- CUPED: a mean adjusted by a pre-period covariate (theta pooled over both arms), then Welch.

Peeking: the verdict is fixed-horizon. `verdict` says "keep running" until every arm has its
planned sample, whatever the p-value is before: the 5% error rate holds for one look at the
planned size, not for a look every day (the daily report shows the interval, not a verdict).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

ALPHA = 0.05
SRM_ALPHA = 0.001


# -- sufficient statistics per arm -----------------------------------------------------------------


@dataclass(frozen=True)
class Proportion:
    """Visitors and how many of them did it (bought, clicked...)."""

    n: int
    successes: int

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else math.nan


@dataclass(frozen=True)
class Mean:
    """A per-visitor value: visitors, sum and sum of squares."""

    n: int
    total: float
    squares: float

    @classmethod
    def of(cls, values) -> Mean:
        values = np.asarray(values, dtype=np.float64)
        return cls(len(values), float(values.sum()), float((values ** 2).sum()))

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """The sample variance (n - 1)."""
        if self.n < 2:
            return math.nan
        return max(0.0, (self.squares - self.total ** 2 / self.n) / (self.n - 1))


@dataclass(frozen=True)
class Ratio:
    """Two per-visitor values whose sums' ratio is the metric (revenue / orders): visitors, the
    sums and squares of each, and the sum of their products."""

    n: int
    numerator: float
    numerator_squares: float
    denominator: float
    denominator_squares: float
    products: float

    @classmethod
    def of(cls, numerators, denominators) -> Ratio:
        x = np.asarray(numerators, dtype=np.float64)
        y = np.asarray(denominators, dtype=np.float64)
        return cls(len(x), float(x.sum()), float((x ** 2).sum()), float(y.sum()),
                   float((y ** 2).sum()), float((x * y).sum()))

    @property
    def value(self) -> float:
        return self.numerator / self.denominator if self.denominator else math.nan

    @property
    def variance(self) -> float:
        """Variance of the ratio of sums by the delta method: (var_x - 2 r cov_xy + r^2 var_y) /
        (n mean_y^2), with sample (co)variances per visitor."""
        n = self.n
        if n < 2 or not self.denominator:
            return math.nan
        r, mean_y = self.value, self.denominator / n
        var_x = (self.numerator_squares - self.numerator ** 2 / n) / (n - 1)
        var_y = (self.denominator_squares - self.denominator ** 2 / n) / (n - 1)
        cov = (self.products - self.numerator * self.denominator / n) / (n - 1)
        return max(0.0, (var_x - 2 * r * cov + r * r * var_y) / (n * mean_y ** 2))


@dataclass(frozen=True)
class Covariate:
    """A per-visitor value with a pre-period covariate: sums of y, y^2, x, x^2 and x*y (CUPED)."""

    y: Mean
    x: Mean
    products: float

    @classmethod
    def of(cls, values, before) -> Covariate:
        y, x = np.asarray(values, np.float64), np.asarray(before, np.float64)
        return cls(Mean.of(y), Mean.of(x), float((x * y).sum()))


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Treatment against control on one metric."""

    test: str
    control: float
    treatment: float
    lift: float  # treatment - control
    lift_low: float
    lift_high: float
    relative_lift: float  # treatment / control - 1
    relative_low: float
    relative_high: float
    p_value: float
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        return bool(self.p_value < self.alpha)


@dataclass(frozen=True)
class SampleRatio:
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    p_value: float

    @property
    def mismatch(self) -> bool:
        return bool(self.p_value < SRM_ALPHA)


# -- tests -----------------------------------------------------------------------------------------


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _relative(control: float, treatment: float, var_c: float, var_t: float,
              alpha: float) -> tuple[float, float, float]:
    """treatment / control - 1 and its interval by the delta method (variances of the means)."""
    if not control:
        return math.nan, math.nan, math.nan
    ratio = treatment / control
    se = math.sqrt(var_t / control ** 2 + treatment ** 2 * var_c / control ** 4)
    half = _z(alpha) * se
    return ratio - 1, ratio - 1 - half, ratio - 1 + half


def two_proportions(control: Proportion, treatment: Proportion,
                    alpha: float = ALPHA) -> Comparison:
    """Two-proportion z-test (pooled), Wald interval of the difference, log interval of the
    ratio."""
    counts, visitors = [treatment.successes, control.successes], [treatment.n, control.n]
    if control.successes + treatment.successes in (0, control.n + treatment.n):
        p_value = 1.0  # no variation at all: nothing to tell apart
    else:
        p_value = float(proportions_ztest(counts, visitors)[1])
    low, high = confint_proportions_2indep(treatment.successes, treatment.n, control.successes,
                                           control.n, method="wald", compare="diff",
                                           alpha=alpha)
    if control.successes and treatment.successes:
        r_low, r_high = confint_proportions_2indep(
            treatment.successes, treatment.n, control.successes, control.n, method="log",
            compare="ratio", alpha=alpha)
        r_low, r_high = r_low - 1, r_high - 1
    else:
        r_low = r_high = math.nan
    c, t = control.rate, treatment.rate
    return Comparison("two-proportion z-test", c, t, t - c, float(low), float(high),
                      t / c - 1 if c else math.nan, float(r_low), float(r_high), p_value, alpha)


def welch(control: Mean, treatment: Mean, alpha: float = ALPHA) -> Comparison:
    """Welch's t-test and the interval of the difference of means (Welch-Satterthwaite df)."""
    var_c, var_t = control.variance / control.n, treatment.variance / treatment.n
    c, t = control.mean, treatment.mean
    se = math.sqrt(var_c + var_t)
    if se == 0:
        p_value, half = (1.0 if t == c else 0.0), 0.0
    else:
        p_value = float(stats.ttest_ind_from_stats(
            t, math.sqrt(treatment.variance), treatment.n, c, math.sqrt(control.variance),
            control.n, equal_var=False).pvalue)
        df = (var_c + var_t) ** 2 / (var_c ** 2 / (control.n - 1) + var_t ** 2 / (treatment.n - 1))
        half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    relative, r_low, r_high = _relative(c, t, var_c, var_t, alpha)
    return Comparison("Welch's t-test", c, t, t - c, t - c - half, t - c + half, relative,
                      r_low, r_high, p_value, alpha)


def delta_ratio(control: Ratio, treatment: Ratio, alpha: float = ALPHA) -> Comparison:
    """A ratio metric: each arm's variance by the delta method, then a z-test."""
    c, t = control.value, treatment.value
    var_c, var_t = control.variance, treatment.variance
    se = math.sqrt(var_c + var_t)
    if se == 0 or math.isnan(se):
        p_value = 1.0 if t == c or math.isnan(se) else 0.0
        half = 0.0 if se == 0 else math.nan
    else:
        p_value = float(2 * stats.norm.sf(abs(t - c) / se))
        half = _z(alpha) * se
    relative, r_low, r_high = _relative(c, t, var_c, var_t, alpha)
    return Comparison("delta method z-test", c, t, t - c, t - c - half, t - c + half, relative,
                      r_low, r_high, p_value, alpha)


def cuped(control: Covariate, treatment: Covariate, alpha: float = ALPHA) -> Comparison:
    """Welch on y - theta (x - mean x), theta = cov(x, y) / var(x) pooled over both arms: the same
    expected difference, less variance when the pre-period predicts the metric."""
    n = control.y.n + treatment.y.n
    x_total = control.x.total + treatment.x.total
    y_total = control.y.total + treatment.y.total
    var_x = (control.x.squares + treatment.x.squares - x_total ** 2 / n) / (n - 1)
    cov = (control.products + treatment.products - x_total * y_total / n) / (n - 1)
    theta = cov / var_x if var_x > 0 else 0.0
    x_mean = x_total / n

    def adjusted(arm: Covariate) -> Mean:
        # sums of y' = y - theta (x - x_mean), from the arm's sums
        shift = theta * (arm.x.total - arm.y.n * x_mean)
        total = arm.y.total - shift
        squares = (arm.y.squares - 2 * theta * (arm.products - x_mean * arm.y.total)
                   + theta ** 2 * (arm.x.squares - 2 * x_mean * arm.x.total
                                   + arm.y.n * x_mean ** 2))
        return Mean(arm.y.n, total, squares)

    return replace(welch(adjusted(control), adjusted(treatment), alpha),
                   test="Welch's t-test, CUPED")


def sample_ratio(visitors: list[int], weights: list[float]) -> SampleRatio:
    """Chi-square goodness of fit of the visitors per arm to the planned weights."""
    total, weight = sum(visitors), sum(weights)
    expected = [total * w / weight for w in weights]
    p_value = float(stats.chisquare(visitors, expected).pvalue) if total else 1.0
    return SampleRatio(tuple(visitors), tuple(expected), p_value)


# -- planning --------------------------------------------------------------------------------------


def sample_size_rate(baseline: float, relative_mde: float, alpha: float = ALPHA,
                     power: float = 0.8, ratio: float = 1.0) -> int:
    """Visitors the control arm needs (treatment: `ratio` times as many) to detect a rate going
    from `baseline` to baseline x (1 + relative_mde)."""
    effect = abs(proportion_effectsize(baseline * (1 + relative_mde), baseline))
    return math.ceil(NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power,
                                                  ratio=ratio))


def power_rate(baseline: float, relative_effect: float, n_control: int, alpha: float = ALPHA,
               ratio: float = 1.0) -> float:
    """Probability that the two-proportion test finds this effect with these visitors."""
    effect = abs(proportion_effectsize(baseline * (1 + relative_effect), baseline))
    return float(NormalIndPower().power(effect_size=effect, nobs1=n_control, alpha=alpha,
                                        ratio=ratio))


def mde_rate(baseline: float, n_control: int, alpha: float = ALPHA, power: float = 0.8,
             ratio: float = 1.0) -> float:
    """The smallest relative rise of the rate these visitors detect with this power."""
    h = NormalIndPower().solve_power(nobs1=n_control, alpha=alpha, power=power, ratio=ratio)
    # Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)), solved for p1
    p1 = math.sin(h / 2 + math.asin(math.sqrt(baseline))) ** 2
    return p1 / baseline - 1


def sample_size_mean(sd: float, absolute_mde: float, alpha: float = ALPHA, power: float = 0.8,
                     ratio: float = 1.0) -> int:
    """Visitors the control arm needs to detect a change of the mean by `absolute_mde`."""
    return math.ceil(TTestIndPower().solve_power(effect_size=abs(absolute_mde) / sd, alpha=alpha,
                                                 power=power, ratio=ratio))


# -- the verdict -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    decision: str  # ship | keep running | stop | inconclusive
    reason: str


def verdict(primary: Comparison, guardrails: dict[str, Comparison], srm: SampleRatio,
            visitors: list[int], planned: list[int]) -> Verdict:
    """A plain decision, fixed-horizon (see the module docstring). A sample-ratio mismatch blocks
    every other reading: the split itself is broken."""
    if srm.mismatch:
        return Verdict("stop", f"sample ratio mismatch (chi-square p = {srm.p_value:.2g} < "
                               f"{SRM_ALPHA}): the assignment or the logging is broken; fix it "
                               "and restart")
    short = [f"{n:,} of {p:,}" for n, p in zip(visitors, planned, strict=True) if n < p]
    if short:
        return Verdict("keep running", f"the planned sample is not reached ({'; '.join(short)} "
                                       "visitors): no verdict before it")
    harmed = [name for name, c in guardrails.items() if c.significant and c.lift < 0]
    if primary.significant and primary.lift < 0:
        return Verdict("stop", f"the primary KPI fell ({primary.relative_lift:+.1%}, p = "
                               f"{primary.p_value:.2g})")
    if harmed:
        return Verdict("stop", f"guardrail(s) {', '.join(harmed)} fell significantly")
    if primary.significant:
        return Verdict("ship", f"the primary KPI rose {primary.relative_lift:+.1%} (95% interval "
                               f"{primary.relative_low:+.1%} .. {primary.relative_high:+.1%}, "
                               f"p = {primary.p_value:.2g}); no guardrail fell")
    return Verdict("inconclusive", f"no significant difference at the planned sample (p = "
                                   f"{primary.p_value:.2g}); the interval "
                                   f"{primary.lift_low:+.4g} .. {primary.lift_high:+.4g} bounds "
                                   "the effect")
