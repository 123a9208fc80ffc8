"""Reporting cross-validation folds from a Tune trainable.

These helpers run in every trial process, so this module imports only the standard library and
light project modules (the result keys, the errors): never torch, gpytorch or BoTorch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ray_autoterm.errors import UnsupportedContextError, invalid
from ray_autoterm.tune._keys import (
    CV_MEAN_KEY,
    CV_SCORES_KEY,
    FOLD_KEY,
    FOLD_LOSS_KEY,
    NUM_FOLDS_KEY,
    VAL_TRAIN_RATIO_KEY,
)

logger = logging.getLogger("ray_autoterm")

# Short on purpose: Ray Train shows only the last 500 characters of a worker's traceback.
TRAIN_WORKER_MESSAGE = (
    "`{name}` in a Ray Train worker never reaches Tune or the stopper (Train V2 workers report "
    "to their Trainer). Instead return the fold's loss from the training function "
    "(`return {{'val_loss': loss}}`), run one Trainer per fold in the Tune function and report "
    "there: `cross_validate_with_trainer(make_trainer, num_folds)`, or "
    "`report_cv_scores(fold_losses)` with each fold's `trainer.fit().return_value`."
)

_warned_few_folds = False


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

    Fewer than 2 folds (``[]`` or one value) give no statistical error, so the stopper cannot
    use the trial; they are still reported as they are (``cv_mean`` is NaN for ``[]``), with one
    warning in the trial process, so that the trial does not fail and the stopper can say once,
    for the whole experiment, that no trial is usable (rather than every trial raising).

    Call it from the Tune function. Inside a Ray Train worker it raises
    :class:`~ray_autoterm.errors.UnsupportedContextError` (a report there never reaches Tune);
    use :func:`~ray_autoterm.cross_validate_with_trainer` instead.

    Args:
        fold_losses: One value per fold (2 or more for the stopper), in the metric's own sign.
        val_train_ratio: ``n_val / n_train`` of a split, when not plain k-fold.
        checkpoint: Passed to ``ray.tune.report``.
        **other_metrics: Further metrics of the result.

    Returns:
        The result dict that was reported.

    Raises:
        InvalidArgumentError: ``fold_losses`` is not a sequence of numbers.
        UnsupportedContextError: called inside a Ray Train worker.

    Example:
        >>> from ray import tune
        >>> def trainable(config):
        ...     report_cv_scores([0.21, 0.19, 0.2], accuracy=0.8)
    """
    values = _fold_values(fold_losses)
    if len(values) < 2:
        _warn_few_folds(values)
    result: dict[str, Any] = {
        CV_SCORES_KEY: values,
        CV_MEAN_KEY: math.fsum(values) / len(values) if values else math.nan,
        NUM_FOLDS_KEY: len(values),
        **other_metrics,
    }
    if val_train_ratio is not None:
        result[VAL_TRAIN_RATIO_KEY] = float(val_train_ratio)
    _tune_report("report_cv_scores", result, checkpoint)
    return result


def report_fold(fold: int, loss: float, num_folds: int, **other_metrics: Any) -> dict[str, Any]:
    """Report one fold as it finishes (streaming); the stopper assembles the fold list.

    The trial is complete for the stopper once ``num_folds`` folds are in (or it finishes).
    Like :func:`report_cv_scores`, it raises inside a Ray Train worker.

    Example:
        >>> def trainable(config):
        ...     for i in range(5):
        ...         report_fold(i, 0.2 + 0.01 * i, num_folds=5)
    """
    if isinstance(fold, bool) or not isinstance(fold, int) or fold < 0:
        raise invalid("fold", fold, "an integer >= 0 (the fold's index)")
    if isinstance(num_folds, bool) or not isinstance(num_folds, int) or num_folds < 2:
        raise invalid("num_folds", num_folds, "an integer >= 2")
    result = {FOLD_KEY: fold, FOLD_LOSS_KEY: float(loss), NUM_FOLDS_KEY: num_folds, **other_metrics}
    _tune_report("report_fold", result, None)
    return result


def _tune_report(name: str, result: dict[str, Any], checkpoint: Any) -> None:
    """``ray.tune.report``, refusing a Ray Train V2 worker (where it is silently a no-op)."""
    from ray import tune

    if _in_ray_train_v2_worker():
        raise UnsupportedContextError(TRAIN_WORKER_MESSAGE.format(name=name))
    tune.report(result, checkpoint=checkpoint)


def _in_ray_train_v2_worker() -> bool:
    """True inside a Ray Train V2 worker (no Tune session there: ``tune.report`` only warns)."""
    try:
        from ray.train._internal.session import get_session

        if get_session() is not None:  # a Tune trial, or a Train V1 worker: reports get through
            return False
        from ray.train.v2._internal.util import _in_ray_train_worker
    except ImportError:  # pragma: no cover - a Ray without Train V2
        return False
    return bool(_in_ray_train_worker())


def _warn_few_folds(values: list[float]) -> None:
    global _warned_few_folds
    if _warned_few_folds:
        return
    _warned_few_folds = True
    logger.warning(
        "report_cv_scores got %d fold value(s) %s: the stopper needs at least 2 folds per trial "
        "(k-fold CV with k >= 2) for the statistical error and cannot use this trial. Reported "
        "as it is; this warning is shown once per trial process.", len(values), values,
    )


def _fold_values(fold_losses: Sequence[float]) -> list[float]:
    allowed = "a sequence of numbers, one per fold"
    if isinstance(fold_losses, (str, bytes, Mapping)) or not hasattr(fold_losses, "__iter__"):
        raise invalid("fold_losses", fold_losses, allowed)
    values: list[float] = []
    for v in fold_losses:
        if isinstance(v, (bool, str, bytes)):
            raise invalid("fold_losses", fold_losses, allowed)
        try:
            values.append(float(v))
        except (TypeError, ValueError):
            raise invalid("fold_losses", fold_losses, allowed) from None
    return values
