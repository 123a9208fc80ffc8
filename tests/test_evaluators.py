"""The criterion's parts: the rule logic with stub evaluators, where a real GP fit adds nothing."""

from __future__ import annotations

import doctest
import importlib
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest

from ray_autoterm.criterion import (
    AutoTermCriterion,
    BaseImprovementEvaluator,
    BoundBelowError,
    CrossValidationErrorEvaluator,
    GapBelowThreshold,
    Improvement,
    Observations,
    PairedErrorEvaluator,
    PooledErrorEvaluator,
    RegretProbablyBelowError,
    StaticErrorEvaluator,
    StaticImprovementEvaluator,
    cv_statistical_error,
)
from ray_autoterm.criterion.rules import paired_error, pooled_error
from ray_autoterm.errors import GPFitError
from ray_autoterm.history import History
from ray_autoterm.space import NumericParam, SearchSpace

SPACE = SearchSpace([NumericParam(("x",), 0.0, 1.0)])


def _history(n: int, sign: float = 1.0, seed: int = 0) -> History:
    """``n`` trials of 5 fold losses (``sign=-1``: the same as scores)."""
    rng, h = np.random.default_rng(seed), History()
    for i in range(n):
        x = float(rng.random())
        h.add(str(i), {"x": x}, list(sign * ((x - 0.3) ** 2 + 0.05 * rng.standard_normal(5))))
    return h


def _stubbed(improvement: float, error: float, **kw: object) -> AutoTermCriterion:
    return AutoTermCriterion(improvement_evaluator=StaticImprovementEvaluator(improvement),
                             error_evaluator=StaticErrorEvaluator(error), **kw)


@pytest.mark.parametrize("mode", ["min", "max"])
def test_improvement_equal_to_error_does_not_stop(mode: str) -> None:
    h = _history(25, sign=1.0 if mode == "min" else -1.0)
    d = _stubbed(0.25, 0.25, mode=mode).evaluate(h, SPACE)
    assert not d.should_stop and d.regret_bound == d.statistical_error == 0.25
    assert d.reason == 'rule "custom": the regret bound, 0.25, is still at or above the fixed ' \
                       "threshold 0.25"
    assert _stubbed(0.2499999, 0.25, mode=mode).evaluate(h, SPACE).should_stop


@pytest.mark.parametrize("mode", ["min", "max"])
def test_never_stops_before_min_trials(mode: str) -> None:
    records = _history(12, sign=1.0 if mode == "min" else -1.0).completed()
    crit = _stubbed(0.0, 1.0, mode=mode, min_trials=10)
    stops = [crit.evaluate(records[:n], SPACE).should_stop for n in range(1, 13)]
    assert stops == [False] * 9 + [True] * 3


def test_consecutive_decisions_and_a_break_resets_the_run() -> None:
    records = _history(20).completed()
    low, high = StaticImprovementEvaluator(0.0), StaticImprovementEvaluator(9.0)
    crit = _stubbed(0.0, 1.0, min_trials=3, consecutive=3)
    outcomes = []
    for n, improvement in zip(range(3, 11), [low, low, high, low, low, low, low, low], strict=True):
        crit.improvement_evaluator = improvement
        outcomes.append(crit.evaluate(records[:n], SPACE))
    assert [d.should_stop for d in outcomes] == [False] * 5 + [True] * 3
    assert outcomes[1].reason.endswith("2 of 3 consecutive decisions so far")
    assert "(3 decisions in a row)" in outcomes[5].reason


@pytest.mark.parametrize("mode", ["min", "max"])
def test_the_incumbent_and_its_error_follow_the_mode(mode: str) -> None:
    h = _history(22, sign=1.0 if mode == "min" else -1.0)
    stub = StaticImprovementEvaluator(1.0)
    d = AutoTermCriterion(mode=mode, improvement_evaluator=stub).evaluate(h, SPACE)
    best = (min if mode == "min" else max)(h.completed(), key=lambda r: r.value)
    assert d.incumbent_trial_id == best.trial_id and d.mode == mode
    assert d.statistical_error == cv_statistical_error(best.fold_scores)


class _Recording(BaseImprovementEvaluator):
    """Records what the criterion hands over, and fails when told to."""

    failure = "recording"

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.seen = fail, []

    def evaluate(self, observations: Observations, threshold: float) -> Improvement | None:
        if self.fail:
            raise GPFitError("no fit today")
        self.seen.append((observations, threshold))
        return Improvement(0.5, {"regret_bound": 0.5})


@pytest.mark.parametrize("mode", ["min", "max"])
def test_observations_are_losses_and_the_threshold_is_the_error_from_min_trials(mode: str) -> None:
    sign = 1.0 if mode == "min" else -1.0
    records = _history(6, sign=sign).completed()
    stub = _Recording()
    crit = AutoTermCriterion(mode=mode, min_trials=5, improvement_evaluator=stub, threshold=0.1)
    for n in (4, 5):
        crit.evaluate(records[:n], SPACE)
    (obs4, t4), (obs5, t5) = stub.seen
    assert t4 == -math.inf and t5 == 0.1
    assert obs5.losses.tolist() == [sign * r.value for r in records[:5]]
    assert obs5.X.shape == (5, 1) and obs5.space is SPACE


def test_a_failing_evaluator_fails_open_and_names_its_computation() -> None:
    d = AutoTermCriterion(improvement_evaluator=_Recording(fail=True)).evaluate(_history(25), SPACE)
    assert not d.should_stop and not d.fit_ok
    assert d.reason == "GP fit or recording failed (no fit today); not stopping"


def test_probability_and_gap_tests_on_stub_improvements() -> None:
    samples = np.array([0.0, 0.1, 0.2, 0.3])
    prb = Improvement(0.2, samples=samples, level=0.75, label="the regret")
    test = RegretProbablyBelowError()
    assert test.holds(prb, 0.2) and not test.holds(prb, 0.19)
    assert test.stopped(prb, 0.2, "e") == ("P(regret <= e 0.2) = 0.750 (75% quantile of the "
                                           "regret 0.2) >= 0.75")
    gap = Improvement(0.1, threshold=0.1)
    assert GapBelowThreshold().holds(gap, error=0.0)
    assert not GapBelowThreshold().holds(Improvement(0.1, threshold=0.0999), error=1.0)
    assert not BoundBelowError().holds(Improvement(0.1), 0.1)
    with pytest.raises(ValueError, match="regret samples"):
        test.holds(Improvement(0.1), 0.1)
    with pytest.raises(ValueError, match="own threshold"):
        GapBelowThreshold().holds(Improvement(0.1), 0.1)


@pytest.mark.parametrize("mode", ["min", "max"])
def test_error_evaluators_are_the_formulas_on_the_ranked_records(mode: str) -> None:
    records = _history(12, sign=1.0 if mode == "min" else -1.0).completed()
    order = sorted(records, key=lambda r: r.value, reverse=mode == "max")
    folds = [r.fold_scores for r in order]
    assert CrossValidationErrorEvaluator().evaluate(records, mode) == cv_statistical_error(
        folds[0])
    assert PairedErrorEvaluator(rivals=3).evaluate(records, mode) == paired_error(
        folds[0], folds[1:4])
    assert PooledErrorEvaluator(pool=4, val_train_ratio=0.25).evaluate(records, mode) == (
        pooled_error(folds[:4], 0.25))
    assert (CrossValidationErrorEvaluator().min_folds, StaticErrorEvaluator(0.1).min_folds) == (
        2, 1)


def test_parts_knobs_fitter_and_pickle() -> None:
    from ray_autoterm.gp import GPFitter

    assert _stubbed(0.1, 0.2).rule == "custom" and AutoTermCriterion(rule="pooled").rule == "pooled"
    with pytest.raises(TypeError, match="AutoTermCriterion.*'bogus_kw'"):
        AutoTermCriterion(bogus_kw=1)
    fitter = GPFitter()
    crit = AutoTermCriterion(fitter=fitter)
    assert crit.fitter is fitter and crit.improvement_evaluator.fitter is fitter
    crit.fitter = other = GPFitter()
    assert crit.improvement_evaluator.fitter is other
    first = crit.evaluate(_history(22), SPACE)
    again = pickle.loads(pickle.dumps(crit))
    assert again.improvement_evaluator._last_bound is None  # a torch model: a cache, not state
    assert again.evaluate(_history(22), SPACE).regret_bound == pytest.approx(first.regret_bound)


def test_the_criterion_package_never_imports_ray() -> None:
    code = ("import sys, ray_autoterm.criterion as c; c.AutoTermCriterion; c.RegretBoundEvaluator;"
            " c.ProbabilisticRegretEvaluator; c.EMSRGapEvaluator; c.preset('emsr-gap');"
            " print(any(m == 'ray' or m.startswith('ray.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["error_evaluators", "improvement", "bound", "prb", "emsr",
                                  "stopping_tests"])
def test_examples_in_docstrings(name: str) -> None:
    module = importlib.import_module(f"ray_autoterm.criterion.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert result.failed == 0 and result.attempted > 0, name
