"""Every path fires on time or says why not (issue 10): fast trials with any searcher,
schedulers and ``CombinedStopper``, trials that end without ``done``, bad folds, counts that
agree, progress a user sees by default. Real Ray runs on the shared local instance."""

from __future__ import annotations

import json
import logging
import os
import re
import time

import pytest
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.basic_variant import BasicVariantGenerator
from ray.tune.stopper import CombinedStopper, MaximumIterationStopper

import tune_objectives as obj
from ray_autoterm import DECISION_LOG_NAME, AutoTermSearcher, AutoTermStopper
from ray_autoterm.criterion import AutoTermCriterion
from ray_autoterm.history import History

SAMPLES = 60


@pytest.fixture
def autoterm_log(caplog):
    """Records of the ``ray_autoterm`` logger (it does not propagate to the root logger)."""
    log = logging.getLogger("ray_autoterm")
    log.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="ray_autoterm")
    yield caplog
    log.removeHandler(caplog.handler)


def messages(caplog, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def run(trainable, stopper, tmp_path, name: str, **kwargs):
    kwargs.setdefault("num_samples", SAMPLES)
    kwargs.setdefault("max_concurrent_trials", 2)
    kwargs.setdefault("config", obj.SPACE)
    return tune.run(
        trainable, stop=stopper, reuse_actors=True, verbose=0, storage_path=str(tmp_path),
        name=name, raise_on_failed_trial=False, **kwargs,
    )


def one_at_a_time() -> dict:
    """``run`` keywords for a reproducible ASHA run: one trial at a time from a seeded generator,
    so ASHA's cuts (and the trials compared at each rung) are the same in every run; with two at
    a time they depend on timing. Tests then assert the rule's count at the stop, not the trials
    started: one fast trial at a time can outrun the background decisions (made in order, later).
    """
    return {"max_concurrent_trials": None,
            "search_alg": BasicVariantGenerator(random_state=0, max_concurrent=1)}


def synchronous_first_stop(stopper: AutoTermStopper) -> int | None:
    """The synchronous rule replayed on the same trials in completion order: the number of
    usable trials at its first stop (``None``: it would not have stopped)."""
    c = stopper.criterion
    criterion = AutoTermCriterion(mode=c.mode, min_trials=c.min_trials,
                                  seed=c.improvement_evaluator.seed)
    history, space = History(), stopper._search_space()
    for rec in stopper.history.completed():
        history.add(rec.trial_id, rec.config, rec.fold_scores, rec.val_train_ratio)
        if not criterion.usable(history[rec.trial_id]):
            continue
        if criterion.evaluate(history, space).should_stop:
            return len(history.usable())
    return None


# ------------------------------------------------------------------ item 1: fast trials
def _searchers():
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    return {
        "optuna": lambda: (OptunaSearch(seed=0), None),
        "limited-optuna": lambda: (
            ConcurrencyLimiter(OptunaSearch(seed=0), max_concurrent=2), None
        ),
        "default": lambda: (BasicVariantGenerator(random_state=0), None),
        "linked": lambda: (lambda s: (s, s))(AutoTermSearcher(obj.SPACE, seed=0)),
    }


@pytest.mark.parametrize("which", ["optuna", "limited-optuna", "default", "linked"])
def test_fast_trials_stop_close_to_the_synchronous_rule(ray_local, tmp_path, which):
    """0.05 s trials: the background stop lags the synchronous rule by at most ``max_lag``
    trials, and after ``fit()`` the decisions cover every trial recorded (no stale state)."""
    pytest.importorskip("optuna")
    search_alg, linked = _searchers()[which]()
    stopper = (AutoTermStopper(searcher=linked) if linked is not None
               else AutoTermStopper(param_space=obj.SPACE))
    tuner = tune.Tuner(
        obj.quadratic_fast, param_space=None if linked else obj.SPACE,
        tune_config=tune.TuneConfig(
            search_alg=search_alg, metric=None if linked else "cv_mean",
            mode=None if linked else "min", num_samples=SAMPLES, max_concurrent_trials=2,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), name=which, verbose=0),
    )
    tuner.fit()
    usable = stopper.history.usable()
    sync = synchronous_first_stop(stopper)
    fired = stopper.fired
    assert fired is not None, f"{which}: never fired; the synchronous rule fired at {sync}"
    print(f"{which}: synchronous stop at {sync}, background stop at {fired.num_trials} "
          f"({len(usable)} trials completed, {len(stopper.decisions)} decisions)")
    if sync is not None:
        lag = fired.num_trials - sync
        assert lag <= stopper.max_lag, f"{which}: stop at {fired.num_trials}, synchronous at {sync}"
    # else: the replay (cold GP fits at every trial) did not fire on the trials recorded up to
    # the stop, so the background stop (warm-started fits) was not late; the two differ in the
    # GP's hyperparameters there, not in lag.
    # Not stale after fit(): the last decision is the firing one (none is made after it).
    assert stopper.decisions[-1] is fired or stopper.decisions[-1] == fired


# ------------------------------------------------ items 2 and 3: trials ending without `done`
def test_let_running_finish_ends_when_trials_raise_after_reporting(ray_local, tmp_path):
    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=4, threshold=10.0,
                              let_running_finish=True)
    analysis = run(obj.quadratic_then_raise, stopper, tmp_path, "raise", num_samples=40)
    assert stopper.fired is not None
    ran = [t for t in analysis.trials if t.last_result and "cv_scores" in t.last_result]
    assert len(ran) < 12, f"{len(ran)} of 40 trials ran: let_running_finish never ended"


def test_combined_stopper_with_our_stopper_second_still_fires(ray_local, tmp_path):
    """Tune's CombinedStopper calls its stoppers with a short-circuiting any(): a
    MaximumIterationStopper(1) first means ours is never called with a result."""
    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=4, threshold=10.0,
                              let_running_finish=True)
    analysis = run(obj.quadratic_then_more, CombinedStopper(MaximumIterationStopper(1), stopper),
                   tmp_path, "combined", num_samples=40)
    assert stopper.fired is not None and stopper.fired.num_trials >= 4
    ran = [t for t in analysis.trials if t.last_result and "extra" in t.last_result]
    assert len(ran) < 12, f"{len(ran)} of 40 trials ran"
    assert all("autoterm/regret_bound" in t.last_result for t in ran)


def test_trials_cut_short_by_a_stopper_get_one_clear_warning_and_end_the_run(
    ray_local, tmp_path, autoterm_log
):
    """MaximumIterationStopper(3) over 5 streamed folds: every trial ends with 3 of 5 folds.
    One warning says so; since no trial can ever be used, the run ends with a decision that
    says why instead of spending its budget."""
    stopper = AutoTermStopper(param_space=obj.SPACE)
    analysis = run(obj.quadratic_streaming, CombinedStopper(stopper, MaximumIterationStopper(3)),
                   tmp_path, "maxiter", num_samples=40)
    warnings = [m for m in messages(autoterm_log) if m.startswith("Trial") and "3 of 5 folds" in m]
    assert len(warnings) == 1, messages(autoterm_log)
    assert stopper.fired is not None and stopper.fired.num_trials == 0
    assert "usable" in stopper.fired.reason
    assert len([t for t in analysis.trials if t.last_result]) < 20


def test_asha_over_streamed_folds_fires_with_cut_trials_imputed(ray_local, tmp_path):
    """ASHA cuts most trials after 2 or 4 of their 5 folds; their missing folds are imputed
    from the incumbent's (as fold pruning does), so the zero-argument stopper fires before all
    60 trials have started."""
    stopper = AutoTermStopper(param_space=obj.SPACE, let_running_finish=True)
    sched = ASHAScheduler(metric="cv_mean", mode="min", time_attr="training_iteration",
                          max_t=5, grace_period=2, reduction_factor=2)
    # In one loaded run with two trials at a time the rule crossed only at 40+.
    run(obj.quadratic_streaming_slow, stopper, tmp_path, "asha-impute", scheduler=sched,
        num_samples=60, **one_at_a_time())
    assert stopper.fired is not None, stopper.decisions[-1].summary()
    assert stopper.fired.num_trials < 50, stopper.fired.summary()  # the rule's count
    assert stopper.fired.num_pruned > 0, "ASHA cut trials counted, imputed"


@pytest.mark.parametrize("fidelity", ["rung", "shift"])
def test_asha_over_epochs_fires_comparing_trials_at_one_fidelity(ray_local, tmp_path, fidelity):
    """A complete fold list every epoch, ASHA over 8 epochs: most trials are cut at epoch 1, 2
    or 4; the stopper compares trials at one fidelity (the default: the highest epoch that
    min_trials trials reached; also the curve shift) and fires before all 60 have started."""
    stopper = AutoTermStopper(param_space=obj.SPACE, let_running_finish=True,
                              fidelity=fidelity)
    sched = ASHAScheduler(metric="cv_mean", mode="min", time_attr="training_iteration",
                          max_t=8, grace_period=1, reduction_factor=2)
    run(obj.quadratic_epochs8, stopper, tmp_path, "asha-epochs", scheduler=sched,
        num_samples=60, **one_at_a_time())
    assert stopper.fired is not None, stopper.decisions[-1].summary()
    assert stopper.fired.num_trials < 50, stopper.fired.summary()  # the rule's count
    assert stopper._said_fidelity, "trials at different epochs were compared at one fidelity"


def test_asha_over_streamed_folds_says_why_when_cut_trials_are_left_out(
    ray_local, tmp_path, autoterm_log
):
    stopper = AutoTermStopper(param_space=obj.SPACE, let_running_finish=True,
                              cut_trials="leave_out")
    sched = ASHAScheduler(metric="fold_loss", mode="min", time_attr="training_iteration",
                          max_t=5, grace_period=1, reduction_factor=3)
    run(obj.quadratic_streaming, stopper, tmp_path, "asha", scheduler=sched, num_samples=40)
    text = "\n".join(messages(autoterm_log))
    assert "of 5 folds" in text, text
    assert stopper.fired is None
    assert any("min_trials" in m and "all their folds" in m for m in messages(autoterm_log)), text


def test_asha_on_cv_mean_with_complete_folds_per_report(ray_local, tmp_path):
    """The supported ASHA recipe: every report is a complete fold list, ASHA prunes on
    cv_mean; pruned trials count with their last folds, and let_running_finish ends."""
    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=8, threshold=10.0,
                              let_running_finish=True)
    sched = ASHAScheduler(metric="cv_mean", mode="min", time_attr="training_iteration",
                          max_t=3, grace_period=1, reduction_factor=3)
    analysis = run(obj.quadratic_epochs, stopper, tmp_path, "asha-cv", scheduler=sched,
                   num_samples=40)
    assert stopper.fired is not None and stopper.fired.num_trials >= 8
    pruned = [t for t in analysis.trials if t.last_result.get("training_iteration") == 1]
    assert pruned, "ASHA should have pruned some trials at the first rung"
    assert all(stopper.history[t.trial_id].complete for t in pruned)
    assert len([t for t in analysis.trials if t.last_result]) < 20


def test_tune_mode_is_taken_or_a_contradiction_refused(ray_local, tmp_path):
    """TuneConfig(metric="cv_mean", mode="max") with scores reported without `cv_mode`: the
    stopper's default takes Tune's mode; an explicit contradicting mode is refused before a
    trial runs."""
    def tuner(stopper, name):
        return tune.Tuner(
            obj.quadratic_scores_raw, param_space=obj.SPACE,
            tune_config=tune.TuneConfig(metric="cv_mean", mode="max", num_samples=6,
                                        max_concurrent_trials=2, reuse_actors=True),
            run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), name=name,
                                      verbose=0),
        )

    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=3)
    tuner(stopper, "takes").fit()
    assert stopper.mode == "max" and stopper.decisions[-1].mode == "max"
    best = max(r.value for r in stopper.history.usable())
    assert stopper.decisions[-1].incumbent_value == pytest.approx(best)

    with pytest.raises(Exception, match=r"`mode`.*AutoTermStopper\(mode=...\) says \"min\" but "
                       r"TuneConfig / tune.run .* says \"max\""):
        tuner(AutoTermStopper(param_space=obj.SPACE, mode="min"), "contradicts").fit()


# ------------------------------------------------------------------ item 6: bad folds
def test_unusable_folds_warn_once_and_stop_the_run(ray_local, tmp_path, autoterm_log):
    stopper = AutoTermStopper(param_space=obj.SPACE)
    analysis = run(obj.one_fold_plain, stopper, tmp_path, "onefold", num_samples=60)
    text = [m for m in messages(autoterm_log) if m.startswith("Trial") and "at least 2" in m]
    assert len(text) == 1, messages(autoterm_log)
    assert stopper.fired is not None and "usable" in stopper.fired.reason
    assert len([t for t in analysis.trials if t.last_result]) < 25
    text = _report(tmp_path / "onefold")
    assert "Stopped after 0 trials with usable fold scores" in text and "1 value" in text, text
    start = time.monotonic()
    stopper._settle(timeout=30)
    assert time.monotonic() - start < 2


def test_settle_returns_when_nothing_is_usable():
    stopper = AutoTermStopper(param_space=obj.SPACE)
    stopper("t0", {"config": {"a": 0.1, "b": 0.2}, "loss": 0.3, "done": True})
    start = time.monotonic()
    assert stopper._settle(timeout=30) is None
    assert time.monotonic() - start < 1


# ------------------------------------------------------------------ item 5: counts
def _report(path) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "ray_autoterm", "report", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_counts_agree_and_runs_do_not_mix(ray_local, tmp_path, autoterm_log):
    exp = tmp_path / "counts"
    for _ in range(2):  # the same name twice: the second run must not read the first
        stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=6, threshold=10.0)
        analysis = run(obj.quadratic, stopper, tmp_path, "counts", num_samples=SAMPLES)
        assert stopper.fired is not None
    # Started: Tune started the trial (never-started ones are listed TERMINATED too).
    started = [t for t in analysis.trials if t.run_metadata.start_time is not None]
    assert len(started) < SAMPLES
    text = _report(exp)
    assert f"{len(started)} started" in text, text
    assert f"after {stopper.fired.num_trials} " in text
    # The stopper's stop line counts as the report does (same words; trials that Tune started
    # after the stop are in the report's count only, hence "so far").
    stops = [m for m in messages(autoterm_log, logging.INFO) if "stops the experiment" in m]
    logged = [int(n) for n in re.findall(r"\((\d+) more started trials? not counted so far",
                                         stops[-1])]
    assert len(logged) == 1, stops[-1]
    assert logged[0] <= max(0, len(started) - stopper.fired.num_trials)
    # The firing decision is easy to find: the log's last line, and autoterm_stop.json.
    lines = (exp / DECISION_LOG_NAME).read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["should_stop"] and last["num_trials"] == stopper.fired.num_trials
    assert last["run_id"] == stopper.run_id
    stop = json.loads((exp / "autoterm_stop.json").read_text())
    assert stop["run_id"] == stopper.run_id and stop["decision"]["num_trials"] == last["num_trials"]
    runs = {json.loads(line)["run_id"] for line in lines}
    assert len(runs) == 2


# ------------------------------------------------------------------ item 9: progress
def test_progress_shows_in_tunes_default_table_and_in_log_lines(ray_local, tmp_path, autoterm_log):
    from ray.tune.experimental.output import _infer_user_metrics

    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=1000)
    analysis = run(obj.quadratic, stopper, tmp_path, "progress", num_samples=25)
    # Not stale after fit(): the final decision covers every usable trial (no wait needed).
    assert stopper.decisions[-1].num_trials == len(stopper.history.usable()) == 25
    shown = _infer_user_metrics(analysis.trials)  # the columns of Ray 2.60's default table
    assert "autoterm/regret_bound" in shown and "autoterm/statistical_error" in shown, shown
    lines = [m for m in messages(autoterm_log, logging.INFO) if "regret bound" in m]
    counts = [int(n) for m in lines for n in re.findall(r"after (\d+) trials", m)]
    assert any(n >= 20 for n in counts) and any(n >= 10 for n in counts), lines


def test_stopper_alone_finds_the_experiment_dir_and_the_callback_does_too(ray_local, tmp_path):
    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=3, threshold=10.0)
    run(obj.quadratic, stopper, tmp_path, "alone", num_samples=8)
    assert (tmp_path / "alone" / DECISION_LOG_NAME).exists()

    stopper = AutoTermStopper(param_space=obj.SPACE, min_trials=3, threshold=10.0)
    run(obj.quadratic, stopper, tmp_path, "explicit", num_samples=8,
        callbacks=[stopper.callback()])
    assert (tmp_path / "explicit" / DECISION_LOG_NAME).exists()
    assert os.path.exists(tmp_path / "explicit" / "autoterm_stop.json")
