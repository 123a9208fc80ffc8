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
    CV_MODE_KEY,
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
    fold_values: Sequence[float],
    *,
    mode: str | None = None,
    val_train_ratio: float | None = None,
    checkpoint: Any = None,
    **other_metrics: Any,
) -> dict[str, Any]:
    """Report a trial's cross-validation fold values to Tune in one result.

    ``mode`` says which way is better, where the numbers are made: ``"min"`` for losses (lower
    is better: log loss, MSE, error rate), ``"max"`` for scores (higher is better: accuracy,
    R², AUC, scikit-learn's ``scoring`` values). It is required: a stopper that guessed would
    take the worst trial for the best.

    Reports ``cv_scores`` (the list, read by :class:`~ray_autoterm.AutoTermStopper`), ``cv_mean``
    (its mean: use it as the Tuner's ``metric`` for other searchers and schedulers), ``cv_mode``
    (the direction), ``num_folds`` and, if given, ``val_train_ratio`` (for splits that are not
    plain k-fold), plus ``other_metrics``. NaN/inf folds are reported as they are: the stopper
    leaves such a trial out and logs it. A raw ``tune.report({"cv_scores": [...]})`` is read by
    the same rule (:func:`parse_fold_values`); without ``cv_mode`` the direction must then come
    from ``AutoTermStopper(mode=...)`` or Tune's ``mode``.

    Fewer than 2 folds (``[]`` or one value) give no statistical error, so the stopper cannot
    use the trial; they are still reported as they are (``cv_mean`` is NaN for ``[]``), with one
    warning in the trial process, so that the trial does not fail and the stopper can say once,
    for the whole experiment, that no trial is usable (rather than every trial raising).

    Call it from the Tune function. Inside a Ray Train worker it raises
    :class:`~ray_autoterm.errors.UnsupportedContextError` (a report there never reaches Tune);
    use :func:`~ray_autoterm.cross_validate_with_trainer` instead.

    Args:
        fold_values: One value per fold (2 or more for the stopper), in the metric's own sign.
        mode: ``"min"`` (losses) or ``"max"`` (scores). Required.
        val_train_ratio: ``n_val / n_train`` of a split, when not plain k-fold.
        checkpoint: Passed to ``ray.tune.report``.
        **other_metrics: Further metrics of the result.

    Returns:
        The result dict that was reported.

    Raises:
        InvalidArgumentError: ``mode`` is missing or not ``"min"``/``"max"``, or
            ``fold_values`` is not a sequence of numbers.
        UnsupportedContextError: called inside a Ray Train worker.

    Example:
        >>> from ray import tune
        >>> def trainable(config):
        ...     report_cv_scores([0.21, 0.19, 0.2], mode="min", accuracy=0.8)
    """
    direction = _check_direction(mode)
    values = _fold_values(fold_values)
    if len(values) < 2:
        _warn_few_folds(values)
    result: dict[str, Any] = {
        CV_SCORES_KEY: values,
        CV_MEAN_KEY: math.fsum(values) / len(values) if values else math.nan,
        CV_MODE_KEY: direction,
        NUM_FOLDS_KEY: len(values),
        **other_metrics,
    }
    if val_train_ratio is not None:
        result[VAL_TRAIN_RATIO_KEY] = float(val_train_ratio)
    _tune_report("report_cv_scores", result, checkpoint)
    return result


def report_fold(
    fold: int, value: float, num_folds: int, *, mode: str | None = None, **other_metrics: Any
) -> dict[str, Any]:
    """Report one fold as it finishes (streaming); the stopper assembles the fold list.

    The trial is complete for the stopper once ``num_folds`` folds are in (or it finishes).
    Each result also carries ``cv_mean``, the mean of this trial's folds so far, so that a
    Tuner whose ``metric`` is ``"cv_mean"`` (any searcher or scheduler) finds it in every
    result; it is the trial's full CV mean once its last fold is in. ``mode`` is required, as
    for :func:`report_cv_scores`. Like it, this raises inside a Ray Train worker.

    Example:
        >>> def trainable(config):
        ...     for i in range(5):
        ...         report_fold(i, 0.2 + 0.01 * i, num_folds=5, mode="min")
    """
    direction = _check_direction(mode)
    if isinstance(fold, bool) or not isinstance(fold, int) or fold < 0:
        raise invalid("fold", fold, "an integer >= 0 (the fold's index)")
    if isinstance(num_folds, bool) or not isinstance(num_folds, int) or num_folds < 2:
        raise invalid("num_folds", num_folds, "an integer >= 2")
    parsed = parse_fold_values([value])
    if parsed is None:
        raise invalid("value", value, "a number (the fold's loss or score)")
    folds = _running_folds(num_folds)
    folds[fold] = parsed[0]
    result = {
        FOLD_KEY: fold, FOLD_LOSS_KEY: parsed[0], NUM_FOLDS_KEY: num_folds,
        CV_MEAN_KEY: math.fsum(folds.values()) / len(folds), CV_MODE_KEY: direction,
        **other_metrics,
    }
    _tune_report("report_fold", result, None)
    return result


_RUNNING: dict[str, dict[int, float]] = {}  # trial id -> its folds so far (this process)


def _running_folds(num_folds: int) -> dict[int, float]:
    """This trial's folds so far, in this trial process (a fresh dict for a new trial)."""
    try:
        from ray import tune

        trial_id = str(tune.get_context().get_trial_id())
    except Exception:  # noqa: BLE001 - outside a Tune trial: one running list
        trial_id = ""
    if trial_id not in _RUNNING:
        _RUNNING.clear()  # one trial at a time per process (actors are reused in turn)
        _RUNNING[trial_id] = {}
    return _RUNNING[trial_id]


def _check_direction(mode: str | None) -> str:
    if mode not in ("min", "max"):
        raise invalid(
            "mode", mode,
            '"min" (the fold values are losses: lower is better) or "max" (scores: higher is '
            "better), said where the numbers are made so that the stopper never guesses",
        )
    return mode


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


_PLAIN_NUMBERS = frozenset((float, int))


def parse_fold_values(values: Any) -> list[float] | None:
    """The fold values as floats, or ``None`` if they are not a sequence of numbers.

    One rule for the helpers (which raise) and for the stopper reading a raw ``tune.report``
    (which leaves the trial out): strings, bytes, booleans and mappings are refused, as values
    or as elements; NaN and inf are numbers (the stopper leaves such a trial out later).

    Example:
        >>> parse_fold_values([0.2, 1]), parse_fold_values(["0.2"]), parse_fold_values("0.2")
        ([0.2, 1.0], None, None)
    """
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        return None
    if isinstance(values, (list, tuple)) and set(map(type, values)) <= _PLAIN_NUMBERS:
        return list(map(float, values))  # the common case, on the stopper's per-result path
    out: list[float] = []
    for v in values:
        if isinstance(v, (bool, str, bytes)):
            return None
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            return None
    return out


def _fold_values(fold_values: Sequence[float], name: str = "fold_values") -> list[float]:
    values = parse_fold_values(fold_values)
    if values is None:
        raise invalid(name, fold_values, "a sequence of numbers, one per fold")
    return values
