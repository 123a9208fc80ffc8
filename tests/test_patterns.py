"""No silent wrong answer across Ray's patterns: the direction from wherever Tune has it, the
background stop equal to the synchronous rule's, streamed folds with any searcher, the stop in
Tune's stored results, stray arguments. Real Ray runs on the shared local instance."""

from __future__ import annotations

import pytest
from ray import tune
from ray.tune.schedulers import ASHAScheduler

import tune_objectives as obj
from ray_autoterm import AutoTermStopper, FoldPruningScheduler, finished_results
from ray_autoterm.errors import InvalidArgumentError


def tuner(trainable, stopper, tmp_path, name, *, samples=60, concurrent=2, **tune_config):
    return tune.Tuner(
        trainable, param_space=obj.SPACE,
        tune_config=tune.TuneConfig(num_samples=samples, max_concurrent_trials=concurrent,
                                    reuse_actors=True, **tune_config),
        run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), name=name,
                                  verbose=0),
    )


def replay_first_stop(stopper: AutoTermStopper) -> int | None:
    """The synchronous rule (``background=False``) fed the same results in the order the trials
    completed: the trial count of its firing decision (``None``: it never fires)."""
    sync = AutoTermStopper(param_space=obj.SPACE, mode=stopper.mode, background=False,
                           log_dir="", min_trials=stopper.criterion.min_trials)
    for trial_id in stopper._state.completion:
        rec = stopper.history[trial_id]
        sync(trial_id, {"config": rec.config, "cv_scores": rec.fold_scores, "done": True})
        if sync.fired is not None:
            return sync.fired.num_trials
    return None


# ------------------------------------------------------------------ the direction
def test_mode_given_to_optuna_only_is_honoured(ray_local, tmp_path):
    """Scores reported without `cv_mode`; only OptunaSearch(mode="max") says which way is
    better. The stopper takes it (before: "min", the worst trial as incumbent, no stop)."""
    from ray.tune.search.optuna import OptunaSearch

    stopper = AutoTermStopper(param_space=obj.SPACE)
    grid = tuner(obj.quadratic_scores_raw, stopper, tmp_path, "optuna-max",
                 search_alg=OptunaSearch(metric="cv_mean", mode="max", seed=0)).fit()
    assert stopper.mode == "max"
    decision = stopper.fired or stopper.decisions[-1]
    seen = stopper.history.usable()[: decision.num_trials]
    # The incumbent is the best (highest) of the trials the decision saw, not the worst.
    assert decision.incumbent_value == pytest.approx(max(r.value for r in seen))
    assert len(finished_results(grid)) >= decision.num_trials


def test_mode_given_to_asha_only_is_honoured(ray_local, tmp_path):
    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=5, threshold=10.0)
    tuner(obj.quadratic_scores_raw, stopper, tmp_path, "asha-max", samples=8,
          scheduler=ASHAScheduler(metric="cv_mean", mode="max")).fit()
    assert stopper.mode == "max" and stopper.decisions[-1].mode == "max"


def test_conflicting_modes_are_refused_naming_both_places(ray_local, tmp_path):
    """OptunaSearch says "max", the trials' results say "min": refused, before any decision."""
    from ray.tune.search.optuna import OptunaSearch

    stopper = AutoTermStopper(param_space=obj.SPACE)
    with pytest.raises(Exception) as info:
        grid = tuner(obj.quadratic, stopper, tmp_path, "conflict", samples=4,
                     search_alg=OptunaSearch(metric="cv_mean", mode="max", seed=0)).fit()
        # Tune may keep the driver alive and hand the error over in the grid instead.
        raise RuntimeError(str(grid.errors))
    text = str(info.value) + repr(info.value.__cause__)
    assert "OptunaSearch" in text and "cv_mode" in text, text
    assert stopper.decisions == []


def test_a_run_that_never_says_the_direction_is_refused(ray_local, tmp_path):
    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=3)
    with pytest.raises(Exception) as info:
        tuner(obj.quadratic_scores_raw, stopper, tmp_path, "no-mode", samples=4).fit()
    assert "does not guess" in str(info.value) + repr(info.value.__cause__)


def test_stray_keyword_is_named_as_the_stoppers():
    with pytest.raises(InvalidArgumentError, match="`bogus_kw`.*AutoTermStopper"):
        AutoTermStopper(bogus_kw=1)


# ------------------------------------------------- the background stop is the synchronous one
@pytest.mark.parametrize("repeat", [0, 1])
def test_background_stop_with_concurrent_trials_matches_the_synchronous_rule(
    ray_local, tmp_path, repeat
):
    """4 concurrent 0.5-CPU trials, reuse_actors, Tune's default searcher: the firing decision
    is the synchronous replay's (every count evaluated in order), within 5 trials."""
    stopper = AutoTermStopper(param_space=obj.SPACE)
    trainable = tune.with_resources(obj.quadratic_half_cpu, {"cpu": 0.5})
    tuner(trainable, stopper, tmp_path, f"bg-{repeat}", concurrent=4).fit()
    sync = replay_first_stop(stopper)
    fired = stopper.fired
    print(f"background stop at {fired and fired.num_trials}, synchronous replay at {sync}, "
          f"{stopper._state.num_completed} trials completed, {len(stopper.decisions)} decisions")
    assert (fired is None) == (sync is None), (fired, sync)
    if fired is not None:
        assert abs(fired.num_trials - sync) <= 5
        # Every count from min_trials to the stop was evaluated (none skipped).
        counts = [d.num_trials for d in stopper.decisions if d.num_trials >= 20]
        assert counts == list(range(20, fired.num_trials + 1)), counts


# ------------------------------------------------------- streamed folds with any searcher
def test_streamed_folds_with_optuna_and_fold_pruning(ray_local, tmp_path):
    """`report_fold` results carry the running `cv_mean`, so Tune's metric check and
    OptunaSearch(metric="cv_mean") work; the stop fires."""
    from ray.tune.search.optuna import OptunaSearch

    stopper = AutoTermStopper(param_space=obj.SPACE)
    scheduler = FoldPruningScheduler(stopper=stopper)
    grid = tuner(obj.quadratic_streaming, stopper, tmp_path, "stream-optuna",
                 metric="cv_mean", mode="min", search_alg=OptunaSearch(seed=0),
                 scheduler=scheduler).fit()
    assert not grid.errors
    assert stopper.fired is not None, stopper.decisions[-1].summary()


# ---------------------------------------------------------- the stop in Tune's results
def test_firing_decision_reaches_tunes_results(ray_local, tmp_path):
    """The firing decision is written into the stored results of the trial that fired it and
    of the running trials (synchronous here, so that it comes before the run ends on a loaded
    machine; the background worker writes the same dicts when it fires)."""
    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=8, threshold=10.0,
                              background=False)
    grid = tuner(obj.quadratic, stopper, tmp_path, "stored", samples=30, concurrent=2).fit()
    assert stopper.fired is not None
    df = grid.get_dataframe()
    assert (df["autoterm/stopped"] == 1).any(), df[["autoterm/stopped", "autoterm/num_trials"]]
    assert df["autoterm/num_trials"].max() == stopper.fired.num_trials


# ------------------------------------------------------------ trials Tune never started
def test_finished_results_leave_out_the_trials_tune_never_started(ray_local, tmp_path):
    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=8, threshold=10.0)
    grid = tuner(obj.quadratic, stopper, tmp_path, "phantoms", samples=30, concurrent=2).fit()
    assert stopper.fired is not None
    finished = finished_results(grid)
    assert len(finished) < len(grid), "Tune created trials it never started"
    assert all("cv_mean" in r.metrics for r in finished)  # no KeyError on any of them
    assert len(finished) >= stopper.fired.num_trials
