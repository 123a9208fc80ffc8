"""``FoldPruner``: decisions checked against hand-computed cases (no Ray)."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest

from ray_autoterm.criterion.pruning import (
    FoldPruner,
    impute_folds,
    pooled_difference_variance,
)
from ray_autoterm.errors import InvalidArgumentError
from ray_autoterm.history import History, TrialRecord

# Three completed trials on 4 folds. Incumbent: "a" (mean 0.25).
#   b − a = (0.10, 0.12, 0.08, 0.10): mean 0.10, squares about it 0 + 4e-4 + 4e-4 + 0 = 8e-4
#   c − a = (0.30, 0.50, 0.10, 0.30): mean 0.30, squares 0 + .04 + .04 + 0 = 0.08
A = [0.10, 0.20, 0.30, 0.40]
B = [0.20, 0.32, 0.38, 0.50]
C = [0.40, 0.70, 0.40, 0.70]


def history() -> History:
    h = History()
    for tid, folds in (("a", A), ("b", B), ("c", C)):
        h.add(tid, {"x": tid}, folds)
    return h


def z(conf: float) -> float:
    return NormalDist().inv_cdf(conf)


def test_pooled_variance_over_the_better_half_by_hand():
    recs = history().completed()
    # All of b and c: (8e-4 + 0.08) / (3 + 3) dof.
    assert pooled_difference_variance(recs, recs[0]) == pytest.approx(0.0808 / 6)
    # pool_fraction 0.5 of 3 trials → the best 2 (a, b): b alone, 8e-4 / 3.
    pruner = FoldPruner(min_trials=1)
    pool = pruner.pool(recs, recs[0])
    assert [r.trial_id for r in pool] == ["a", "b"]
    assert pooled_difference_variance(pool, recs[0]) == pytest.approx(8e-4 / 3)


def test_one_fold_uses_the_pooled_error():
    # j = 1: se = sqrt(s_p² / 1) = sqrt(8e-4 / 3) = 0.016330; d = 0.14 − 0.10 = 0.04.
    se = math.sqrt(8e-4 / 3)
    h = history()
    d = FoldPruner(confidence=0.99, min_trials=1).evaluate([0.14], h)
    assert d.se_source == "pooled"
    assert d.mean_difference == pytest.approx(0.04)
    assert d.standard_error == pytest.approx(se)
    # 0.04 / 0.01633 = 2.449 standard errors: pruned at 0.99 (z 2.326), kept at 0.995 (2.576).
    assert d.prune
    assert not FoldPruner(confidence=0.995, min_trials=1).should_prune([0.14], h)


def test_two_folds_shrink_the_own_variance_towards_the_pooled():
    # d = (0.16, 0.24) − (0.10, 0.20) = (0.06, 0.04): mean 0.05, s_d² = 2e-4 (1 dof);
    # ν₀ = k − 1 = 3: s² = (1·2e-4 + 3·(8e-4/3)) / (1 + 3) = 2.5e-4, se = sqrt(2.5e-4 / 2).
    se = math.sqrt(2.5e-4 / 2)
    d = FoldPruner(min_trials=1).evaluate([0.16, 0.24], history())
    assert (d.se_source, d.num_folds) == ("own+pooled", 2)
    assert d.standard_error == pytest.approx(se)
    assert d.mean_difference == pytest.approx(0.05)
    assert d.prune == (z(0.95) * se < 0.05)  # 4.47 se: pruned
    assert d.prune
    # prior_dof=0: the trial's own differences alone, se = sqrt(2e-4 / 2) = 0.01.
    own = FoldPruner(min_trials=1, prior_dof=0).evaluate([0.16, 0.24], history())
    assert own.se_source == "own" and own.standard_error == pytest.approx(0.01)


def test_boundary_equal_to_the_threshold_does_not_prune():
    # Incumbent folds all 0, so d is the fold value itself; at exactly z·se: kept.
    h = History()
    h.add("a", {}, [0.0, 0.0, 0.0, 0.0])
    h.add("b", {}, [0.5, 1.0, 0.0, 0.5])  # s_p² = (0 + .25 + .25 + 0) / 3
    pruner = FoldPruner(confidence=0.9, min_trials=1)
    se = pruner.evaluate([0.0], h).standard_error
    assert se == pytest.approx(math.sqrt(0.5 / 3))
    at = pruner.z * se
    assert not pruner.should_prune([at], h)
    assert pruner.should_prune([math.nextafter(at, 1.0)], h)


def test_max_mode_negates():
    # Scores: higher is better. The incumbent is "c" (mean 0.55); "a" is far below it.
    pruner = FoldPruner(mode="max", confidence=0.95, min_trials=1)
    d = pruner.evaluate([0.10, 0.20], history())
    assert d.incumbent_trial_id == "c"
    assert d.mean_difference == pytest.approx(0.40)  # −((0.1 − 0.4) + (0.2 − 0.7)) / 2
    assert d.prune
    assert not pruner.should_prune([0.40, 0.70], history())  # as good as the incumbent


def test_folds_out_of_order_pair_with_the_same_fold_index():
    # Fold 2 only, as a mapping: d = 0.31 − 0.30 = 0.01 (pooled se 0.0163): kept; fold 2
    # at 0.45 is 0.15 above: pruned.
    pruner = FoldPruner(min_trials=1)
    assert not pruner.should_prune({2: 0.31}, history())
    d = pruner.evaluate({2: 0.45}, history())
    assert d.prune and d.mean_difference == pytest.approx(0.15)


def test_never_before_min_trials_nor_the_incumbent_nor_complete_nor_below_min_folds():
    h = history()
    assert not FoldPruner(min_trials=4).should_prune([9.0], h)  # 3 completed < 4
    assert FoldPruner(min_trials=3).should_prune([9.0], h)
    assert not FoldPruner(min_trials=1).should_prune([9.0], h, trial_id="a")
    assert not FoldPruner(min_trials=1).should_prune([9.0] * 4, h)  # all folds in
    assert not FoldPruner(min_trials=1, min_folds=2).should_prune([9.0], h)
    assert FoldPruner(min_trials=1).should_prune([math.nan], h)


def test_pruned_records_are_not_references():
    h = history()
    # A pruned record with an imputed (very good) value neither becomes the incumbent nor
    # counts towards min_trials.
    h.mark_pruned("p", {}, [0.0, 0.0, 0.0, 0.0], [0], complete=True)
    pruner = FoldPruner(min_trials=4)
    assert not pruner.should_prune([9.0], h)
    assert FoldPruner(min_trials=3).evaluate([9.0], h).incumbent_trial_id == "a"


def test_no_pooled_error_with_the_incumbent_alone():
    h = History()
    h.add("a", {}, A)
    d = FoldPruner(min_trials=1).evaluate([5.0], h)
    assert not d.prune and d.standard_error is None


def test_impute_folds_by_hand():
    inc = TrialRecord("a", {}, A)
    # measured folds 0 and 2: d = (0.2, 0.1), mean 0.15 → folds 1, 3 = 0.35, 0.55.
    full = impute_folds({0: 0.3, 2: 0.4}, inc)
    assert full == pytest.approx([0.3, 0.35, 0.4, 0.55])
    assert sum(full) / 4 == pytest.approx(0.25 + 0.15)


def test_history_keeps_pruned_records_final_and_merges_them():
    h = History()
    h.add("p", {}, [0.5], complete=False)
    assert h.mark_pruned("p", {}, [0.5], [0], complete=False)
    assert not h.add("p", {}, [0.5, 0.6], complete=True)
    assert h["p"].pruned and not h["p"].complete and h.completed() == []
    other = History.from_list(h.to_list())
    fresh = History()
    fresh.add("p", {}, [0.5], complete=False)
    fresh.merge(other)
    assert fresh["p"].folds_measured == [0]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"confidence": 0.5}, "confidence"),
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"min_trials": 0}, "min_trials"),
        ({"min_folds": 0}, "min_folds"),
        ({"mode": "up"}, "mode"),
        ({"pool_fraction": 0.0}, "pool_fraction"),
        ({"prior_dof": -1}, "prior_dof"),
    ],
)
def test_bad_arguments_fail_at_construction_naming_the_field(kwargs, name):
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        FoldPruner(**kwargs)


def test_bad_fold_losses_are_named():
    with pytest.raises(InvalidArgumentError, match="`fold_losses`"):
        FoldPruner().should_prune("0.1", history())
