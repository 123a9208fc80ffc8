"""report_cv_scores in real Tune trials: too few folds do not fail every trial (issue 10, item 6).

Before: ``report_cv_scores([x])`` raised in every trial (30 tracebacks, the budget spent). Now
the trial reports what it has (one warning per trial process) and the stopper, which cannot use
such trials, is the one place that tells the experiment; values that are not numbers still fail
the trial with a message naming ``fold_values``.
"""

from __future__ import annotations

import sys

from ray import cloudpickle, tune

from ray_autoterm import report_cv_scores

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def one_fold(config: dict) -> None:
    report_cv_scores([config["x"]], mode="min")


def not_numbers(config: dict) -> None:
    report_cv_scores(["high", "low"], mode="min")


def _run(trainable, tmp_path, name: str, n: int = 3):
    return tune.Tuner(
        trainable,
        param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(num_samples=n, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name=name, verbose=0),
    ).fit()


def test_single_fold_trials_report_instead_of_failing(ray_local, tmp_path):
    grid = _run(one_fold, tmp_path, "one-fold")
    assert not grid.errors
    for result in grid:
        assert result.metrics["num_folds"] == 1
        assert result.metrics["cv_scores"] == [result.config["x"]]


def test_values_that_are_not_numbers_fail_the_trial_clearly(ray_local, tmp_path):
    grid = _run(not_numbers, tmp_path, "not-numbers", n=1)
    (error,) = grid.errors
    assert "`fold_values`" in str(error) and "sequence of numbers" in str(error)
