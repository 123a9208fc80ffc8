"""Trials at different epochs compared at the highest one (the curve shift), by hand."""

from __future__ import annotations

import pytest

from ray_autoterm.criterion.fidelity import (
    at_common_rung,
    at_full_fidelity,
    curve_shift,
    reference_curve,
)
from ray_autoterm.history import TrialRecord


def test_curve_shift_adds_the_references_improvement_fold_by_fold():
    assert curve_shift([0.5, 0.7], [0.4, 0.6], [0.2, 0.5]) == pytest.approx([0.3, 0.6])
    with pytest.raises(ValueError, match="as many values"):
        curve_shift([0.5], [0.4, 0.6], [0.2, 0.5])


@pytest.mark.parametrize("mode", ["min", "max"])
def test_reference_is_the_best_trial_with_both_epochs(mode):
    sign = 1.0 if mode == "min" else -1.0
    curves = {"a": {1: [0.5], 4: [0.3]}, "b": {1: [0.4], 4: [0.35]}, "c": {1: [0.1]}}
    ref = reference_curve(curves, full=4, at=1, sign=sign)
    assert ref == (("a", [0.5], [0.3]) if mode == "min" else ("b", [0.4], [0.35]))
    assert reference_curve(curves, full=4, at=2) is None  # nobody reported epoch 2


def test_records_below_the_highest_epoch_are_shifted_and_others_kept():
    recs = [TrialRecord("a", {}, [0.30, 0.32]), TrialRecord("b", {}, [0.45, 0.47]),
            TrialRecord("p", {}, [0.9, 0.9], folds_measured=[0])]
    curves = {"a": {1: [0.50, 0.52], 2: [0.30, 0.32]}, "b": {1: [0.45, 0.47]},
              "p": {1: [0.9]}}  # p's record is not its curve's last point: left alone
    out, shifted = at_full_fidelity(recs, curves)
    assert shifted == 1
    assert out[0] is recs[0] and out[2] is recs[2]
    assert out[1].fold_scores == pytest.approx([0.25, 0.27])


def test_one_epoch_per_trial_changes_nothing():
    recs = [TrialRecord("a", {}, [0.3, 0.2]), TrialRecord("b", {}, [0.4, 0.1])]
    out, shifted = at_full_fidelity(recs, {"a": {1: [0.3, 0.2]}, "b": {1: [0.4, 0.1]}})
    assert shifted == 0 and out == recs


def test_common_rung_is_the_highest_epoch_min_trials_reached():
    recs = [TrialRecord(t, {}, [v]) for t, v in
            (("a", 0.2), ("b", 0.45), ("c", 0.5), ("d", 0.35))]
    curves = {"a": {1: [0.5], 2: [0.3], 4: [0.2]}, "b": {1: [0.45]},
              "c": {1: [0.6], 2: [0.5]}, "d": {1: [0.4], 2: [0.35]}}
    out, epoch = at_common_rung(recs, curves, min_trials=3)
    assert epoch == 2
    # a is taken back to epoch 2 (comparable), b (stopped at epoch 1) is left out
    assert [(r.trial_id, r.fold_scores) for r in out] == [("a", [0.3]), ("c", [0.5]),
                                                          ("d", [0.35])]
    out, epoch = at_common_rung(recs, curves, min_trials=5)  # no epoch has 5: the fullest
    assert epoch == 1 and len(out) == 4


def test_common_rung_leaves_one_epoch_runs_alone():
    recs = [TrialRecord("a", {}, [0.3, 0.2]), TrialRecord("b", {}, [0.4, 0.1])]
    out, epoch = at_common_rung(recs, {"a": {1: [0.3, 0.2]}, "b": {1: [0.4, 0.1]}}, 2)
    assert epoch == 0 and out == recs
