"""The regret upper bound (Eq. 8), β_t and the top-half subset, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from botorch.models.model import Model
from botorch.posteriors import GPyTorchPosterior
from botorch.utils.testing import MockModel, MockPosterior
from gpytorch.distributions import MultivariateNormal

from ray_autoterm.criterion.regret import (
    confidence_bounds,
    minimize_lcb,
    regret_bound,
    regret_bound_beta,
    top_subset,
    top_subset_size,
)
from ray_autoterm.gp import fit_gp

UNIT_2D = np.array([[0.0, 0.0], [1.0, 1.0]])


class QuadraticModel(Model):
    """A deterministic 'posterior': mean ``Σ w·(x − c)²``, standard deviation ``s0 + s1·x_0``."""

    num_outputs = 1

    def __init__(self, center: list[float], s0: float, s1: float,
                 weights: list[float] | None = None) -> None:
        super().__init__()
        self.center = torch.tensor(center, dtype=torch.float64)
        self.weights = torch.tensor(weights or [1.0] * len(center), dtype=torch.float64)
        self.s0, self.s1 = s0, s1

    def posterior(self, X, output_indices=None, observation_noise=False, posterior_transform=None,
                  **kw):
        mean = (self.weights * (X - self.center) ** 2).sum(-1)  # batch x q
        var = (self.s0 + self.s1 * X[..., 0]) ** 2
        return GPyTorchPosterior(MultivariateNormal(mean, torch.diag_embed(var)))


@pytest.mark.parametrize("d, t", [(1, 1), (2, 20), (3, 50), (9, 200)])
def test_beta_matches_the_formula(d: int, t: int) -> None:
    expected = 0.2 * 2 * math.log(d * t**2 * math.pi**2 / (6 * 0.1))
    assert regret_bound_beta(d, t) == pytest.approx(expected, rel=1e-12)
    assert regret_bound_beta(d, t, delta=0.05, scale=1.0) == pytest.approx(
        2 * math.log(d * t**2 * math.pi**2 / (6 * 0.05)), rel=1e-12
    )
    assert regret_bound_beta(d, t + 1) > regret_bound_beta(d, t)


@pytest.mark.parametrize(
    "name, value",
    [("num_params", 0), ("num_observations", 0), ("delta", 0.0), ("delta", 1.5), ("scale", 0.0),
     ("scale", -1)],
)
def test_beta_rejects_bad_arguments(name: str, value: float) -> None:
    kwargs = {"num_params": 2, "num_observations": 5, name: value}
    with pytest.raises(ValueError,
                       match=rf"^The `{name}` argument must be .*; got {value!r} instead\.$"):
        regret_bound_beta(**kwargs)


def test_top_subset() -> None:
    assert [top_subset_size(n) for n in (0, 10, 20, 30, 41, 100)] == [0, 10, 20, 20, 20, 50]
    losses = np.random.default_rng(0).permutation(60).astype(float)
    idx = top_subset(losses)
    assert len(idx) == 30 and sorted(losses[idx]) == list(range(30))
    assert top_subset([0.3, 0.1, 0.2], min_size=2, fraction=0.5).tolist() == [1, 2]


def test_confidence_bounds_from_known_mean_and_variance() -> None:
    mean = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64).view(3, 1, 1)
    variance = torch.tensor([0.04, 1.0, 0.0], dtype=torch.float64).view(3, 1, 1)
    model = MockModel(MockPosterior(mean=mean, variance=variance))
    lcb, ucb = confidence_bounds(model, torch.zeros(3, 2, dtype=torch.float64), beta=4.0)
    torch.testing.assert_close(lcb, torch.tensor([0.1, -3.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(ucb, torch.tensor([0.9, 1.0, 2.0], dtype=torch.float64))


@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_regret_bound_from_an_analytic_posterior(beta: float) -> None:
    # lcb(x) = (x0 − .3)² + (x1 − .6)² − √β·(0.1 + 0.2·x0): minimised at x0 = .3 + .1·√β, x1 = .6.
    model = QuadraticModel([0.3, 0.6], s0=0.1, s1=0.2)
    X_eval = np.array([[0.0, 0.0], [0.3, 0.6], [1.0, 1.0]])
    rb = regret_bound(model, X_eval, UNIT_2D, beta)
    r = math.sqrt(beta)
    ucb_eval = [0.45 + r * 0.1, r * 0.16, 0.65 + r * 0.3]
    x0 = 0.3 + 0.1 * r
    assert rb.min_ucb == pytest.approx(min(ucb_eval), rel=1e-12)
    assert rb.min_lcb == pytest.approx((x0 - 0.3) ** 2 - r * (0.1 + 0.2 * x0), abs=1e-8)
    np.testing.assert_allclose(rb.argmin_lcb, [x0, 0.6], atol=1e-4)
    assert rb.bound == pytest.approx(rb.min_ucb - rb.min_lcb) and rb.beta == beta


def test_lcb_minimum_over_a_one_hot_categorical_is_exact() -> None:
    # Columns 1-3 are one choice's one-hot block; the block adds 2.75 to the mean for (1, 0, 0),
    # 0.75 for (0, 1, 0) and 0.25 for (0, 0, 1), while the relaxed optimum (0, 0.5, 1) adds 0.
    model = QuadraticModel([0.3, 0.0, 0.5, 1.0], s0=0.1, s1=0.2, weights=[1.0, 2.0, 1.0, 0.5])
    bounds = np.array([[0.0] * 4, [1.0] * 4])
    rb = regret_bound(model, np.array([[0.0, 1.0, 0.0, 0.0]]), bounds, 4.0, [[1, 2, 3]])
    x0 = 0.5  # as in the continuous case with √β = 2
    expected = (x0 - 0.3) ** 2 + 0.25 - 2.0 * (0.1 + 0.2 * x0)
    assert rb.min_lcb == pytest.approx(expected, abs=1e-8)
    np.testing.assert_allclose(rb.argmin_lcb, [x0, 0.0, 0.0, 1.0], atol=1e-4)
    assert rb.argmin_lcb[1:].tolist() == [0.0, 0.0, 1.0]  # a valid one-hot point


def test_minimize_lcb_never_above_its_candidates() -> None:
    # The minimum sits in a corner the quasi-random screening is unlikely to hit exactly;
    # the candidate at the corner must win.
    model = QuadraticModel([1.0, 1.0], s0=1e-3, s1=0.0)
    val, x = minimize_lcb(model, UNIT_2D, 1.0, [], np.array([[1.0, 1.0]]), num_restarts=1,
                          raw_samples=4)
    assert val == pytest.approx(-1e-3, abs=1e-15) and x.tolist() == [1.0, 1.0]


def test_lcb_minimum_against_a_dense_grid() -> None:
    rng = np.random.default_rng(0)

    def f(X: np.ndarray) -> np.ndarray:  # a sharp-ish well at (0.72, 0.23)
        return 1.0 - np.exp(-((X - [0.72, 0.23]) ** 2).sum(1) / (2 * 0.08**2))

    X = rng.random((40, 2))
    y = f(X) + 0.02 * rng.standard_normal(40)
    model = fit_gp(X, y)
    beta = regret_bound_beta(2, len(X))
    rb = regret_bound(model, X, UNIT_2D, beta)

    g = np.linspace(0.0, 1.0, 400)
    grid = torch.as_tensor(np.stack(np.meshgrid(g, g), -1).reshape(-1, 2))
    dense_min = float(confidence_bounds(model, grid, beta)[0].min())
    evaluated_min = float(confidence_bounds(model, torch.as_tensor(X), beta)[0].min())
    assert rb.min_lcb <= dense_min + 1e-6
    assert abs(rb.min_lcb - dense_min) <= 1e-3 * abs(dense_min)
    assert rb.min_lcb <= evaluated_min
    assert rb.bound > 0


def test_screening_underestimates_the_bound_and_decides_only_above_the_threshold() -> None:
    rng = np.random.default_rng(3)
    X = rng.random((30, 2))
    y = ((X - [0.3, 0.7]) ** 2).sum(1) + 0.02 * rng.standard_normal(30)
    model = fit_gp(X, y)
    beta = regret_bound_beta(2, len(X))
    exact = regret_bound(model, X, UNIT_2D, beta)
    assert exact.exact
    # A threshold far below the bound: the screened bound already exceeds it.
    lazy = regret_bound(model, X, UNIT_2D, beta, stop_below=exact.bound / 10)
    assert not lazy.exact and exact.bound / 10 <= lazy.bound <= exact.bound + 1e-9
    # A threshold above the bound: screening cannot decide, the exact minimisation runs.
    confirm = regret_bound(model, X, UNIT_2D, beta, stop_below=exact.bound * 2)
    assert confirm.exact and confirm.bound == pytest.approx(exact.bound, rel=1e-9)


def test_screened_points_are_valid_one_hot_points() -> None:
    from ray_autoterm.criterion.regret import screen_lcb

    model = QuadraticModel([0.3, 0.0, 0.5, 1.0], s0=0.1, s1=0.2, weights=[1.0, 2.0, 1.0, 0.5])
    bounds = np.array([[0.0] * 4, [1.0] * 4])
    value, x = screen_lcb(model, bounds, 4.0, [[1, 2, 3]], np.zeros((0, 4)), raw_samples=64)
    assert sorted(x[1:].tolist()) == [0.0, 0.0, 1.0]
    exact, _ = minimize_lcb(model, bounds, 4.0, [[1, 2, 3]], np.zeros((0, 4)))
    assert value >= exact - 1e-12  # an upper estimate of the minimum over valid points
