"""Trial records: adding, replacing, merging and serialising fold scores."""

from __future__ import annotations

import math
import pickle

import pytest

from ray_autoterm.history import History, TrialRecord


def test_add_records_in_completion_order() -> None:
    h = History()
    assert h.add("b", {"x": 2.0}, [0.4, 0.2])
    assert h.add("a", {"x": 1.0}, [0.1, 0.3], val_train_ratio=0.25)
    assert [r.trial_id for r in h.completed()] == ["b", "a"]
    assert len(h) == 2 and "a" in h and "c" not in h
    assert h["a"].value == pytest.approx(0.2) and h["a"].val_train_ratio == 0.25
    assert [r.order for r in h.completed()] == [1, 2]


def test_config_is_copied() -> None:
    config = {"model": {"depth": 3}}
    h = History()
    h.add("a", config, [0.1, 0.2])
    config["model"]["depth"] = 99
    assert h["a"].config == {"model": {"depth": 3}}


def test_replacement_rules() -> None:
    h = History()
    assert h.add("a", {}, [0.1], complete=False)
    assert h.completed() == []
    assert not h.add("a", {}, [0.1], complete=False)  # nothing new
    assert h.add("a", {}, [0.1, 0.2], complete=True)  # partial → complete
    assert not h.add("a", {}, [0.1, 0.2])  # the same final result again
    assert not h.add("a", {}, [0.1, 0.2, 0.3], complete=False)  # complete is not downgraded
    assert h.add("a", {}, [0.5, 0.6])  # a second, different complete report wins
    assert h["a"].fold_scores == [0.5, 0.6] and h["a"].order == 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_usable_excludes_non_finite_single_fold_and_partial_records(bad: float) -> None:
    h = History()
    h.add("ok", {}, [0.1, 0.2])
    h.add("bad", {}, [0.1, bad])
    h.add("one", {}, [0.1])
    h.add("partial", {}, [0.1, 0.2], complete=False)
    assert [r.trial_id for r in h.completed()] == ["ok", "bad", "one"]
    assert [r.trial_id for r in h.usable()] == ["ok"]
    assert [r.trial_id for r in h.usable(min_folds=1)] == ["ok", "one"]
    assert not h["bad"].usable() and not math.isfinite(h["bad"].value)
    assert not h["partial"].usable()


def test_merge_takes_missing_and_more_complete_records() -> None:
    mine, theirs = History(), History()
    mine.add("a", {"x": 1}, [0.1, 0.2])
    mine.add("b", {"x": 2}, [0.3], complete=False)
    theirs.add("b", {"x": 2}, [0.3, 0.4])
    theirs.add("c", {"x": 3}, [0.5, 0.6])
    theirs.add("a", {"x": 1}, [0.9], complete=False)  # less complete: ignored
    mine.merge(theirs)
    assert [r.trial_id for r in mine.completed()] == ["a", "b", "c"]
    assert mine["a"].fold_scores == [0.1, 0.2] and mine["b"].fold_scores == [0.3, 0.4]
    mine.merge(theirs)  # idempotent
    assert len(mine) == 3


def test_round_trips_through_plain_data_and_pickle() -> None:
    h = History()
    h.add("a", {"m": {"x": 1.5}}, [0.1, 0.2], val_train_ratio=0.2)
    h.add("b", {"m": {"x": 2.5}}, [0.3], complete=False)
    for clone in (History.from_list(h.to_list()), pickle.loads(pickle.dumps(h))):
        assert [vars(r) for r in clone] == [vars(r) for r in h]
        assert clone.add("c", {}, [0.0, 0.0]) and clone["c"].order == 3
    assert all(isinstance(row, dict) for row in h.to_list())
    assert TrialRecord(**h.to_list()[0]) == h["a"]
