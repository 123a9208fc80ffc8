"""The statistical error of a cross-validation estimate (Eq. 9). Numpy only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ray_autoterm.errors import InvalidArgumentError, invalid


def validate_fold_losses(
    fold_losses: Sequence[float] | np.ndarray, name: str = "fold_losses"
) -> np.ndarray:
    """Return the fold values as a float array, or raise naming the argument and the value."""
    if isinstance(fold_losses, (str, bytes)) or not hasattr(fold_losses, "__len__"):
        raise invalid(name, fold_losses, "a sequence of at least 2 finite numbers (one per fold)")
    try:
        arr = np.asarray(list(fold_losses), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise invalid(name, fold_losses,
                      "a sequence of at least 2 finite numbers (one per fold)") from exc
    if arr.size < 2:
        raise invalid(name, list(fold_losses), "at least 2 fold values (k-fold CV with k >= 2)")
    if not np.all(np.isfinite(arr)):
        raise invalid(name, list(fold_losses), "finite numbers only (no NaN or infinity)")
    return arr


def cv_statistical_error(
    fold_losses: Sequence[float] | np.ndarray, val_train_ratio: float | None = None
) -> float:
    """Statistical error of the mean of ``k`` cross-validation fold losses (Eq. 9).

    With fold losses ``y_1..y_k`` and mean ``ȳ``::

        s²  = (1/k) · Σ_i (y_i − ȳ)²
        Var = (1/k + n_val/n_train) · s²        (Nadeau & Bengio's correction)
        ε   = sqrt(Var)

    Args:
        fold_losses: The ``k >= 2`` fold losses (or scores: the error is sign-free).
        val_train_ratio: ``n_val / n_train`` of one split. ``None`` means plain k-fold CV, for
            which the ratio is ``1 / (k − 1)``. Give the real size ratio for other splits
            (repeated hold-out, shuffle-split).

    Returns:
        ``ε`` in the units of the losses.

    Raises:
        InvalidArgumentError: fewer than 2 folds, non-finite values, or a ratio that is not a
            finite number > 0.

    Example:
        >>> round(cv_statistical_error([0.20, 0.22, 0.18, 0.21, 0.19]), 6)
        0.009487
    """
    arr = validate_fold_losses(fold_losses)
    k = arr.size
    if val_train_ratio is None:
        ratio = 1.0 / (k - 1)
    else:
        ok = isinstance(val_train_ratio, (int, float)) and not isinstance(val_train_ratio, bool)
        if not ok or not math.isfinite(val_train_ratio) or val_train_ratio <= 0:
            raise invalid("val_train_ratio", val_train_ratio,
                          "a finite number > 0 (n_val / n_train)")
        ratio = float(val_train_ratio)
    s2 = float(np.mean((arr - arr.mean()) ** 2))  # divides by k
    return math.sqrt((1.0 / k + ratio) * s2)


_MOVED = {
    "ErrorEvaluator": "BaseErrorEvaluator",
    "CrossValidationError": "CrossValidationErrorEvaluator",
    "FixedThreshold": "StaticErrorEvaluator",
}
"""Former names of the error evaluators, now in :mod:`ray_autoterm.criterion.error_evaluators`."""


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import ray_autoterm.criterion.error_evaluators as error_evaluators

        return getattr(error_evaluators, _MOVED[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "InvalidArgumentError",
    "cv_statistical_error",
    "validate_fold_losses",
]
