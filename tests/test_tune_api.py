"""The stopper's and searcher's contracts: arguments, odd results, progress metrics."""

from __future__ import annotations

import csv
import logging

import pytest
from ray import tune

import tune_objectives as obj
from ray_autoterm import AutoTermSearcher, AutoTermStopper, report_cv_scores
from ray_autoterm.errors import InvalidArgumentError, SearchSpaceError


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "maximize"}, r"`mode`.*'maximize'"),
        ({"min_trials": 0}, r"`min_trials`.*got 0"),
        ({"delta": 1.5}, r"`delta`.*got 1.5"),
        ({"beta_scale": -1}, r"`beta_scale`.*got -1"),
        ({"threshold": 0}, r"`threshold`.*got 0"),
        ({"val_train_ratio": -0.2}, r"`val_train_ratio`.*got -0.2"),
        ({"cv_scores_key": ""}, r"`cv_scores_key`.*got ''"),
        ({"metric": "loss"}, r"`metric`.*unless `threshold`"),
        ({"let_running_finish": "yes"}, r"`let_running_finish`.*'yes'"),
        ({"duty_cycle": 0}, r"`duty_cycle`.*\(0, 1\].*got 0"),
        ({"duty_cycle": 1.5}, r"`duty_cycle`.*got 1.5"),
        ({"searcher": object()}, r"`searcher`.*AutoTermSearcher"),
    ],
)
def test_stopper_rejects_bad_arguments_at_construction(kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        AutoTermStopper(**kwargs)


def test_unsupported_domain_is_named_at_construction():
    with pytest.raises(SearchSpaceError, match=r"`model/width`.*grid_search"):
        AutoTermStopper(param_space={"model": {"width": tune.grid_search([1, 2])}})
    with pytest.raises(SearchSpaceError, match=r"`f`.*Function"):
        AutoTermSearcher({"f": tune.sample_from(lambda spec: 1)})


def test_searcher_and_stopper_modes_must_agree():
    with pytest.raises(InvalidArgumentError, match="mode"):
        AutoTermStopper(mode="min", searcher=AutoTermSearcher(obj.SPACE, mode="max"))


def test_results_without_folds_are_skipped_with_one_warning(caplog):
    stopper = AutoTermStopper(param_space=obj.SPACE, mode="min", background=False)
    with caplog.at_level(logging.WARNING, logger="ray_autoterm"):
        for _ in range(3):
            assert stopper("t0", {"config": {"a": 0.1, "b": 0.2}, "loss": 0.3}) is False
    messages = [r.getMessage() for r in caplog.records if "t0" in r.getMessage()]
    assert len(messages) == 1 and "`cv_scores`" in messages[0]
    assert len(stopper.history) == 0


def test_single_fold_and_mixed_fold_counts():
    stopper = AutoTermStopper(param_space=obj.SPACE, mode="min", background=False, min_trials=3)
    stopper("one-fold", {"config": {"a": 0.3, "b": 0.7}, "cv_scores": [0.0]})
    for i, k in enumerate([3, 5, 10, 4]):
        cfg = {"a": 0.1 * (i + 1), "b": 0.5}
        stopper(f"t{i}", {"config": cfg, "cv_scores": obj.folds_for(cfg, k=k)})
    d = stopper.decisions[-1]
    assert d.num_trials == 4, "the single-fold trial cannot give an error and is left out"
    assert len(d.incumbent_fold_scores) == {0: 3, 1: 5, 2: 10, 3: 4}[int(d.incumbent_trial_id[1:])]


@pytest.mark.parametrize("bad", ["0.1,0.2", ["0.1", "0.2"], [True, False], {"f0": 0.1}])
def test_raw_report_and_helper_refuse_the_same_values(caplog, bad):
    """What report_cv_scores refuses, the stopper refuses from a raw tune.report too."""
    stopper = AutoTermStopper(param_space=obj.SPACE, mode="min", background=False)
    with caplog.at_level(logging.WARNING, logger="ray_autoterm"):
        stopper("t0", {"config": {"a": 0.1, "b": 0.2}, "cv_scores": bad})
    assert "not a list of numbers" in caplog.text and len(stopper.history) == 0
    with pytest.raises(InvalidArgumentError, match="`fold_values`"):
        report_cv_scores(bad, mode="min")


def test_report_cv_scores_passes_too_few_folds_on_with_one_warning(caplog, monkeypatch):
    # Fewer than 2 folds: reported as they are (no exception in every trial), warned once per
    # process; the stopper gives the experiment-level message. Not numbers: a clear error.
    from ray_autoterm.tune import reporting

    monkeypatch.setattr(reporting, "_warned_few_folds", False)
    with caplog.at_level(logging.WARNING, logger="ray_autoterm"):
        one = report_cv_scores([0.3], mode="min")
        none = report_cv_scores([], mode="min")
    assert one["cv_scores"] == [0.3] and one["num_folds"] == 1 and one["cv_mean"] == 0.3
    assert none["cv_scores"] == [] and none["num_folds"] == 0 and none["cv_mean"] != none["cv_mean"]
    assert caplog.text.count("at least 2 folds") == 1
    for bad in (["a", 0.2], "0.1,0.2", 0.3, [None, 0.1], [True, False], {"f0": 0.1}):
        with pytest.raises(InvalidArgumentError, match=r"`fold_values`.*sequence of numbers"):
            report_cv_scores(bad, mode="min")


def test_progress_metrics_reach_tunes_csv_logger(ray_local, tmp_path):
    stopper = AutoTermStopper(param_space=obj.SPACE, mode="min", background=False, min_trials=5)
    analysis = tune.run(
        obj.quadratic, config=obj.SPACE, stop=stopper, num_samples=6, reuse_actors=True,
        verbose=0, storage_path=str(tmp_path), name="progress",
    )
    last = analysis.trials[-1]
    with open(f"{last.local_path}/progress.csv") as f:
        row = next(csv.DictReader(f))
    assert float(row["autoterm/num_trials"]) >= 5
    assert float(row["autoterm/statistical_error"]) > 0
    # The row shows the decision made before this trial's result: 5 trials, a real bound.
    assert float(row["autoterm/regret_bound"]) > 0
    assert float(row["autoterm/stopped"]) in (0.0, 1.0)


def test_give_up_advice_fits_why_the_trials_were_unusable():
    """NaN folds are not told to 'report at least 2 fold values' (they did)."""
    stopper = AutoTermStopper(param_space=obj.SPACE, mode="min", background=False,
                              give_up_after=3, log_dir="")
    for i in range(3):
        cfg = {"a": 0.1 * i, "b": 0.5}
        stopper(f"t{i}", {"config": cfg, "cv_scores": [float("nan"), 0.1, 0.2], "done": True})
    reason = stopper.fired.reason
    assert "NaN or inf" in reason and "at least 2 fold values" not in reason, reason
