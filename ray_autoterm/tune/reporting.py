"""Reporting cross-validation folds from a Tune trainable."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ray_autoterm.criterion.cv_error import validate_fold_losses
from ray_autoterm.errors import invalid
from ray_autoterm.tune._shared import (
    CV_MEAN_KEY,
    CV_SCORES_KEY,
    FOLD_KEY,
    FOLD_LOSS_KEY,
    NUM_FOLDS_KEY,
    VAL_TRAIN_RATIO_KEY,
)


def report_cv_scores(
    fold_losses: Sequence[float],
    *,
    val_train_ratio: float | None = None,
    checkpoint: Any = None,
    **other_metrics: Any,
) -> dict[str, Any]:
    """Report a trial's fold losses to Tune in one result.

    Reports ``cv_scores`` (the list, read by :class:`~ray_autoterm.AutoTermStopper`), ``cv_mean``
    (its mean: use it as the Tuner's ``metric`` for other searchers and schedulers), ``num_folds``
    and, if given, ``val_train_ratio`` (for splits that are not plain k-fold), plus
    ``other_metrics``. NaN/inf folds are reported as they are: the stopper leaves such a trial
    out and logs it.

    Args:
        fold_losses: One value per fold (at least 2), in the metric's own sign.
        val_train_ratio: ``n_val / n_train`` of a split, when not plain k-fold.
        checkpoint: Passed to ``ray.tune.report``.
        **other_metrics: Further metrics of the result.

    Returns:
        The result dict that was reported.

    Raises:
        InvalidArgumentError: fewer than 2 folds, or not numbers.

    Example:
        >>> from ray import tune
        >>> def trainable(config):
        ...     report_cv_scores([0.21, 0.19, 0.2], accuracy=0.8)
    """
    from ray import tune

    values = _fold_values(fold_losses)
    result: dict[str, Any] = {
        CV_SCORES_KEY: values,
        CV_MEAN_KEY: float(np.mean(values)) if values else math.nan,
        NUM_FOLDS_KEY: len(values),
        **other_metrics,
    }
    if val_train_ratio is not None:
        result[VAL_TRAIN_RATIO_KEY] = float(val_train_ratio)
    tune.report(result, checkpoint=checkpoint)
    return result


def report_fold(fold: int, loss: float, num_folds: int, **other_metrics: Any) -> dict[str, Any]:
    """Report one fold as it finishes (streaming); the stopper assembles the fold list.

    The trial is complete for the stopper once ``num_folds`` folds are in (or it finishes).

    Example:
        >>> def trainable(config):
        ...     for i in range(5):
        ...         report_fold(i, 0.2 + 0.01 * i, num_folds=5)
    """
    from ray import tune

    if isinstance(fold, bool) or not isinstance(fold, int) or fold < 0:
        raise invalid("fold", fold, "an integer >= 0 (the fold's index)")
    if isinstance(num_folds, bool) or not isinstance(num_folds, int) or num_folds < 2:
        raise invalid("num_folds", num_folds, "an integer >= 2")
    result = {FOLD_KEY: fold, FOLD_LOSS_KEY: float(loss), NUM_FOLDS_KEY: num_folds, **other_metrics}
    tune.report(result)
    return result


def _fold_values(fold_losses: Sequence[float]) -> list[float]:
    try:
        arr = [float(v) for v in fold_losses]
    except (TypeError, ValueError):
        raise invalid("fold_losses", fold_losses, "a sequence of numbers, one per fold")
    if len(arr) < 2:
        raise invalid("fold_losses", list(fold_losses), "at least 2 fold values (k >= 2)")
    if all(math.isfinite(v) for v in arr):
        validate_fold_losses(arr)
    return arr
