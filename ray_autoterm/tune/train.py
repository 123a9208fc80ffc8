"""Cross-validation with Ray Train inside a Tune trial: one Trainer per fold, folds reported once.

Ray Train V2 (the default since Ray 2.43) runs a Trainer's workers in their own processes, which
report to the Trainer, not to Ray Tune: :func:`~ray_autoterm.report_cv_scores` there would never
reach the stopper, so it raises. The supported shape, as in Ray's "Train inside Tune" recipe, is a
Tune function that drives the Trainers: it fits one Trainer per fold, reads each fold's validation
loss from the ``Result``, and reports the fold list from the Tune function.
One validation set works the same way (:func:`holdout_with_trainer`): the Tune function fits one
Trainer, whose rank-0 worker returns the per-example validation losses, and reports them with
:func:`~ray_autoterm.report_holdout`.
This module imports no Ray Train, torch or BoTorch at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, SupportsFloat

from ray_autoterm.errors import UnsupportedContextError, invalid
from ray_autoterm.tune.holdout import report_holdout
from ray_autoterm.tune.reporting import (
    TRAIN_WORKER_MESSAGE,
    _in_ray_train_v2_worker,
    report_cv_scores,
    report_fold,
)


def cross_validate_with_trainer(
    make_trainer: Callable[[int], Any],
    num_folds: int,
    *,
    metric: str = "val_loss",
    mode: str = "min",
    stream: bool = False,
    **other_metrics: Any,
) -> list[float]:
    """Fit one Ray Train trainer per fold and report the fold losses to Tune (call from Tune).

    ``make_trainer(fold)`` builds the trainer of fold ``fold`` (``0 .. num_folds - 1``), e.g. a
    :class:`ray.train.torch.TorchTrainer` whose ``train_loop_config`` names the fold. Its rank-0
    worker gives the fold's validation loss by **returning** it from the training function
    (``return {"val_loss": loss}`` or ``return loss``: Ray Train V2's ``Result.return_value``).
    A loss reported with ``ray.train.report({"val_loss": loss}, checkpoint=...)`` is read from
    ``Result.metrics`` too, but V2 keeps there only metrics reported *with a checkpoint*.

    The losses go to Tune with :func:`~ray_autoterm.report_cv_scores` after the last fold
    (``stream=False``), or fold by fold with :func:`~ray_autoterm.report_fold`
    (``stream=True``: the stopper's streaming mode, for long folds).

    Give every trainer a run name unique to the trial and fold (Train resumes a run of the same
    name), e.g. ``RunConfig(name=f"{tune.get_context().get_trial_id()}-fold{fold}")``, and, on a
    multi-node cluster, a ``storage_path`` all nodes can reach. The Tune function itself needs
    little: ``tune.with_resources(fn, {"cpu": 0.5})`` leaves the CPUs to the Train workers.

    Args:
        make_trainer: Called with the fold index; returns an object with ``fit()`` returning a
            Ray Train ``Result``.
        num_folds: Number of folds (>= 2).
        metric: Key of the validation loss in the returned dict or in ``Result.metrics``.
        mode: ``"min"`` when ``metric`` is a loss (the default, as ``val_loss``), ``"max"``
            when it is a score; reported with the folds (see :func:`report_cv_scores`).
        stream: Report each fold as it finishes instead of all of them at the end.
        **other_metrics: Further metrics of the reported result.

    Returns:
        The fold losses, in fold order.

    Raises:
        InvalidArgumentError: ``num_folds`` < 2, ``make_trainer`` not callable, or a fold's
            trainer gave no number under ``metric``.
        UnsupportedContextError: called inside a Ray Train worker.

    Example:
        >>> def tune_fn(config):  # doctest: +SKIP
        ...     def make_trainer(fold):
        ...         return TorchTrainer(train_fold, train_loop_config={**config, "fold": fold},
        ...                             scaling_config=ScalingConfig(num_workers=2),
        ...                             run_config=RunConfig(name=f"{trial_id}-fold{fold}"))
        ...     cross_validate_with_trainer(make_trainer, num_folds=5)
    """
    if isinstance(num_folds, bool) or not isinstance(num_folds, int) or num_folds < 2:
        raise invalid("num_folds", num_folds, "an integer >= 2")
    if not callable(make_trainer):
        raise invalid("make_trainer", make_trainer, "a callable fold -> Ray Train trainer")
    if _in_ray_train_v2_worker():
        name = "cross_validate_with_trainer"
        raise UnsupportedContextError(TRAIN_WORKER_MESSAGE.format(name=name))
    losses: list[float] = []
    for fold in range(num_folds):
        result = make_trainer(fold).fit()
        loss = fold_loss_of(result, metric, fold)
        losses.append(loss)
        if stream:
            report_fold(fold, loss, num_folds, mode=mode, **other_metrics)
    if not stream:
        report_cv_scores(losses, mode=mode, **other_metrics)
    return losses


def holdout_with_trainer(
    make_trainer: Callable[[], Any],
    *,
    metric: str = "val_losses",
    mode: str = "min",
    **other_metrics: Any,
) -> list[float]:
    """Fit one Ray Train trainer on a single train/validation split and report its holdout
    result to Tune (call from the Tune function).

    ``make_trainer()`` builds the trainer (e.g. a :class:`ray.train.torch.TorchTrainer`). Its
    rank-0 worker gives the per-example validation losses by **returning** them from the
    training function (``return {"val_losses": losses.tolist()}``: Ray Train V2's
    ``Result.return_value``); workers may also ``ray.train.report`` whatever they like (Train
    keeps it). The losses go to Tune with :func:`~ray_autoterm.report_holdout`, so the stopper
    compares the bound with the incumbent's ``sd / sqrt(n)``. With data-parallel validation,
    gather the losses of all workers on rank 0 (``torch.distributed.all_gather_object``)
    before returning them.

    Args:
        make_trainer: Called with no argument; returns an object with ``fit()`` returning a Ray
            Train ``Result``.
        metric: Key of the per-example losses in the returned dict (or in ``Result.metrics``,
            for a worker that reported them with a checkpoint).
        mode: ``"min"`` for per-example losses (default), ``"max"`` for per-example scores.
        **other_metrics: Further metrics of the reported result.

    Returns:
        The per-example losses.

    Raises:
        InvalidArgumentError: ``make_trainer`` not callable, or the trainer gave no list of
            numbers under ``metric``.
        UnsupportedContextError: called inside a Ray Train worker.

    Example:
        >>> def tune_fn(config):  # doctest: +SKIP
        ...     holdout_with_trainer(lambda: TorchTrainer(
        ...         train_loop, train_loop_config=config,
        ...         scaling_config=ScalingConfig(num_workers=2),
        ...         run_config=RunConfig(name=tune.get_context().get_trial_id())))
    """
    if not callable(make_trainer):
        raise invalid("make_trainer", make_trainer, "a callable () -> Ray Train trainer")
    if _in_ray_train_v2_worker():
        raise UnsupportedContextError(TRAIN_WORKER_MESSAGE.format(name="holdout_with_trainer"))
    result = make_trainer().fit()
    losses = per_example_losses_of(result, metric)
    report_holdout(losses, mode=mode, **other_metrics)
    return losses


def per_example_losses_of(result: Any, metric: str = "val_losses") -> list[float]:
    """The per-example validation losses in a Ray Train ``Result``: its return value, else its
    metrics (a sequence of numbers under ``metric``, or the return value itself).

    Example:
        >>> from types import SimpleNamespace
        >>> per_example_losses_of(SimpleNamespace(return_value={"val_losses": [0.5, 1]},
        ...                                       metrics=None))
        [0.5, 1.0]
    """
    for source in (getattr(result, "return_value", None), getattr(result, "metrics", None)):
        value = source.get(metric) if isinstance(source, Mapping) else source
        if value is None or isinstance(value, (str, bytes, Mapping)):
            continue
        if hasattr(value, "detach"):
            value = value.detach().cpu().double().numpy()
        if hasattr(value, "ravel"):
            value = value.ravel().tolist()
        if hasattr(value, "__iter__"):
            try:
                return [float(v) for v in value]
            except (TypeError, ValueError):
                continue
    raise invalid(
        f"{metric}", {"return_value": getattr(result, "return_value", None),
                      "metrics": getattr(result, "metrics", None)},
        "a list of per-example losses: return it from the training function on the rank-0 "
        f"worker (`return {{{metric!r}: losses.tolist()}}`)",
    )


def fold_loss_of(result: Any, metric: str = "val_loss", fold: int | None = None) -> float:
    """The validation loss in a Ray Train ``Result``: its return value, else its metrics.

    Example:
        >>> from types import SimpleNamespace
        >>> fold_loss_of(SimpleNamespace(return_value={"val_loss": 0.25}, metrics=None))
        0.25
    """
    for source in (getattr(result, "return_value", None), getattr(result, "metrics", None)):
        value = source.get(metric) if isinstance(source, Mapping) else source
        if isinstance(value, SupportsFloat) and not isinstance(value, bool):
            return float(value)  # a Python, numpy or 0-d torch number (NaN passes: reported as is)
    where = "" if fold is None else f" of fold {fold}"
    raise invalid(
        f"{metric}", {"return_value": getattr(result, "return_value", None),
                      "metrics": getattr(result, "metrics", None)},
        f"a number{where}: return it from the training function on the rank-0 worker "
        f"(`return {{{metric!r}: loss}}`), or report it with a checkpoint (Ray Train V2 keeps "
        "only checkpointed metrics in `Result.metrics`)",
    )
