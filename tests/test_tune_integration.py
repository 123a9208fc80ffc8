"""AutoTermStopper and AutoTermSearcher in real Ray Tune runs (local Ray instance)."""

from __future__ import annotations

import json
import math

import pytest
from ray import tune

import tune_objectives as obj
from ray_autoterm import DECISION_LOG_NAME, AutoTermSearcher, AutoTermStopper, Decision

BUDGET = 120


def started(trials) -> list:
    """Trials that reported anything (Tune lists never-started trials too)."""
    return [t for t in trials if t.last_result and "cv_scores" in t.last_result]


def read_log(path) -> list[Decision]:
    with open(path / DECISION_LOG_NAME) as f:
        return [Decision.from_dict(json.loads(line)) for line in f]


def assert_explained_stop(stopper: AutoTermStopper, log_dir) -> Decision:
    """The stopper fired, and the decision log says why in numbers and words."""
    fired = stopper.fired
    assert fired is not None and stopper.stop_all()
    assert fired.regret_bound < fired.statistical_error
    assert fired.num_trials >= 20
    log = read_log(log_dir)
    assert len(log) == len(stopper.decisions)
    firing = [d for d in log if d.should_stop]
    assert firing and firing[0].num_trials == fired.num_trials
    assert "fell below" in firing[0].reason
    assert firing[0].incumbent_fold_scores and firing[0].incumbent_config
    return fired


def test_tune_run_with_linked_searcher_stops_early_near_the_optimum(ray_local, tmp_path):
    searcher = AutoTermSearcher(obj.SPACE, seed=0)
    stopper = AutoTermStopper(rule="paper", searcher=searcher, background=False)
    analysis = tune.run(
        obj.quadratic, search_alg=searcher, stop=stopper, num_samples=BUDGET,
        max_concurrent_trials=1, reuse_actors=True, verbose=0,
        storage_path=str(tmp_path), name="run",
    )
    assert len(started(analysis.trials)) < BUDGET
    fired = assert_explained_stop(stopper, tmp_path / "run")
    assert obj.true_loss(fired.incumbent_config) < 5 * obj.NOISE
    assert searcher.suggest("after-the-stop") == tune.search.Searcher.FINISHED


def test_tuner_with_random_search_and_inferred_space(ray_local, tmp_path):
    """Tune's default random search, no space given to the stopper (it infers one), decisions
    in the background thread. Random search only homes in on the optimum slowly, so this run
    tunes one parameter (in 2-D it needs far more than 120 trials, as in the paper)."""
    stopper = AutoTermStopper(rule="paper", background=True)
    tuner = tune.Tuner(
        obj.quadratic, param_space={"a": tune.uniform(0.0, 1.0), "b": 0.7, "noise": 0.05},
        tune_config=tune.TuneConfig(num_samples=BUDGET, max_concurrent_trials=2, reuse_actors=True),
        run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), name="rand", verbose=0),
    )
    grid = tuner.fit()
    stopper._settle()
    ran = [r for r in grid if r.metrics and "cv_scores" in r.metrics]
    assert len(ran) < BUDGET, "random search should also be stopped before the budget"
    assert_explained_stop(stopper, tmp_path / "rand")


def test_tuner_with_optuna_search_and_param_space(ray_local, tmp_path):
    pytest.importorskip("optuna")
    from ray.tune.search.optuna import OptunaSearch

    stopper = AutoTermStopper(rule="paper", param_space=obj.SPACE, background=False)
    tuner = tune.Tuner(
        obj.quadratic, param_space=obj.SPACE,
        tune_config=tune.TuneConfig(
            search_alg=OptunaSearch(seed=0), metric="cv_mean", mode="min",
            num_samples=BUDGET, max_concurrent_trials=1, reuse_actors=True,
        ),
        run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), name="optuna",
                                  verbose=0),
    )
    grid = tuner.fit()
    assert len([r for r in grid if r.metrics and "cv_scores" in r.metrics]) < BUDGET
    assert_explained_stop(stopper, tmp_path / "optuna")


def test_streamed_folds_and_duplicate_final_results(ray_local, tmp_path):
    stopper = AutoTermStopper(rule="paper", param_space=obj.SPACE, background=False, min_trials=5,
                              threshold=10.0)
    analysis = tune.run(
        obj.quadratic_streaming, config=obj.SPACE, stop=stopper, num_samples=8,
        reuse_actors=True, verbose=0, storage_path=str(tmp_path), name="stream",
    )
    # Each trial streamed 5 folds and its final result reached the stopper again: still one
    # record per trial, with its 5 folds in order.
    records = stopper.history.completed()
    assert {r.trial_id for r in records} <= {t.trial_id for t in analysis.trials}
    for rec in records:
        assert rec.fold_scores == pytest.approx(obj.folds_for(rec.config))
    assert len(records) >= 5
    assert stopper.fired is not None and stopper.fired.num_trials == 5  # threshold 10 » bound


def test_errored_and_nan_trials_are_excluded_without_crashing(ray_local, tmp_path):
    searcher = AutoTermSearcher(obj.SPACE, seed=1, num_initial=12)
    stopper = AutoTermStopper(rule="paper", searcher=searcher, background=False)
    analysis = tune.run(
        obj.quadratic_flaky, search_alg=searcher, stop=stopper, num_samples=60,
        max_concurrent_trials=1, reuse_actors=True, verbose=0, raise_on_failed_trial=False,
        storage_path=str(tmp_path), name="flaky",
    )
    errored = [t for t in analysis.trials if t.status == "ERROR"]
    assert errored, "the design should hit the failing band at least once"
    for t in errored:
        assert t.trial_id not in stopper.history or not stopper.history[t.trial_id].complete
    nan_records = [r for r in stopper.history.completed()
                   if any(math.isnan(v) for v in r.fold_scores)]
    for d in stopper.decisions:
        assert d.incumbent_fold_scores is None or all(
            math.isfinite(v) for v in d.incumbent_fold_scores)
    usable = [r for r in stopper.history.completed() if stopper.criterion.usable(r)]
    assert stopper.decisions[-1].num_trials == len(usable)
    assert all(not stopper.criterion.usable(r) for r in nan_records)


def test_fits_are_shared_while_the_bound_uses_all_trials(ray_local, tmp_path):
    """Up to min_fit (20) trials the bound's GP and the searcher's GP see the same data: one
    fit per completed trial for the pair. Beyond, the bound needs its own top-half fit."""
    searcher = AutoTermSearcher(obj.SPACE, seed=0, num_initial=5)
    stopper = AutoTermStopper(rule="paper", searcher=searcher, background=False, min_trials=1000)
    tune.run(
        obj.quadratic, search_alg=searcher, stop=stopper, num_samples=20,
        max_concurrent_trials=1, reuse_actors=True, verbose=0,
        storage_path=str(tmp_path), name="fits",
    )
    fitter = searcher.fitter
    assert fitter is stopper._state.fitter
    # The bound fits once per completed trial from the 3rd on (18 fits for 20 trials); the
    # searcher's suggestions after the design reuse them: no search fit of its own.
    assert fitter.fits_by_role.get("bound", 0) == 18
    assert fitter.fits_by_role.get("search", 0) == 0
    assert fitter.num_fits == 18


def test_let_running_finish_stops_no_running_trial(ray_local, tmp_path):
    stopper = AutoTermStopper(rule="paper",
        param_space=obj.SPACE, background=False, min_trials=3, threshold=10.0,
        let_running_finish=True,
    )
    analysis = tune.run(
        obj.quadratic_streaming, config=obj.SPACE, stop=stopper, num_samples=12,
        max_concurrent_trials=2, reuse_actors=True, verbose=0,
        storage_path=str(tmp_path), name="finish",
    )
    assert stopper.fired is not None
    running = {t.trial_id for t in analysis.trials if t.trial_id in stopper.running_at_stop}
    for t in analysis.trials:
        if t.trial_id in running:  # running at the stop: allowed to report all 5 folds
            assert stopper.history[t.trial_id].complete
    assert len(started(analysis.trials)) < 12


def test_random_forest_cv_with_a_categorical_via_tuner_param_space(ray_local, tmp_path):
    """A real model on a real dataset; the space reaches the searcher through the Tuner's
    param_space (set_search_properties) and holds a categorical (one-hot, enumerated)."""
    searcher = AutoTermSearcher(seed=0, num_initial=8)
    stopper = AutoTermStopper(rule="paper", searcher=searcher, background=False)
    tuner = tune.Tuner(
        obj.random_forest_cv, param_space=obj.RF_SPACE,
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=60, max_concurrent_trials=2, reuse_actors=True,
        ),
        run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), name="rf", verbose=0),
    )
    grid = tuner.fit()
    assert searcher.space is not None and searcher.space.onehot_groups == [[2, 3]]
    ran = [r for r in grid if r.metrics and "cv_scores" in r.metrics]
    assert {r.config["criterion"] for r in ran} == {"gini", "entropy"}
    decided = [d for d in stopper.decisions if d.regret_bound is not None]
    assert decided and all(d.fit_ok for d in decided)
    best = min(r.metrics["cv_mean"] for r in ran)
    assert best < 0.15, "a tuned forest's CV log loss on breast cancer is about 0.1"
    assert_explained_stop(stopper, tmp_path / "rf")
    assert len(ran) < 60
