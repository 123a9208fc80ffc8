"""Trial records: each completed trial's config and its fold scores, as reported.

The history is plain data (lists, dicts, floats): it pickles into Tune's experiment state and
into the searcher's checkpoint, and two copies can be merged after a restore without losing a
trial (:meth:`History.merge`).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any


@dataclasses.dataclass
class TrialRecord:
    """One trial's evaluation.

    Attributes:
        trial_id: Tune's trial id.
        config: The trial's configuration (nested dict).
        fold_scores: The fold values as reported (metric units and sign), in fold order.
        val_train_ratio: ``n_val / n_train`` the trial reported, if any (else the criterion's).
        complete: Whether all folds are in (a streamed trial may be partial).
        order: Completion order, used to break ties and to replay decisions in time order.
        folds_measured: Set when a fold-pruning scheduler stopped the trial: the indices of the
            folds it measured (the others never ran). ``fold_scores`` then holds either those
            measured values (``complete=False``: left out of the criterion and the searcher's
            GP) or a full list with the missing folds imputed from the incumbent's
            (``complete=True``: an observation like any other; see
            :func:`ray_autoterm.criterion.pruning.impute_folds`).
        holdout_se: Set for one validation set (``report_holdout``): the standard error of the
            mean validation loss, ``sd / sqrt(n)``; ``fold_scores`` then holds the one mean.
        holdout_n: The number of validation examples behind ``holdout_se``.
    """

    trial_id: str
    config: dict[str, Any]
    fold_scores: list[float]
    val_train_ratio: float | None = None
    complete: bool = True
    order: int = 0
    folds_measured: list[int] | None = None
    holdout_se: float | None = None
    holdout_n: int | None = None

    @property
    def pruned(self) -> bool:
        """Whether a fold-pruning scheduler stopped the trial before all its folds ran."""
        return self.folds_measured is not None

    @property
    def value(self) -> float:
        """The mean of the fold scores (the objective ``f̂``), as reported."""
        return sum(self.fold_scores) / len(self.fold_scores)

    def usable(self, min_folds: int = 2) -> bool:
        """Whether the criterion can use this record: complete, ``min_folds`` or more fold
        values (2 for Eq. 9's spread; 1 with a fixed threshold), all finite; a holdout
        record's ``holdout_se`` finite and >= 0."""
        return (
            self.complete
            and len(self.fold_scores) >= min_folds
            and all(map(math.isfinite, self.fold_scores))
            and (self.holdout_se is None or (math.isfinite(self.holdout_se)
                                             and self.holdout_se >= 0))
        )


class History:
    """Completed trials in completion order, at most one record per trial id.

    Example:
        >>> h = History()
        >>> h.add("a", {"x": 1.0}, [0.3, 0.2])
        True
        >>> h.add("a", {"x": 1.0}, [0.3, 0.2])  # the same final result again: no change
        False
        >>> len(h), h["a"].value
        (1, 0.25)
    """

    def __init__(self) -> None:
        self._records: dict[str, TrialRecord] = {}
        self._counter = 0

    def add(
        self,
        trial_id: str,
        config: Mapping[str, Any],
        fold_scores: Sequence[float],
        val_train_ratio: float | None = None,
        complete: bool = True,
        holdout_se: float | None = None,
        holdout_n: int | None = None,
    ) -> bool:
        """Record a trial's folds. Returns whether the history changed.

        A trial already recorded as complete is only replaced by a different complete fold
        list (a trial that reported twice keeps its last complete list); a partial record is
        replaced by any longer or complete one.
        """
        old = self._records.get(trial_id)
        scores = [float(v) for v in fold_scores]
        if old is not None:
            if old.pruned:
                return False  # a pruned trial's record is final (see mark_pruned)
            if (old.fold_scores == scores and old.complete == complete
                    and old.holdout_se == holdout_se):
                return False
            if old.complete and not complete:
                return False
            order = old.order
        else:
            self._counter += 1
            order = self._counter
        self._records[trial_id] = TrialRecord(
            trial_id, _copy_config(config), scores, val_train_ratio, complete, order,
            holdout_se=holdout_se, holdout_n=holdout_n,
        )
        return True

    def mark_pruned(
        self,
        trial_id: str,
        config: Mapping[str, Any],
        fold_scores: Sequence[float],
        folds_measured: Sequence[int],
        complete: bool,
        val_train_ratio: float | None = None,
    ) -> bool:
        """Record that a trial was pruned after measuring ``folds_measured``; returns whether the
        history changed. The record is final: later results of the trial are ignored.

        Example:
            >>> h = History()
            >>> h.mark_pruned("p", {}, [0.9], [0], complete=False)
            True
            >>> h.add("p", {}, [0.9], complete=True), h["p"].pruned, len(h.completed())
            (False, True, 0)
        """
        old = self._records.get(trial_id)
        if old is not None and old.pruned:
            return False
        if old is not None:
            order = old.order
        else:
            self._counter += 1
            order = self._counter
        self._records[trial_id] = TrialRecord(
            trial_id, _copy_config(config), [float(v) for v in fold_scores],
            val_train_ratio, bool(complete), order, [int(i) for i in folds_measured],
        )
        return True

    def merge(self, other: History) -> None:
        """Take every record of ``other`` this history lacks (or holds less complete)."""
        for rec in sorted(other, key=lambda r: r.order):
            mine = self._records.get(rec.trial_id)
            if mine is not None and mine.pruned:
                continue
            if rec.pruned:
                self.mark_pruned(rec.trial_id, rec.config, rec.fold_scores,
                                 rec.folds_measured or [], rec.complete, rec.val_train_ratio)
            elif mine is None or (rec.complete and not mine.complete) or (
                rec.complete == mine.complete and len(rec.fold_scores) > len(mine.fold_scores)
            ):
                self.add(rec.trial_id, rec.config, rec.fold_scores, rec.val_train_ratio,
                         rec.complete, rec.holdout_se, rec.holdout_n)

    def _snapshot(self) -> list[TrialRecord]:
        # ``list(dict.values())`` runs in C without releasing the GIL: a consistent copy even
        # while another thread adds a trial (the stopper's worker reads the history while
        # Tune's thread records results). Iterating the dict itself raised "dictionary changed
        # size during iteration" there (benchmarks/driver_hold.py, 300 results/s).
        return list(self._records.values())

    def pruned(self) -> list[TrialRecord]:
        """Records of pruned trials, in completion order."""
        return sorted((r for r in self._snapshot() if r.pruned), key=lambda r: r.order)

    def completed(self) -> list[TrialRecord]:
        """Complete records in completion order (valid or not); safe while another thread
        adds records (a snapshot)."""
        return sorted((r for r in self._snapshot() if r.complete), key=lambda r: r.order)

    def usable(self, min_folds: int = 2) -> list[TrialRecord]:
        """The records the criterion can use (see :meth:`TrialRecord.usable`), in completion
        order."""
        return [r for r in self.completed() if r.usable(min_folds)]

    def __getitem__(self, trial_id: str) -> TrialRecord:
        return self._records[trial_id]

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self._records

    def __iter__(self) -> Iterator[TrialRecord]:
        return iter(self._snapshot())

    def __len__(self) -> int:
        return len(self._records)

    def to_list(self) -> list[dict[str, Any]]:
        """Plain data for checkpoints."""
        return [dataclasses.asdict(r) for r in sorted(self._snapshot(), key=lambda r: r.order)]

    @classmethod
    def from_list(cls, rows: Sequence[Mapping[str, Any]]) -> History:
        h = cls()
        for row in rows:
            rec = TrialRecord(**row)
            h._records[rec.trial_id] = rec
            h._counter = max(h._counter, rec.order)
        return h


_SCALAR_TYPES = frozenset((int, float, str, bool, type(None)))


def _copy_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy the caller cannot change: a plain copy for flat configs of scalars (the common
    case, and on the stopper's per-result path), a deep copy otherwise."""
    if set(map(type, config.values())) <= _SCALAR_TYPES:  # exact types: subclasses deep-copy
        return dict(config)
    return copy.deepcopy(dict(config))
