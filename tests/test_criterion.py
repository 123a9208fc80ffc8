"""The stopping rule (Eq. 10): edge cases, mode handling and behaviour in a real BO loop."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import numpy as np
import pytest

from ray_autoterm.bo import propose
from ray_autoterm.criterion import (
    AutoTermCriterion,
    Decision,
    StaticImprovementEvaluator,
    regret_bound_beta,
)
from ray_autoterm.errors import GPFitError
from ray_autoterm.gp import GPFitter
from ray_autoterm.history import History
from ray_autoterm.space import CategoricalParam, NumericParam, SearchSpace

SPACE_2D = SearchSpace([NumericParam(("a",), 0.0, 1.0), NumericParam(("b",), 0.0, 1.0)])


def _bowl(config: dict) -> float:
    return (config["a"] - 0.3) ** 2 + (config["b"] - 0.7) ** 2


def _random_history(n: int, sign: float = 1.0, seed: int = 0, noise: float = 0.02) -> History:
    rng, h = np.random.default_rng(seed), History()
    for i in range(n):
        cfg = {"a": float(rng.random()), "b": float(rng.random())}
        h.add(str(i), cfg, list(sign * (_bowl(cfg) + noise * rng.standard_normal(5))))
    return h


def _bo_loop(
    f: Callable[[dict], float], noise: float, max_trials: int, **kw
) -> tuple[int, Decision]:
    """``propose`` (given ``kw``), the criterion after every trial from the 20th; ends at a stop."""
    rng, fitter, history = np.random.default_rng(0), GPFitter(), History()
    criterion = AutoTermCriterion(rule="paper", fitter=fitter)
    X: list[np.ndarray] = []
    Y: list[float] = []
    for i in range(max_trials):  # max_trials >= 20, so `decision` is set at the end
        x = propose(SPACE_2D, np.array(X).reshape(-1, 2), np.array(Y), fitter=fitter, seed=0, **kw)
        cfg = SPACE_2D.decode(x)
        folds = list(f(cfg) + noise * rng.standard_normal(5))
        history.add(str(i), cfg, folds)
        X.append(SPACE_2D.encode(cfg))
        Y.append(float(np.mean(folds)))
        if i >= 19:
            decision = criterion.evaluate(history, SPACE_2D)
            if decision.should_stop:
                return i + 1, decision
    return max_trials, decision


def test_stops_on_a_smooth_noisy_function_near_the_optimum() -> None:
    n, decision = _bo_loop(_bowl, noise=0.02, max_trials=60)  # stops at 30 (seeded)
    assert decision.should_stop and 20 <= n < 60
    assert _bowl(decision.incumbent_config) <= 2 * 0.02
    assert 0 <= decision.regret_bound < decision.statistical_error


def test_stops_soon_on_pure_noise() -> None:
    n, decision = _bo_loop(lambda cfg: 0.5, noise=0.02, max_trials=30)
    assert decision.should_stop and n <= 30


def test_does_not_stop_early_on_a_noiseless_function() -> None:
    # The bound stays ~100x above the error here, so a cheaper proposal step changes nothing.
    n, decision = _bo_loop(_bowl, noise=1e-6, max_trials=40, num_restarts=4, raw_samples=128)
    assert not decision.should_stop and n == 40 and decision.fit_ok
    assert decision.regret_bound > decision.statistical_error


def test_mode_max_gives_the_decision_of_the_negated_metric() -> None:
    low = AutoTermCriterion(rule="paper", mode="min").evaluate(_random_history(24), SPACE_2D)
    high = AutoTermCriterion(rule="paper", mode="max").evaluate(_random_history(24, sign=-1.0),
                                                                SPACE_2D)
    assert high.mode == "max" and high.incumbent_trial_id == low.incumbent_trial_id
    assert high.should_stop == low.should_stop
    for field in ("regret_bound", "statistical_error", "min_ucb", "min_lcb", "beta"):
        assert getattr(high, field) == pytest.approx(getattr(low, field), rel=1e-9, abs=1e-12)
    assert high.incumbent_value == pytest.approx(-low.incumbent_value)
    back = Decision.from_dict({**json.loads(json.dumps(high.to_dict())), "future_field": 1})
    assert back == high and back.summary().startswith(
        f"[{'STOP' if high.should_stop else 'continue'}]")


def test_categorical_space_on_a_real_fit() -> None:
    space = SearchSpace([NumericParam(("x",), 0.0, 1.0),
                         CategoricalParam(("kind",), ("a", "b", "c"))])
    rng, h = np.random.default_rng(1), History()
    for i in range(22):
        cfg, offset = {"x": float(rng.random()), "kind": "abc"[i % 3]}, (0.0, 0.2, 0.5)[i % 3]
        h.add(str(i), cfg, list((cfg["x"] - 0.4) ** 2 + offset + 0.02 * rng.standard_normal(5)))
    d = AutoTermCriterion(rule="paper").evaluate(h, space)
    assert d.fit_ok and np.isfinite(d.regret_bound) and d.regret_bound >= 0 and d.num_fit == 20
    assert d.beta == regret_bound_beta(2, 20)  # d counts hyperparameters, not one-hot columns


@pytest.mark.parametrize("mode", ["min", "max"])
def test_never_stops_before_min_trials(mode: str) -> None:
    records = _random_history(23, sign=1.0 if mode == "min" else -1.0).completed()
    criterion = AutoTermCriterion(rule="paper", mode=mode, min_trials=22, threshold=1e3)
    for n in (1, 2, 3, 21, 22, 23):
        d = criterion.evaluate(records[:n], SPACE_2D)
        assert d.num_trials == n and d.should_stop == (n >= 22)


def test_bound_equal_to_error_does_not_stop() -> None:
    h = _random_history(20)
    # a real fit
    bound = AutoTermCriterion(rule="paper", threshold=1e3).evaluate(h, SPACE_2D).regret_bound
    d = AutoTermCriterion(rule="paper", threshold=bound).evaluate(h, SPACE_2D)
    assert d.regret_bound == bound and not d.should_stop and "at or above" in d.reason
    # The Optuna-style double: a fixed threshold against a bound of exactly 0.25.
    stub = StaticImprovementEvaluator(0.25)
    assert not AutoTermCriterion(improvement_evaluator=stub, threshold=0.25).evaluate(
        h, SPACE_2D).should_stop
    assert AutoTermCriterion(improvement_evaluator=stub, threshold=0.2500001).evaluate(
        h, SPACE_2D).should_stop


class _FailingFitter(GPFitter):
    def fit(self, X, y, role="bound"):
        raise GPFitError("no fit today")


def test_failed_fit_fails_open() -> None:
    d = AutoTermCriterion(rule="paper", threshold=1e3, fitter=_FailingFitter()).evaluate(
        _random_history(25), SPACE_2D)
    assert not d.should_stop and not d.fit_ok and "no fit today" in d.reason
    assert d.regret_bound is None and d.statistical_error == 1e3


@pytest.mark.parametrize("mode", ["min", "max"])
def test_non_finite_and_single_fold_records_are_skipped(mode: str) -> None:
    sign = 1.0 if mode == "min" else -1.0
    h = _random_history(21, sign=sign)
    for i, folds in enumerate(([-sign * np.inf, 0.1], [np.nan, 0.1], [np.inf, np.inf],
                               [-sign * 1e3])):
        h.add(f"bad{i}", {"a": 0.5, "b": 0.5}, folds)
    d = AutoTermCriterion(rule="paper", mode=mode).evaluate(h, SPACE_2D)
    clean = AutoTermCriterion(rule="paper", mode=mode).evaluate(_random_history(21, sign=sign),
                                                                SPACE_2D)
    assert d.num_trials == 21 and not d.incumbent_trial_id.startswith("bad")
    assert d.regret_bound == pytest.approx(clean.regret_bound, rel=1e-9)
    assert AutoTermCriterion(rule="paper").evaluate(History()).num_trials == 0


@pytest.mark.parametrize(
    "name, value",
    [("mode", "minimize"), ("min_trials", 0), ("min_trials", -3), ("delta", 0), ("delta", 1.5),
     ("beta_scale", 0.0), ("beta_scale", -1.0), ("threshold", 0.0), ("threshold", -0.1),
     ("val_train_ratio", 0.0), ("val_train_ratio", -0.5), ("min_fit", 1), ("fit_fraction", 0)],
)
def test_bad_arguments_raise_naming_argument_and_value(name: str, value: object) -> None:
    match = rf"^The `{name}` argument must be .*; got {re.escape(repr(value))} instead\.$"
    with pytest.raises(ValueError, match=match):
        AutoTermCriterion(rule="paper", **{name: value})
    with pytest.raises(ValueError,
                       match=r"`threshold` argument must be None when `val_train_ratio`"):
        AutoTermCriterion(rule="paper", threshold=0.1, val_train_ratio=0.2)


def test_screened_bounds_give_the_same_decisions_as_exact_ones() -> None:
    """``exact_bound=False`` skips the LCB minimisation only where it cannot change Eq. 10."""
    history = _random_history(45, seed=7, noise=0.03)
    records = history.completed()
    lazy, exact = AutoTermCriterion(rule="paper"), AutoTermCriterion(rule="paper", exact_bound=True)
    skipped = 0
    for n in range(20, 46):
        a, b = lazy.evaluate(records[:n], SPACE_2D), exact.evaluate(records[:n], SPACE_2D)
        assert a.should_stop == b.should_stop, n
        assert b.bound_exact
        if not a.bound_exact:
            skipped += 1
            assert a.statistical_error <= a.regret_bound <= b.regret_bound * 1.1 + 1e-9
            assert "at least" in a.reason
    assert skipped > 0
