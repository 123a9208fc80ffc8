"""Fold pruning: stop a trial after a few folds once it cannot become the incumbent.

All trials of a search are scored on the same cross-validation splits, so a trial's fold ``i`` is
compared with the incumbent's fold ``i``. With the paired differences (losses; a ``"max"``
metric is negated) ``d_i = y_i − y*_i`` over the ``j`` folds measured so far::

    d̄   = (1/j) · Σ_i d_i
    s_p² = Σ_r Σ_i (d_ri − d̄_r)² / Σ_r (k − 1)     pooled over the best ``pool_fraction`` of
                                                    the completed trials r (their differences
                                                    to the incumbent's folds)
    s²   = s_p²                                     (j = 1)
    s²   = ((j − 1)·s_d² + ν₀·s_p²) / (j − 1 + ν₀)  (j >= 2: the trial's own variance
                                                    s_d² = Σ_i (d_i − d̄)² / (j − 1), shrunk
                                                    towards s_p² with ν₀ = ``prior_dof``)
    se   = s / sqrt(j)
    prune  ⇔  d̄ > z · se,   z = Φ⁻¹(confidence)

that is, the trial's fold-paired mean loss is above the incumbent's at the one-sided confidence
level. The rule never prunes before ``min_trials`` completed trials, before ``min_folds`` folds,
the incumbent itself, or a trial whose folds are all in (nothing left to save). A trial with a
non-finite fold is pruned (the criterion leaves such a trial out, so it cannot become the
incumbent). Pure Python and NumPy: replayable offline on recorded runs.

Why pooled and shrunk (``benchmarks/pruning.py``, replay of 24 recorded runs): with ``ν₀ = 0``
(the trial's own two differences alone at ``j = 2``, one degree of freedom) a lucky pair of
nearly equal differences gives a tiny ``se``, and the rule pruned the run's final incumbent in
2 of 24 runs even at ``confidence = 0.999``. Pooling over the better half of the trials (whose
differences behave like a contender's; bad configs differ erratically) and shrinking the
trial's own variance towards it kept the incumbent in all runs while saving more folds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from statistics import NormalDist

import numpy as np

from ray_autoterm._validation import check_mode, check_positive_int
from ray_autoterm.errors import invalid
from ray_autoterm.history import History, TrialRecord


@dataclasses.dataclass(frozen=True)
class PruneDecision:
    """What :meth:`FoldPruner.evaluate` decided, with the numbers behind it.

    Attributes:
        prune: Whether the trial should stop now.
        reason: One line in plain words.
        num_folds: Folds of the trial compared (``j``).
        mean_difference: ``d̄`` in loss units (positive: worse than the incumbent), or ``None``.
        standard_error: ``se`` of ``d̄``, or ``None``.
        se_source: ``"own"`` (the trial's differences), ``"pooled"`` (past trials') or
            ``"own+pooled"`` (the first shrunk towards the second), or ``None``.
        incumbent_trial_id: The incumbent compared with, or ``None``.
    """

    prune: bool
    reason: str
    num_folds: int = 0
    mean_difference: float | None = None
    standard_error: float | None = None
    se_source: str | None = None
    incumbent_trial_id: str | None = None


class FoldPruner:
    """Decides from a trial's first folds whether it can still become the incumbent.

    Args:
        mode: ``"min"`` if fold values are losses, ``"max"`` if scores.
        confidence: One-sided confidence that the trial is worse than the incumbent, in
            ``(0.5, 1)``; the threshold is ``z = Φ⁻¹(confidence)`` standard errors
            (0.99 → 2.33).
        min_trials: Completed (not pruned) trials needed before anything is pruned.
        min_folds: Folds a trial must have measured before it can be pruned.
        pool_fraction: The share of completed trials, best first, whose differences to the
            incumbent are pooled into ``s_p²`` (in ``(0, 1]``; at least 2 trials are pooled).
        prior_dof: ``ν₀``, the weight of ``s_p²`` against the trial's own variance, in degrees
            of freedom (``None``: ``k − 1``, one past trial's worth; ``0``: the trial's own
            differences alone once 2 folds are in).

    Raises:
        InvalidArgumentError: for an argument out of range, naming it.

    Example:
        >>> from ray_autoterm.history import History
        >>> h = History()
        >>> h.add("a", {}, [0.10, 0.20, 0.30])
        True
        >>> h.add("b", {}, [0.20, 0.32, 0.38])
        True
        >>> pruner = FoldPruner(confidence=0.95, min_trials=2)
        >>> pruner.should_prune([0.40, 0.55], h)  # d = 0.30, 0.35: far worse than "a"
        True
        >>> pruner.should_prune([0.11], h)  # d = 0.01 with a pooled se of 0.02
        False
    """

    def __init__(
        self,
        *,
        mode: str = "min",
        confidence: float = 0.95,
        min_trials: int = 10,
        min_folds: int = 1,
        pool_fraction: float = 0.5,
        prior_dof: float | None = None,
    ) -> None:
        self.mode = check_mode(mode)
        ok = isinstance(confidence, (int, float)) and not isinstance(confidence, bool)
        if not ok or not 0.5 < confidence < 1:
            raise invalid("confidence", confidence, "a number strictly between 0.5 and 1")
        self.confidence = float(confidence)
        self.z = NormalDist().inv_cdf(self.confidence)
        self.min_trials = check_positive_int("min_trials", min_trials)
        self.min_folds = check_positive_int("min_folds", min_folds)
        ok = isinstance(pool_fraction, (int, float)) and not isinstance(pool_fraction, bool)
        if not ok or not 0 < pool_fraction <= 1:
            raise invalid("pool_fraction", pool_fraction, "a number in (0, 1]")
        self.pool_fraction = float(pool_fraction)
        if prior_dof is not None:
            ok = isinstance(prior_dof, (int, float)) and not isinstance(prior_dof, bool)
            if not ok or not math.isfinite(prior_dof) or prior_dof < 0:
                raise invalid("prior_dof", prior_dof, "None or a finite number >= 0")
            prior_dof = float(prior_dof)
        self.prior_dof = prior_dof

    def __repr__(self) -> str:
        return (f"FoldPruner(mode={self.mode!r}, confidence={self.confidence}, "
                f"min_trials={self.min_trials}, min_folds={self.min_folds}, "
                f"pool_fraction={self.pool_fraction}, prior_dof={self.prior_dof})")

    # ------------------------------------------------------------------ the rule
    def should_prune(
        self,
        fold_losses: Sequence[float] | Mapping[int, float],
        history: History | Iterable[TrialRecord],
        trial_id: str | None = None,
    ) -> bool:
        """Whether the trial should stop now (see :meth:`evaluate`)."""
        return self.evaluate(fold_losses, history, trial_id).prune

    def evaluate(
        self,
        fold_losses: Sequence[float] | Mapping[int, float],
        history: History | Iterable[TrialRecord],
        trial_id: str | None = None,
    ) -> PruneDecision:
        """Apply the rule to a trial's folds so far.

        Args:
            fold_losses: The trial's fold values in fold order (folds ``0..j-1``), or a mapping
                fold index → value (folds that finished out of order).
            history: The trials completed so far (pruned ones are not compared with).
            trial_id: The trial's id, so that the incumbent is never pruned.

        Returns:
            The :class:`PruneDecision`.
        """
        folds = _as_fold_map(fold_losses)
        records = reference_records(history)
        if len(records) < self.min_trials:
            return PruneDecision(
                False, f"{len(records)} of {self.min_trials} completed trials: too early"
            )
        inc = self.incumbent(records)
        inc_id = inc.trial_id
        if trial_id is not None and trial_id == inc_id:
            return PruneDecision(False, "the trial is the incumbent", incumbent_trial_id=inc_id)
        k = len(inc.fold_scores)
        idx = sorted(i for i in folds if 0 <= i < k)
        j = len(idx)
        if j < self.min_folds:
            return PruneDecision(False, f"{j} of {self.min_folds} folds measured", j,
                                 incumbent_trial_id=inc_id)
        if j >= k:
            return PruneDecision(False, "all folds are in; nothing left to save", j,
                                 incumbent_trial_id=inc_id)
        values = np.array([folds[i] for i in idx], dtype=np.float64)
        if not np.all(np.isfinite(values)):
            return PruneDecision(True, "a fold value is not finite", j,
                                 incumbent_trial_id=inc_id)
        sign = 1.0 if self.mode == "min" else -1.0
        d = sign * (values - np.asarray(inc.fold_scores, dtype=np.float64)[idx])
        mean = float(d.mean())
        pooled = pooled_difference_variance(self.pool(records, inc), inc)
        nu = float(k - 1) if self.prior_dof is None else self.prior_dof
        if j >= 2 and (nu == 0 or pooled is None):
            var, source = float(d.var(ddof=1)), "own"
        elif j >= 2 and pooled is not None:
            var = ((j - 1) * float(d.var(ddof=1)) + nu * pooled) / (j - 1 + nu)
            source = "own+pooled"
        elif pooled is not None:
            var, source = pooled, "pooled"
        else:
            return PruneDecision(False, "no past differences to pool an error from", j,
                                 mean, incumbent_trial_id=inc_id)
        se = math.sqrt(var / j)
        prune = mean > self.z * se
        verdict = "above" if prune else "not above"
        reason = (f"fold-paired difference to the incumbent {mean:.4g} is {verdict} "
                  f"{self.z:.3g} x se {se:.4g} ({source}, {j} folds)")
        return PruneDecision(prune, reason, j, mean, se, source, inc_id)

    def pool(self, records: Sequence[TrialRecord], incumbent: TrialRecord) -> list[TrialRecord]:
        """The records whose differences are pooled: the best ``pool_fraction`` (at least 2,
        the incumbent among them), ties in completion order."""
        sign = 1.0 if self.mode == "min" else -1.0
        ranked = sorted(range(len(records)), key=lambda i: (sign * records[i].value, i))
        n = max(2, int(len(records) * self.pool_fraction))
        return [records[i] for i in sorted(ranked[:n])]

    def incumbent(self, records: Sequence[TrialRecord]) -> TrialRecord:
        """The best completed record (first one on ties), as the stopping criterion picks it."""
        sign = 1.0 if self.mode == "min" else -1.0
        return records[int(np.argmin([sign * r.value for r in records]))]


# ---------------------------------------------------------------------- helpers
def reference_records(history: History | Iterable[TrialRecord]) -> list[TrialRecord]:
    """Complete, finite, not-pruned records with 2+ folds, in completion order."""
    recs = history.completed() if isinstance(history, History) else list(history)
    return [r for r in recs if r.usable(2) and not r.pruned]


def pooled_difference_variance(
    records: Sequence[TrialRecord], incumbent: TrialRecord
) -> float | None:
    """``s_p²``: the within-trial variance of fold-paired differences to ``incumbent``, pooled
    over the other records with the incumbent's fold count (``None`` if there is none).

    Example:
        >>> a = TrialRecord("a", {}, [0.1, 0.2, 0.3])
        >>> b = TrialRecord("b", {}, [0.2, 0.32, 0.38])  # d = 0.1, 0.12, 0.08
        >>> round(pooled_difference_variance([a, b], a), 6)
        0.0004
    """
    inc = np.asarray(incumbent.fold_scores, dtype=np.float64)
    k = inc.size
    ss, dof = 0.0, 0
    for r in records:
        if r.trial_id == incumbent.trial_id or len(r.fold_scores) != k:
            continue
        d = np.asarray(r.fold_scores, dtype=np.float64) - inc
        ss += float(np.sum((d - d.mean()) ** 2))
        dof += k - 1
    return None if dof == 0 else ss / dof


def impute_folds(
    fold_losses: Sequence[float] | Mapping[int, float], incumbent: TrialRecord
) -> list[float]:
    """A full fold list for a pruned trial: measured folds as they are, each missing fold ``i``
    as the incumbent's fold ``i`` plus the mean measured difference. Its mean is the incumbent's
    mean plus ``d̄``, the paired estimate of the trial's CV mean.

    Example:
        >>> inc = TrialRecord("a", {}, [0.1, 0.2, 0.3])
        >>> [round(v, 6) for v in impute_folds([0.3], inc)]
        [0.3, 0.4, 0.5]
    """
    folds = _as_fold_map(fold_losses)
    inc = [float(v) for v in incumbent.fold_scores]
    seen = [i for i in folds if 0 <= i < len(inc)]
    if not seen:
        raise invalid("fold_losses", fold_losses, "at least one fold within the incumbent's folds")
    shift = sum(folds[i] - inc[i] for i in seen) / len(seen)
    return [folds[i] if i in folds else inc[i] + shift for i in range(len(inc))]


def _as_fold_map(fold_losses: Sequence[float] | Mapping[int, float]) -> dict[int, float]:
    try:
        if isinstance(fold_losses, Mapping):
            return {int(i): float(v) for i, v in fold_losses.items()}
        if isinstance(fold_losses, (str, bytes)):
            raise TypeError
        return {i: float(v) for i, v in enumerate(fold_losses)}
    except (TypeError, ValueError):
        raise invalid(
            "fold_losses", fold_losses,
            "a sequence of numbers in fold order, or a mapping fold index -> number",
        ) from None


__all__ = ["FoldPruner", "PruneDecision", "impute_folds", "pooled_difference_variance"]
