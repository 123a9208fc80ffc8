"""Error evaluators: the statistical error ``ε`` the improvement is compared with (Eq. 9 and kin).

Each evaluator is one small class with one method, ``evaluate(records, mode) -> float``, as
Optuna's ``BaseErrorEvaluator.evaluate(trials, study_direction)``. The records are the usable
completed trials (at least one); ``mode`` says whether their values are losses (``"min"``) or
scores (``"max"``). The errors are sign-free: fold values enter only through differences and
spreads. Numpy only: no torch, no Ray.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import numpy as np

from ray_autoterm._validation import check_positive_int
from ray_autoterm.criterion.cv_error import cv_statistical_error, validate_fold_losses
from ray_autoterm.errors import invalid
from ray_autoterm.history import TrialRecord


def losses_for_minimisation(records: Sequence[TrialRecord], mode: str) -> np.ndarray:
    """Each record's mean fold value as a loss: the value for ``"min"``, its negation for ``"max"``.

    Example:
        >>> from ray_autoterm.history import TrialRecord
        >>> recs = [TrialRecord("a", {}, [0.5, 1.0]), TrialRecord("b", {}, [0.25, 0.5])]
        >>> losses_for_minimisation(recs, "max").tolist()
        [-0.75, -0.375]
    """
    return np.array([r.value if mode == "min" else -r.value for r in records])


def ranked(records: Sequence[TrialRecord], mode: str) -> list[TrialRecord]:
    """The records from the best mean fold value to the worst (stable for ties)."""
    order = np.argsort(losses_for_minimisation(records, mode), kind="stable")
    return [records[i] for i in order]


def paired_error(
    incumbent_folds: Sequence[float],
    rival_folds: Sequence[Sequence[float]],
    val_train_ratio: float | None = None,
    combine: str = "median",
) -> float:
    """Statistical error of the difference between the incumbent and its closest rivals.

    All trials are scored on the same ``k`` folds, so the noise that decides whether two
    configurations can be told apart is the spread of their fold-wise differences, not the
    incumbent's own spread. For each rival ``j`` with fold values ``z_1..z_k`` (same ``k``)::

        d_i   = y_i − z_i                          (incumbent minus rival, fold i)
        s_j²  = (1/k) · Σ_i (d_i − d̄)²             (divides by k, as Eq. 9)
        ε_j   = sqrt((1/k + n_val/n_train) · s_j²)  (Nadeau & Bengio's correction)
        ε     = median_j ε_j   (or min_j / mean_j with ``combine``)

    Rivals with another number of folds are left out; with no rival left, ``ε`` is the
    incumbent's own Eq. 9 error.

    Args:
        incumbent_folds: The incumbent's ``k >= 2`` fold losses.
        rival_folds: Fold losses of the rivals (e.g. the next best configurations by mean).
        val_train_ratio: ``n_val/n_train``; ``None`` is plain k-fold (``1/(k−1)``).
        combine: ``"median"``, ``"min"`` or ``"mean"`` over the rivals.

    Example:
        >>> round(paired_error([1.0, 2.0, 3.0], [[1.5, 2.0, 3.5]]), 6)
        0.215166
    """
    if combine not in ("median", "min", "mean"):
        raise invalid("combine", combine, '"median", "min" or "mean"')
    inc = validate_fold_losses(incumbent_folds, "incumbent_folds")
    errs = []
    for folds in rival_folds:
        z = validate_fold_losses(folds, "rival_folds")
        if z.size == inc.size:
            errs.append(cv_statistical_error(inc - z, val_train_ratio))
    if not errs:
        return cv_statistical_error(inc, val_train_ratio)
    if combine == "min":
        return float(np.min(errs))
    return float(np.median(errs) if combine == "median" else np.mean(errs))


def pooled_error(
    top_folds: Sequence[Sequence[float]], val_train_ratio: float | None = None
) -> float:
    """Eq. 9 pooled over the best ``m`` configurations (the incumbent among them)::

        ε = sqrt( (1/m) · Σ_j Var_j ),   Var_j = (1/k_j + n_val/n_train) · s_j²  (Eq. 9)

    Args:
        top_folds: Fold losses of each of the ``m >= 1`` configurations.
        val_train_ratio: ``n_val/n_train``; ``None`` is plain k-fold (``1/(k_j−1)`` each).

    Example:
        >>> round(pooled_error([[1.0, 2.0], [1.0, 1.0]]), 6)
        0.433013
    """
    if len(top_folds) == 0:
        raise invalid("top_folds", top_folds, "fold losses of at least one configuration")
    variances = [cv_statistical_error(f, val_train_ratio) ** 2 for f in top_folds]
    return math.sqrt(float(np.mean(variances)))


class BaseErrorEvaluator(abc.ABC):
    """Gives the statistical error ``ε`` that the improvement is compared with.

    Attributes:
        source: The name the decision records as ``Decision.error_source``.
        description: How the decision's reason names ``ε``.
        min_folds: Fold values a trial needs to take part (2 for a cross-validation error).
    """

    source = "cv"
    description = "statistical error"
    min_folds = 2

    @abc.abstractmethod
    def evaluate(self, records: Sequence[TrialRecord], mode: str) -> float:
        """``ε`` for the usable completed ``records`` (at least one) of a ``mode`` metric."""


class _RatioErrorEvaluator(BaseErrorEvaluator):
    """An error from fold values, with ``n_val/n_train`` given or per record (Eq. 9)."""

    def __init__(self, val_train_ratio: float | None = None) -> None:
        if val_train_ratio is not None:
            cv_statistical_error([0.0, 1.0], val_train_ratio)  # validates the ratio
        self.val_train_ratio = val_train_ratio

    def ratio(self, record: TrialRecord) -> float | None:
        """The record's own ``n_val/n_train`` if it reported one, else this evaluator's."""
        if record.val_train_ratio is not None:
            return record.val_train_ratio
        return self.val_train_ratio


class CrossValidationErrorEvaluator(_RatioErrorEvaluator):
    """``ε`` of the incumbent's CV estimate by Eq. 9 (the paper's; Optuna's of the same name).

    ``ε = sqrt((1/k + n_val/n_train) · s²)`` over the incumbent's ``k`` fold values (see
    :func:`~ray_autoterm.criterion.cv_error.cv_statistical_error`); the incumbent is the record
    with the best mean.

    Args:
        val_train_ratio: ``n_val/n_train``; ``None`` is plain k-fold (``1/(k−1)``). A record
            that reported its own ratio uses that one.

    Example:
        >>> from ray_autoterm.history import TrialRecord
        >>> recs = [TrialRecord("a", {}, [1.0, 2.0]), TrialRecord("b", {}, [3.0, 5.0])]
        >>> round(CrossValidationErrorEvaluator().evaluate(recs, "min"), 6)
        0.612372
    """

    description = "incumbent's CV error (Eq. 9)"

    def evaluate(self, records: Sequence[TrialRecord], mode: str) -> float:
        inc = records[int(np.argmin(losses_for_minimisation(records, mode)))]
        return cv_statistical_error(inc.fold_scores, self.ratio(inc))


class PairedErrorEvaluator(_RatioErrorEvaluator):
    """``ε`` of telling the incumbent apart from its closest rivals (:func:`paired_error`).

    Args:
        rivals: The incumbent is compared with the next ``rivals`` best records.
        val_train_ratio: As :class:`CrossValidationErrorEvaluator` (the incumbent's own wins).

    Example:
        >>> from ray_autoterm.history import TrialRecord
        >>> recs = [TrialRecord("a", {}, [1.0, 2.0, 3.0]), TrialRecord("b", {}, [1.5, 2.0, 3.5])]
        >>> round(PairedErrorEvaluator().evaluate(recs, "min"), 6)
        0.215166
    """

    source = "paired"
    description = "paired error against the closest rivals"

    def __init__(self, rivals: int = 5, val_train_ratio: float | None = None) -> None:
        super().__init__(val_train_ratio)
        self.rivals = check_positive_int("rivals", rivals)

    def evaluate(self, records: Sequence[TrialRecord], mode: str) -> float:
        order = ranked(records, mode)
        rivals = [r.fold_scores for r in order[1:1 + self.rivals]]
        return paired_error(order[0].fold_scores, rivals, self.ratio(order[0]))


class PooledErrorEvaluator(_RatioErrorEvaluator):
    """``ε`` of Eq. 9 pooled over the best ``pool`` records (:func:`pooled_error`).

    Args:
        pool: How many of the best records (the incumbent among them).
        val_train_ratio: As :class:`CrossValidationErrorEvaluator` (the incumbent's own wins).

    Example:
        >>> from ray_autoterm.history import TrialRecord
        >>> recs = [TrialRecord("a", {}, [1.0, 2.0]), TrialRecord("b", {}, [1.0, 1.0])]
        >>> round(PooledErrorEvaluator(pool=2).evaluate(recs, "min"), 6)
        0.433013
    """

    source = "pooled"
    description = "CV error pooled over the best configurations"

    def __init__(self, pool: int = 5, val_train_ratio: float | None = None) -> None:
        super().__init__(val_train_ratio)
        self.pool = check_positive_int("pool", pool)

    def evaluate(self, records: Sequence[TrialRecord], mode: str) -> float:
        order = ranked(records, mode)
        return pooled_error([r.fold_scores for r in order[:self.pool]], self.ratio(order[0]))


class HoldoutErrorEvaluator(BaseErrorEvaluator):
    """``ε`` of the incumbent's mean loss on one validation set (the one-split analogue of Eq. 9).

    With the incumbent's ``n`` per-example validation losses ``l_1..l_n`` (mean ``l̄``)::

        s²  = (1/(n−1)) · Σ_i (l_i − l̄)²
        ε   = sqrt( s²/n + τ² )

    ``s/sqrt(n)`` is the standard error of ``l̄`` as an estimate of the incumbent's expected
    loss on new examples, given the trained model (the record's ``holdout_se``, reported by
    :func:`~ray_autoterm.tune.holdout.report_holdout`). ``τ`` (``training_noise``, default 0)
    adds the spread of the validation mean over retraining (seeds, data order), which a
    single split cannot see; see ``docs/holdout.md`` for when it matters and how it was
    measured. One value per trial (``min_folds`` 1): the record's mean.

    Args:
        training_noise: ``τ``, in the metric's units (>= 0).

    Example:
        >>> from ray_autoterm.history import TrialRecord
        >>> recs = [TrialRecord("a", {}, [0.3], holdout_se=0.01, holdout_n=2000),
        ...         TrialRecord("b", {}, [0.5], holdout_se=0.02, holdout_n=2000)]
        >>> HoldoutErrorEvaluator().evaluate(recs, "min")
        0.01
        >>> round(HoldoutErrorEvaluator(training_noise=0.01).evaluate(recs, "min"), 6)
        0.014142
    """

    source = "holdout"
    description = "incumbent's holdout SE (sd/sqrt(n))"
    min_folds = 1

    def __init__(self, training_noise: float = 0.0) -> None:
        ok = isinstance(training_noise, (int, float)) and not isinstance(training_noise, bool)
        if not ok or not math.isfinite(training_noise) or training_noise < 0:
            raise invalid("training_noise", training_noise,
                          "a finite number >= 0 (in the metric's units)")
        self.training_noise = float(training_noise)
        if self.training_noise > 0:
            self.description = "incumbent's holdout SE with training noise"

    def evaluate(self, records: Sequence[TrialRecord], mode: str) -> float:
        inc = records[int(np.argmin(losses_for_minimisation(records, mode)))]
        se = inc.holdout_se
        if se is None or not math.isfinite(se) or se < 0:
            raise invalid(f"holdout_se of trial {inc.trial_id}", se,
                          "a finite number >= 0 (report with report_holdout)")
        return math.sqrt(se ** 2 + self.training_noise ** 2)


class StaticErrorEvaluator(BaseErrorEvaluator):
    """A fixed ``ε`` given by the user, for objectives without cross-validation.

    One value per trial suffices (``min_folds`` is 1). Also the test double of the error.

    Args:
        threshold: ``ε``, in the metric's units.

    Example:
        >>> StaticErrorEvaluator(0.01).evaluate([], "min")
        0.01
    """

    source = "threshold"
    description = "fixed threshold"
    min_folds = 1

    def __init__(self, threshold: float) -> None:
        ok = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
        if not ok or not math.isfinite(threshold) or threshold <= 0:
            raise invalid("threshold", threshold, "a finite number > 0 (in the metric's units)")
        self.threshold = float(threshold)

    def evaluate(self, records: Sequence[TrialRecord], mode: str) -> float:
        return self.threshold


__all__ = [
    "BaseErrorEvaluator",
    "CrossValidationErrorEvaluator",
    "HoldoutErrorEvaluator",
    "PairedErrorEvaluator",
    "PooledErrorEvaluator",
    "StaticErrorEvaluator",
    "losses_for_minimisation",
    "paired_error",
    "pooled_error",
    "ranked",
]
