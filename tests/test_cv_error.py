"""The statistical error of a cross-validation estimate (Eq. 9)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from ray_autoterm.criterion.cv_error import cv_statistical_error
from ray_autoterm.criterion.error_evaluators import (
    CrossValidationErrorEvaluator,
    StaticErrorEvaluator,
)
from ray_autoterm.errors import InvalidArgumentError
from ray_autoterm.history import TrialRecord


@pytest.mark.parametrize(
    "folds, ratio, expected",
    [
        # k=3, mean 2, s² = 2/3; k-fold ratio 1/2: (1/3 + 1/2)·2/3 = 5/9.
        ([1.0, 2.0, 3.0], None, math.sqrt(5 / 9)),
        # Explicit ratio 1/4: (1/3 + 1/4)·2/3 = 7/18.
        ([1.0, 2.0, 3.0], 0.25, math.sqrt(7 / 18)),
        # k=2, s² = 1/4, ratio 1: (1/2 + 1)·1/4 = 3/8.
        ([0.0, 1.0], None, math.sqrt(3 / 8)),
        # k=4, mean 0.5, s² = 0.25; ratio 1/3: (1/4 + 1/3)·1/4 = 7/48.
        ([0.0, 1.0, 0.0, 1.0], None, math.sqrt(7 / 48)),
        # Hold-out 20% validation: ratio 0.25 with k=4 repeats.
        ([0.0, 1.0, 0.0, 1.0], 0.25, math.sqrt(0.5 * 0.25)),
        # Identical folds: no spread, no error.
        ([0.3, 0.3, 0.3], None, 0.0),
    ],
)
def test_cv_statistical_error_by_hand(
    folds: list[float], ratio: float | None, expected: float
) -> None:
    assert cv_statistical_error(folds, ratio) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # The evaluator takes the incumbent's folds (the best mean; here with a worse rival).
    records = [TrialRecord("rival", {}, [f + 10.0 for f in folds]), TrialRecord("inc", {}, folds)]
    got = CrossValidationErrorEvaluator(ratio).evaluate(records, "min")
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_error_is_sign_and_shift_free() -> None:
    folds = np.random.default_rng(0).normal(0.2, 0.05, size=10)
    eps = cv_statistical_error(folds)
    assert cv_statistical_error(-folds) == pytest.approx(eps, rel=1e-12)
    assert cv_statistical_error(folds + 100.0) == pytest.approx(eps, rel=1e-9)
    assert cv_statistical_error(3.0 * folds) == pytest.approx(3.0 * eps, rel=1e-12)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("k", [2, 5, 10])
def test_matches_optuna_cross_validation_error_evaluator(direction: str, k: int) -> None:
    optuna = pytest.importorskip("optuna")
    terminator = pytest.importorskip("optuna.terminator")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(k)
    folds_by_trial = [rng.normal(loc, 0.05, size=k).tolist() for loc in (0.3, 0.1, 0.5)]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental / deprecated module
        study = optuna.create_study(direction=direction)
        for folds in folds_by_trial:
            trial = study.ask()
            terminator.report_cross_validation_scores(trial, folds)
            study.tell(trial, float(np.mean(folds)))
        theirs = terminator.CrossValidationErrorEvaluator().evaluate(study.trials, study.direction)

    means = [np.mean(f) for f in folds_by_trial]
    best = int(np.argmin(means) if direction == "minimize" else np.argmax(means))
    assert cv_statistical_error(folds_by_trial[best]) == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize(
    "folds, match",
    [
        ([], r"`fold_losses` argument must be at least 2 fold values.*got \[\] instead"),
        ([0.5], r"`fold_losses` argument must be at least 2.*got \[0\.5\] instead"),
        ([0.5, float("nan")], r"`fold_losses` argument must be finite.*got \[0\.5, nan\]"),
        ([0.5, float("inf")], r"`fold_losses` argument must be finite.*got \[0\.5, inf\]"),
        ("0.5", r"`fold_losses` argument must be a sequence.*got '0\.5'"),
        (0.5, r"`fold_losses` argument must be a sequence.*got 0\.5"),
    ],
)
def test_bad_fold_losses_raise(folds: object, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        cv_statistical_error(folds)  # type: ignore[arg-type]


@pytest.mark.parametrize("ratio", [0, 0.0, -0.5, float("nan"), float("inf"), True, "0.2"])
def test_bad_val_train_ratio_raises(ratio: object) -> None:
    match = rf"`val_train_ratio` argument must be a finite number > 0.*got {ratio!r} instead"
    with pytest.raises(ValueError, match=match):
        cv_statistical_error([0.1, 0.2], ratio)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`val_train_ratio`"):
        CrossValidationErrorEvaluator(ratio)  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [0, -0.01, float("nan"), float("inf"), None])
def test_fixed_threshold(threshold: object) -> None:
    fixed = StaticErrorEvaluator(0.02)
    assert fixed.evaluate([], "min") == 0.02 and fixed.evaluate([], "max") == 0.02
    assert (fixed.source, fixed.min_folds) == ("threshold", 1)
    assert (CrossValidationErrorEvaluator().source, CrossValidationErrorEvaluator().min_folds) == (
        "cv", 2)
    with pytest.raises(ValueError,
                       match=rf"`threshold` argument must be .*got {threshold!r} instead"):
        StaticErrorEvaluator(threshold)  # type: ignore[arg-type]


def test_former_names_still_resolve() -> None:
    from ray_autoterm.criterion import cv_error

    assert cv_error.CrossValidationError is CrossValidationErrorEvaluator
    assert cv_error.FixedThreshold is StaticErrorEvaluator
