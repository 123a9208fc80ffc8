"""The stopping rules beyond the paper's: formulas by hand, and the criterion that uses them."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from scipy.stats import norm

from ray_autoterm.criterion import (
    AutoTermCriterion,
    BoundBelowError,
    CrossValidationErrorEvaluator,
    EMSRGapEvaluator,
    GapBelowThreshold,
    PooledErrorEvaluator,
    ProbabilisticRegretEvaluator,
    RegretBoundEvaluator,
    RegretProbablyBelowError,
)
from ray_autoterm.criterion.rules import (
    RULES,
    consecutive_count,
    emsr_gap,
    emsr_gap_threshold,
    expected_improvement_gap,
    kl_one_observation,
    paired_error,
    pooled_error,
    regret_probability,
    regret_quantile,
    regret_samples,
)
from ray_autoterm.gp import GPFitter, fit_gp
from ray_autoterm.history import History
from ray_autoterm.space import NumericParam, SearchSpace

SPACE_2D = SearchSpace([NumericParam(("a",), 0.0, 1.0), NumericParam(("b",), 0.0, 1.0)])


def _history(n: int, seed: int = 0, noise: float = 0.03) -> History:
    rng, h = np.random.default_rng(seed), History()
    for i in range(n):
        cfg = {"a": float(rng.random()), "b": float(rng.random())}
        base = (cfg["a"] - 0.3) ** 2 + (cfg["b"] - 0.7) ** 2
        h.add(str(i), cfg, list(base + noise * rng.standard_normal(5)))
    return h


# ----------------------------------------------------------------------------- errors by hand
@pytest.mark.parametrize(
    "inc, rivals, combine, expected",
    [
        # d = (−0.5, 0, −0.5), mean −1/3, s² = (1/36 + 1/9 + 1/36)/3 = 1/18;
        # k = 3, ratio 1/2: (1/3 + 1/2)·1/18 = 5/108.
        ([1.0, 2.0, 3.0], [[1.5, 2.0, 3.5]], "median", math.sqrt(5 / 108)),
        # A rival shifted by a constant: the differences have no spread at all.
        ([1.0, 2.0, 3.0], [[2.0, 3.0, 4.0]], "median", 0.0),
        # Two rivals, errors sqrt(5/108) and 0: median = mean = half, min = 0.
        ([1.0, 2.0, 3.0], [[1.5, 2.0, 3.5], [2.0, 3.0, 4.0]], "median", math.sqrt(5 / 108) / 2),
        ([1.0, 2.0, 3.0], [[1.5, 2.0, 3.5], [2.0, 3.0, 4.0]], "min", 0.0),
        # Three rivals: d = (0,1,0) → s² = 2/9, Var = 5/6·2/9 = 5/27;
        # median of (√(5/108), 0, √(5/27)).
        ([1.0, 2.0, 3.0], [[1.5, 2.0, 3.5], [2.0, 3.0, 4.0], [1.0, 1.0, 3.0]], "median",
         math.sqrt(5 / 108)),
        # No rival with the same number of folds: the incumbent's own Eq. 9, sqrt(5/9).
        ([1.0, 2.0, 3.0], [[1.0, 2.0]], "median", math.sqrt(5 / 9)),
    ],
)
def test_paired_error_by_hand(inc: list[float], rivals: list[list[float]], combine: str,
                              expected: float) -> None:
    got = paired_error(inc, rivals, combine=combine)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_paired_error_with_a_given_ratio() -> None:
    # d = (−0.5, 0, −0.5): s² = 1/18, ratio 1/4: (1/3 + 1/4)·1/18 = 7/216.
    got = paired_error([1.0, 2.0, 3.0], [[1.5, 2.0, 3.5]], 0.25)
    assert got == pytest.approx(math.sqrt(7 / 216))


@pytest.mark.parametrize(
    "folds, ratio, expected",
    [
        # Var = (1/2 + 1)·1/4 = 3/8 and 0: sqrt(3/16).
        ([[1.0, 2.0], [1.0, 1.0]], None, math.sqrt(3 / 16)),
        # k = 3: Var = 5/9 each for (1,2,3) and (2,3,4), and 4·5/9 for (0,2,4): mean 10/9.
        ([[1.0, 2.0, 3.0], [2.0, 3.0, 4.0], [0.0, 2.0, 4.0]], None, math.sqrt(10 / 9)),
        # One configuration: Eq. 9 itself; ratio 1/4: 7/18.
        ([[1.0, 2.0, 3.0]], 0.25, math.sqrt(7 / 18)),
    ],
)
def test_pooled_error_by_hand(folds: list[list[float]], ratio: float | None,
                              expected: float) -> None:
    assert pooled_error(folds, ratio) == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------- Wilson (2024)
def test_regret_probability_and_quantile_by_hand() -> None:
    s = np.array([0.3, 0.0, 0.2, 0.1])
    assert regret_probability(s, 0.15) == 0.5 and regret_probability(s, 0.1) == 0.5
    assert regret_probability(s, 0.3) == 1.0 and regret_probability(s, -0.1) == 0.0
    levels = (0.25, 0.5, 0.75, 0.95, 1.0)
    assert [regret_quantile(s, q) for q in levels] == [0.0, 0.1, 0.2, 0.3, 0.3]
    for q in (0.5, 0.8, 0.95):  # quantile <= ε exactly when P(r <= ε) >= level
        for eps in s:
            assert (regret_quantile(s, q) <= eps) == (regret_probability(s, eps) >= q)


def test_regret_samples_match_the_two_point_formula() -> None:
    """With one candidate, ``r = max(0, f(γ*) − f(c))``: ``P(r <= ε) = Φ((ε − m)/s)`` for ε >= 0,
    with ``m``, ``s²`` the posterior mean and variance of ``f(γ*) − f(c)``."""
    rng = np.random.default_rng(0)
    X = rng.random((15, 2))
    y = ((X - 0.4) ** 2).sum(1) + 0.05 * rng.standard_normal(15)
    model = fit_gp(X, y)
    x_inc, c = X[int(np.argmin(y))], np.array([[0.4, 0.4]])
    with torch.no_grad():
        post = model.posterior(torch.tensor(np.vstack([x_inc, c])))
        mu, cov = post.mean.reshape(-1).numpy(), post.covariance_matrix.numpy()
    m, s = mu[0] - mu[1], math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    samples = regret_samples(model, x_inc, c, num_samples=4096, seed=3)
    assert samples.shape == (4096,) and samples.min() >= 0
    for eps in (0.0, 0.5 * s, s, 2 * s):
        assert regret_probability(samples, eps) == pytest.approx(norm.cdf((eps - m) / s), abs=0.02)
    again = regret_samples(model, x_inc, c, num_samples=4096, seed=3)
    assert np.array_equal(samples, again)  # seeded


# ----------------------------------------------------------------------------- Ishibashi (2023)
@pytest.mark.parametrize(
    "mean, var, y, noise, expected",
    [
        # ½[log 2 − ½ + 0]
        (0.0, 1.0, 0.0, 1.0, 0.5 * (math.log(2) - 0.5)),
        # s² = 3, σ² = 1, (y − m)² = 4: ½[log 4 − 3/4 + 3·4/16]
        (1.0, 3.0, 3.0, 1.0, 0.5 * (math.log(4) - 0.75 + 0.75)),
        # No prior variance at the point: the observation changes nothing.
        (0.0, 0.0, 5.0, 1.0, 0.0),
    ],
)
def test_kl_one_observation_by_hand(mean: float, var: float, y: float, noise: float,
                                    expected: float) -> None:
    assert kl_one_observation(mean, var, y, noise) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_kl_one_observation_equals_the_kl_of_the_whole_posteriors() -> None:
    """Conditioning a real GP on one more point: the KL over many points is the 1-D formula."""
    rng = np.random.default_rng(1)
    X = rng.random((12, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] + 0.05 * rng.standard_normal(12)
    old = fit_gp(X, y)
    x_new, y_new = torch.tensor([[0.55, 0.35]], dtype=torch.float64), 0.2
    grid = torch.cat([x_new, torch.tensor(rng.random((30, 2)))])
    with torch.no_grad():
        noise = float(old.posterior(x_new, observation_noise=True).variance
                      - old.posterior(x_new).variance)
        p_old = old.posterior(x_new)
        new = old.condition_on_observations(x_new, torch.tensor([[y_new]], dtype=torch.float64))
        a, b = new.posterior(grid).mvn, old.posterior(grid).mvn
        jitter = 1e-10 * torch.eye(31)
        full = torch.distributions.kl_divergence(
            torch.distributions.MultivariateNormal(a.mean, a.covariance_matrix + jitter),
            torch.distributions.MultivariateNormal(b.mean, b.covariance_matrix + jitter),
        )
    ours = kl_one_observation(float(p_old.mean), float(p_old.variance), y_new, noise)
    assert float(full) == pytest.approx(ours, rel=1e-3)


def test_expected_improvement_gap_by_hand() -> None:
    assert expected_improvement_gap(0.0, 1.0) == pytest.approx(1 / math.sqrt(2 * math.pi))
    # g = 0.5, sd = 0.5, u = 1: 0.5·φ(1) + 0.5·Φ(1)
    expected = 0.5 * norm.pdf(1) + 0.5 * norm.cdf(1)
    assert expected_improvement_gap(0.5, 0.25) == pytest.approx(expected)
    assert expected_improvement_gap(-0.3, 0.0) == 0.0 and expected_improvement_gap(0.3, 0.0) == 0.3


def test_emsr_gap_and_threshold_by_hand() -> None:
    # |−0.1| + 0.05 + 2·sqrt(0.08/2)
    assert emsr_gap(-0.1, 0.05, 2.0, 0.08) == pytest.approx(0.1 + 0.05 + 0.4)
    # c = sqrt(−2 log 0.1); σ = 0.5, s_new = 2, s_inc = 1, κ = 0.4: c·0.5·2·(1 + 0.2)/(4 + 0.25)
    c = math.sqrt(-2 * math.log(0.1))
    assert emsr_gap_threshold(1.0, 4.0, 0.25, 0.4, 0.1) == pytest.approx(c * 0.5 * 2 * 1.2 / 4.25)


def test_consecutive_count() -> None:
    h: dict[int, bool] = {}
    runs = [consecutive_count(h, n, ok) for n, ok in
            [(20, True), (21, True), (21, True), (22, False), (23, True), (25, True)]]
    assert runs == [1, 2, 2, 0, 1, 2]  # a repeated decision at 21 replaces, never adds


# ----------------------------------------------------------------------------- the criterion
@pytest.mark.parametrize("name, value, allowed", [
    ("rule", "optuna", '"paper"'), ("error", "incumbent", '"cv"'), ("noise", "fixed", '"learned"'),
    ("consecutive", 0, "integer >= 1"), ("rivals", 0, "integer >= 1"), ("pool", 0, "integer >= 1"),
    ("prb_delta", 1.0, "between 0 and 1"), ("prb_samples", 4, ">= 8"), ("gap_delta", 0, "between"),
])
def test_bad_rule_arguments_raise_naming_them(name: str, value: object, allowed: str) -> None:
    with pytest.raises(ValueError, match=rf"^The `{name}` argument must be .*{re.escape(allowed)}"
                                         rf".*; got {re.escape(repr(value))} instead\.$"):
        AutoTermCriterion(**{name: value})


def test_a_fixed_threshold_refuses_another_error() -> None:
    with pytest.raises(ValueError, match="`error` argument must be None or \"cv\""):
        AutoTermCriterion(threshold=0.1, error="paired")
    d = AutoTermCriterion(threshold=0.1, rule="pooled").evaluate(_history(22), SPACE_2D)
    assert d.error_source == "threshold" and d.statistical_error == 0.1


def test_every_rule_records_its_name_error_and_reason() -> None:
    h = _history(24)
    for rule in RULES:
        d = AutoTermCriterion(rule=rule).evaluate(h, SPACE_2D)
        assert d.fit_ok and d.rule == rule and f'rule "{rule}"' in d.reason, (rule, d.reason)
        assert d.to_dict()["rule"] == rule
    assert AutoTermCriterion(rule="paired").evaluate(h, SPACE_2D).error_source == "paired"
    assert AutoTermCriterion(rule="pooled").evaluate(h, SPACE_2D).error_source == "pooled"
    assert AutoTermCriterion(rule="emsr-gap").evaluate(h, SPACE_2D).error_source == (
        "emsr-gap threshold")


def test_the_default_rule_is_the_papers() -> None:
    crit = AutoTermCriterion()
    assert crit.rule == "paper" and crit.consecutive == 1
    assert isinstance(crit.improvement_evaluator, RegretBoundEvaluator)
    assert crit.improvement_evaluator.noise == "learned"
    assert isinstance(crit.error_evaluator, CrossValidationErrorEvaluator)
    assert isinstance(crit.stopping_test, BoundBelowError)
    prb3 = AutoTermCriterion(rule="prb-3")
    assert isinstance(prb3.improvement_evaluator, ProbabilisticRegretEvaluator)
    assert isinstance(prb3.stopping_test, RegretProbablyBelowError)
    assert isinstance(prb3.error_evaluator, CrossValidationErrorEvaluator)
    assert prb3.consecutive == 3 and prb3.improvement_evaluator.delta == 0.05
    assert AutoTermCriterion(rule="prb").improvement_evaluator.delta == 0.05  # Wilson's
    assert AutoTermCriterion(rule="prb", prb_delta=0.3).improvement_evaluator.delta == 0.3
    gap = AutoTermCriterion(rule="emsr-gap", noise="cv")
    assert isinstance(gap.improvement_evaluator, EMSRGapEvaluator)
    assert gap.improvement_evaluator.noise == "cv"
    assert isinstance(gap.stopping_test, GapBelowThreshold)


def test_prb_with_pooled_error_and_three_in_a_row() -> None:
    """A combination: the 70% quantile of the regret below the pooled error, 3 times in a row."""
    crit = AutoTermCriterion(rule="prb", error="pooled", prb_delta=0.3, consecutive=3)
    records = _history(40, noise=0.3).completed()
    held = []
    for n in range(20, 41):
        d = crit.evaluate(records[:n], SPACE_2D)
        assert d.error_source == "pooled" and d.rule == "prb"
        held.append(d.regret_bound <= d.statistical_error)  # the 70% quantile <= pooled ε
        assert d.should_stop == (len(held) >= 3 and all(held[-3:])), n
    assert any(held)


def test_paper_rule_is_the_eq_10_decision() -> None:
    h = _history(30)
    paper = AutoTermCriterion(rule="paper", exact_bound=True).evaluate(h, SPACE_2D)
    assert paper.error_source == "cv" and paper.rule == "paper"
    inc = next(r for r in h.completed() if r.trial_id == paper.incumbent_trial_id)
    from ray_autoterm.criterion import cv_statistical_error

    assert paper.statistical_error == cv_statistical_error(inc.fold_scores)
    assert paper.should_stop == (paper.regret_bound < paper.statistical_error)


def test_paired_and_pooled_errors_in_the_criterion_are_the_formulas() -> None:
    h = _history(26)
    recs = sorted(h.completed(), key=lambda r: r.value)  # by mean loss (no ties here)
    d = AutoTermCriterion(rule="paired", rivals=3).evaluate(h, SPACE_2D)
    rivals = [r.fold_scores for r in recs[1:4]]
    assert d.statistical_error == paired_error(recs[0].fold_scores, rivals)
    d = AutoTermCriterion(rule="pooled", pool=4).evaluate(h, SPACE_2D)
    assert d.statistical_error == pooled_error([r.fold_scores for r in recs[:4]])
    same = AutoTermCriterion(rule="paper", error="pooled", pool=4).evaluate(h, SPACE_2D)
    assert same.statistical_error == d.statistical_error and same.rule == "paper"


def test_mode_max_gives_the_same_errors() -> None:
    h, neg = _history(24), History()
    for r in h.completed():
        neg.add(r.trial_id, r.config, [-v for v in r.fold_scores])
    for rule in ("paired", "pooled", "prb"):
        a = AutoTermCriterion(rule=rule).evaluate(h, SPACE_2D)
        b = AutoTermCriterion(rule=rule, mode="max").evaluate(neg, SPACE_2D)
        assert b.statistical_error == pytest.approx(a.statistical_error, rel=1e-12)
        assert b.regret_bound == pytest.approx(a.regret_bound, rel=1e-6)
        assert a.incumbent_trial_id == b.incumbent_trial_id


def test_prb_decision_is_the_sampled_probability() -> None:
    h = _history(30, noise=0.05)
    fitter = GPFitter()
    crit = AutoTermCriterion(rule="prb", fitter=fitter, prb_delta=0.2)
    d = crit.evaluate(h, SPACE_2D)
    assert d.regret_bound >= 0 and "P(regret <=" in d.reason
    assert d.should_stop == (d.regret_bound <= d.statistical_error)


def test_gap_decision_is_the_formula_on_the_two_fits() -> None:
    """Recompute Δ_t and θ_t from the same two GP fits (the fitter's cache hands them back)."""
    from ray_autoterm.criterion.regret import regret_bound, regret_bound_beta

    h = _history(25, noise=0.05)
    recs = h.completed()
    fitter = GPFitter()
    d = AutoTermCriterion(rule="emsr-gap", fitter=fitter).evaluate(h, SPACE_2D)
    X = SPACE_2D.encode_many([r.config for r in recs])
    y = np.array([r.value for r in recs])
    m_new, m_old = fitter.fit(X, y, role="gap"), fitter.fit(X[:-1], y[:-1], role="gap")
    beta = regret_bound_beta(2, 25, 0.1, 1.0)
    # κ over the evaluated points and 256 Sobol points (a finite candidate set, as Ishibashi's)
    kappa = regret_bound(m_old, X[:-1], SPACE_2D.bounds, beta, seed=0, stop_below=-math.inf).bound
    i_new, i_old = int(np.argmin(y)), int(np.argmin(y[:-1]))
    pts = torch.tensor(np.stack([X[i_new], X[i_old], X[-1]]))
    with torch.no_grad():
        pn, po = m_new.posterior(pts), m_old.posterior(pts)
        mu_n, cov_n = pn.mean.reshape(-1), pn.covariance_matrix
        mu_o, cov_o = po.mean.reshape(-1), po.covariance_matrix
        noise = float(m_new.posterior(pts[2:], observation_noise=True).variance
                      - m_new.posterior(pts[2:]).variance)
    ei = 0.0 if i_new == i_old else expected_improvement_gap(
        float(mu_n[0] - mu_n[1]), float(cov_n[0, 0] + cov_n[1, 1] - 2 * cov_n[0, 1]))
    kl = kl_one_observation(float(mu_o[2]), float(cov_o[2, 2]), float(y[-1]), noise)
    gap = emsr_gap(float(mu_o[1] - mu_n[0]), ei, kappa, kl)
    theta = emsr_gap_threshold(float(cov_o[0, 0]), float(cov_o[2, 2]), noise, kappa, 0.1)
    assert d.regret_bound == pytest.approx(gap, rel=1e-3)
    assert d.statistical_error == pytest.approx(theta, rel=1e-3)
    assert d.should_stop == (d.regret_bound <= d.statistical_error)


def test_consecutive_decisions_delay_the_stop_by_one() -> None:
    records = _history(34, noise=0.3).completed()  # the test first holds at 31 (seeded)
    once, twice = AutoTermCriterion(rule="paper"), AutoTermCriterion(rule="paper", consecutive=2)
    held, first_once, first_twice = [], None, None
    for n in range(20, 35):
        a, b = once.evaluate(records[:n], SPACE_2D), twice.evaluate(records[:n], SPACE_2D)
        held.append(a.should_stop)
        if a.should_stop and first_once is None:
            first_once = n
        if b.should_stop and first_twice is None:
            first_twice = n
        # twice stops exactly where once held now and at the previous decision
        assert b.should_stop == (len(held) >= 2 and held[-1] and held[-2]), n
    assert first_once is not None and first_twice == first_once + 1


def test_known_noise_gp_scales_the_variances_with_the_outcomes() -> None:
    """Standardize divides the known variances by the outcomes' variance (BoTorch)."""
    rng = np.random.default_rng(2)
    X = rng.random((10, 2))
    y = 100 * X.sum(1) + rng.standard_normal(10)
    yvar = np.linspace(0.5, 2.0, 10)
    model = fit_gp(X, y, yvar=yvar)
    noise = model.likelihood.noise.detach().reshape(-1).numpy()
    assert noise == pytest.approx(yvar / np.var(y, ddof=1), rel=1e-9)
    fitter = GPFitter()
    assert fitter.fit(X, y, yvar=yvar) is not fitter.fit(X, y)  # its own cache entry


def test_the_stopper_passes_rule_through() -> None:
    from ray import tune

    from ray_autoterm.tune.stopper import AutoTermStopper

    stopper = AutoTermStopper(param_space={"a": tune.uniform(0, 1)}, rule="pooled", pool=3)
    assert stopper.criterion.rule == "pooled"
    assert isinstance(stopper.criterion.error_evaluator, PooledErrorEvaluator)
    assert stopper.criterion.error_evaluator.pool == 3
    with pytest.raises(ValueError, match="`rule` argument"):
        AutoTermStopper(param_space={"a": tune.uniform(0, 1)}, rule="nope")


def test_the_report_names_the_rule_and_the_error() -> None:
    from ray_autoterm.criterion import Decision
    from ray_autoterm.report import summarize

    d = AutoTermCriterion(rule="pooled").evaluate(_history(22), SPACE_2D)
    stopped = Decision(22, True, "x", regret_bound=0.01, statistical_error=0.02,
                       error_source="pooled", rule="pooled")
    assert 'Rule: "pooled", error: pooled.' in summarize([d], [])
    line = '(rule "pooled"): regret bound 0.01 < pooled error'
    assert line in summarize([d, stopped], [])
