"""Input warping (BoTorch's ``Warp``) for the bound's GP: real fits, the knob, its refusals."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from ray_autoterm.criterion import AutoTermCriterion, RegretBoundEvaluator, preset
from ray_autoterm.errors import InvalidArgumentError
from ray_autoterm.gp import GPFitter, fit_gp, hyperparameters
from ray_autoterm.history import History


def _warped_fn(x: np.ndarray) -> np.ndarray:
    """Flat on the left, fast on the right: stationary in ``x**3``, not in ``x``."""
    return np.sin(8 * x ** 3)


def _held_out(model: object, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(RMSE, mean predictive log density) of ``model`` on ``(X, y)``."""
    with torch.no_grad():
        post = model.posterior(torch.from_numpy(X), observation_noise=True)  # type: ignore[attr-defined]
        mu = post.mean.squeeze(-1).numpy()
        var = post.variance.squeeze(-1).numpy()
    rmse = float(np.sqrt(np.mean((mu - y) ** 2)))
    lpd = float(np.mean(-0.5 * np.log(2 * np.pi * var) - 0.5 * (y - mu) ** 2 / var))
    return rmse, lpd


@pytest.mark.parametrize("seed", [0, 1])
def test_warped_gp_fits_a_warped_function_at_least_as_well(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.random((30, 1))
    y = _warped_fn(X[:, 0]) + 0.01 * rng.standard_normal(30)
    X_test = np.linspace(0.0, 1.0, 201)[:, None]
    y_test = _warped_fn(X_test[:, 0])
    plain = fit_gp(X, y)
    warped = fit_gp(X, y, input_warping=True)
    rmse_plain, lpd_plain = _held_out(plain, X_test, y_test)
    rmse_warped, lpd_warped = _held_out(warped, X_test, y_test)
    assert rmse_warped <= rmse_plain * 1.05
    assert lpd_warped >= lpd_plain - 0.05
    # The warp learned something: more resolution on the right (concentration1 a > 1).
    assert float(warped.input_transform.concentration1.detach()) > 1.2
    assert not hasattr(plain, "input_transform")


def test_fitter_keys_cache_and_warm_starts_on_the_flag() -> None:
    rng = np.random.default_rng(3)
    X = rng.random((24, 2))
    y = _warped_fn(X[:, 0]) + X[:, 1]
    fitter = GPFitter(refit_growth=0.5)
    plain = fitter.fit(X, y, role="bound")
    warped = fitter.fit(X, y, role="bound", input_warping=True)
    assert fitter.num_fits == 2 and warped is not plain  # no cache hit across the flag
    assert fitter.fit(X, y, role="bound", input_warping=True) is warped
    assert any(k.startswith("input_transform.concentration") for k in hyperparameters(warped))
    # One more row: warm-started (conditioned only, refit_growth 0.5) from the warped fit.
    X2 = np.vstack([X, rng.random((1, 2))])
    y2 = _warped_fn(X2[:, 0]) + X2[:, 1]
    again = fitter.fit(X2, y2, role="bound", input_warping=True)
    assert fitter.num_refits == 2 and fitter.num_fits == 3
    assert torch.equal(again.input_transform.concentration1,
                       warped.input_transform.concentration1)
    # The unwarped slot is untouched by the warped fits: its conditioned model has no warp.
    assert not hasattr(fitter.fit(X2, y2, role="bound"), "input_transform")
    assert fitter.num_refits == 2


def _history(n: int = 30, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    history = History()
    for i in range(n):
        x, z = float(rng.random()), float(rng.random())
        folds = list(_warped_fn(np.array(x)) + 0.3 * z + 0.05 * rng.standard_normal(5))
        history.add(str(i), {"x": x, "z": z}, folds)
    return history


@pytest.mark.parametrize("rule", ["paper", "calibrated"])
def test_criterion_with_warping_decides_with_a_finite_bound(rule: str) -> None:
    crit = AutoTermCriterion(rule=rule, input_warping=True, exact_bound=True)
    assert crit.improvement_evaluator.input_warping is True  # type: ignore[attr-defined]
    decision = crit.evaluate(_history())
    assert decision.fit_ok and isinstance(decision.should_stop, bool)
    assert decision.regret_bound is not None and math.isfinite(decision.regret_bound)
    assert decision.regret_bound >= 0
    assert "input-warped GP" in decision.reason
    assert crit.fitter is not None and crit.fitter.num_fits >= 1


def test_default_is_the_unwarped_paper_gp() -> None:
    evaluator = preset("paper").improvement_evaluator
    assert isinstance(evaluator, RegretBoundEvaluator) and evaluator.input_warping is False
    decision = AutoTermCriterion(exact_bound=True).evaluate(_history())
    assert "input-warped" not in decision.reason


def test_warping_survives_pickling() -> None:
    crit = AutoTermCriterion(input_warping=True)
    clone = pickle.loads(pickle.dumps(crit))
    assert clone.improvement_evaluator.input_warping is True


@pytest.mark.parametrize("value", ["yes", 1, None, 0.0])
def test_bad_values_are_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="`input_warping`"):
        AutoTermCriterion(input_warping=value)
    with pytest.raises(InvalidArgumentError, match="`input_warping`"):
        RegretBoundEvaluator(input_warping=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("rule", ["prb", "emsr-gap"])
def test_warping_is_refused_for_tests_without_the_bound(rule: str) -> None:
    with pytest.raises(InvalidArgumentError, match="`input_warping`.*bound"):
        AutoTermCriterion(rule=rule, input_warping=True)
    AutoTermCriterion(rule=rule, input_warping=False)  # the default is fine
