"""Reporting one validation set (holdout) from a Tune trainable: its mean and standard error.

Most deep-learning searches have no k-fold: one held-out split, many examples. The statistical
error of a trial is then the standard error of its mean validation loss (``sd / sqrt(n)``, the
one-split analogue of Eq. 9; see ``docs/holdout.md``). These helpers run in every trial process,
so this module imports only the standard library at import time (numpy only inside
:func:`report_holdout_score`'s bootstrap).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from ray_autoterm.errors import invalid
from ray_autoterm.tune._keys import (
    CV_MODE_KEY,
    HOLDOUT_MEAN_KEY,
    HOLDOUT_N_KEY,
    HOLDOUT_SE_KEY,
)
from ray_autoterm.tune.reporting import _check_direction, _tune_report

logger = logging.getLogger("ray_autoterm")

_warned_bad = False


def holdout_stats(per_example_losses: Any) -> tuple[float, float, int]:
    """``(mean, se, n)`` of per-example losses: ``se = sd / sqrt(n)`` with ``sd`` the sample
    standard deviation (divides by ``n − 1``).

    Empty input gives ``(nan, nan, 0)``, one example ``(value, nan, 1)`` and any non-finite
    value a NaN ``se``: such a trial has no statistical error (the stopper leaves it out).

    Args:
        per_example_losses: One loss per validation example: a list, a numpy array or a torch
            tensor (any shape; flattened).

    Returns:
        The mean, its standard error and the number of examples.

    Raises:
        InvalidArgumentError: the input is not numbers.

    Example:
        >>> mean, se, n = holdout_stats([0.0, 1.0, 1.0, 0.0])
        >>> mean, round(se, 6), n
        (0.5, 0.288675, 4)
    """
    values = _as_float_list(per_example_losses)
    n = len(values)
    if n == 0:
        return math.nan, math.nan, 0
    mean = math.fsum(values) / n
    if n < 2 or not math.isfinite(mean):
        return mean, math.nan, n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n), n


def report_holdout(
    per_example_losses: Any,
    *,
    mode: str = "min",
    checkpoint: Any = None,
    **other_metrics: Any,
) -> dict[str, Any]:
    """Report a trial's validation result on one held-out set: mean, standard error, size.

    Reports ``holdout_mean`` (use it as the Tuner's or the scheduler's ``metric``),
    ``holdout_se`` (``sd / sqrt(n)``), ``holdout_n`` and ``cv_mode``, plus ``other_metrics``.
    A zero-argument :class:`~ray_autoterm.AutoTermStopper` detects these keys and compares the
    regret bound with the incumbent's ``holdout_se`` instead of the CV error of Eq. 9.

    Call it once at the end of the trial, or once per epoch (the trial's last report counts
    when it ends; schedulers such as ASHA can cut it on ``holdout_mean``). Accuracy is the
    mean of per-example 0/1 losses (errors): pass ``1 - correct``. For a score that is not a
    mean over examples (AUC, F1), use :func:`report_holdout_score` (bootstrap standard error).

    Empty input, a single example or non-finite losses give no standard error: the result is
    reported as it is (``holdout_se`` NaN), with one warning in the trial process, and the
    stopper leaves the trial out (one warning for the experiment).

    Args:
        per_example_losses: One loss per validation example (list, numpy array or tensor).
        mode: ``"min"`` (the default: per-example losses); ``"max"`` when the per-example
            values are scores (e.g. 1 for a correct prediction, 0 otherwise).
        checkpoint: Passed to ``ray.tune.report``.
        **other_metrics: Further metrics of the result (e.g. ``epoch``).

    Returns:
        The result dict that was reported.

    Raises:
        InvalidArgumentError: ``mode`` is not ``"min"``/``"max"`` or the losses are not
            numbers.
        UnsupportedContextError: called inside a Ray Train worker (see
            :func:`~ray_autoterm.tune.train.holdout_with_trainer`).

    Example:
        >>> def trainable(config):
        ...     losses = [0.2, 0.4, 0.1, 0.3]  # one per validation example
        ...     report_holdout(losses, epoch=1)
    """
    direction = _check_direction(mode)
    mean, se, n = holdout_stats(per_example_losses)
    if not math.isfinite(se):
        _warn_bad(n, mean)
    result = _result(mean, se, n, direction, other_metrics)
    _tune_report("report_holdout", result, checkpoint)
    return result


def report_holdout_score(
    y_true: Any,
    y_pred: Any,
    *,
    score: Callable[[Any, Any], float],
    mode: str | None = None,
    num_bootstrap: int = 200,
    seed: int = 0,
    checkpoint: Any = None,
    **other_metrics: Any,
) -> dict[str, Any]:
    """Report a score that is not a mean over examples (AUC, F1) with a bootstrap error.

    ``holdout_mean`` is ``score(y_true, y_pred)`` on the whole validation set and
    ``holdout_se`` the standard deviation of the score over ``num_bootstrap`` resamples of
    the examples with replacement (the bootstrap standard error, Efron & Tibshirani 1993).

    Args:
        y_true: The validation targets (array-like of length ``n``).
        y_pred: Predictions, scores or probabilities (first axis of length ``n``).
        score: ``score(y_true, y_pred) -> float``, e.g. ``sklearn.metrics.roc_auc_score``.
        mode: ``"max"`` for a score (higher is better), ``"min"`` for a loss. Required.
        num_bootstrap: Resamples (>= 20).
        seed: Seeds the resampling.
        checkpoint: Passed to ``ray.tune.report``.
        **other_metrics: Further metrics of the result.

    Returns:
        The result dict that was reported.

    Raises:
        InvalidArgumentError: a bad ``mode``, ``score`` or ``num_bootstrap``, or ``y_true``
            and ``y_pred`` of different lengths.

    Example:
        >>> def trainable(config):
        ...     from sklearn.metrics import roc_auc_score
        ...     report_holdout_score([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3],
        ...                          score=roc_auc_score, mode="max")
    """
    direction = _check_direction(mode)
    mean, se, n = bootstrap_score(y_true, y_pred, score, num_bootstrap=num_bootstrap, seed=seed)
    if not math.isfinite(se):
        _warn_bad(n, mean)
    result = _result(mean, se, n, direction, other_metrics)
    _tune_report("report_holdout_score", result, checkpoint)
    return result


def bootstrap_score(
    y_true: Any, y_pred: Any, score: Callable[[Any, Any], float], *,
    num_bootstrap: int = 200, seed: int = 0,
) -> tuple[float, float, int]:
    """``(score, bootstrap se, n)``: the score on all ``n`` examples and its standard deviation
    over ``num_bootstrap`` resamples with replacement (resamples where ``score`` raises, e.g.
    an AUC with one class only, are skipped; fewer than 20 left give a NaN ``se``).

    Example:
        >>> s, se, n = bootstrap_score([0, 1] * 50, [0.2, 0.7] * 50,
        ...                            lambda t, p: float(((p > 0.5) == t).mean()))
        >>> s, se, n
        (1.0, 0.0, 100)
    """
    import numpy as np

    if not callable(score):
        raise invalid("score", score, "a callable score(y_true, y_pred) -> float")
    if isinstance(num_bootstrap, bool) or not isinstance(num_bootstrap, int) or num_bootstrap < 20:
        raise invalid("num_bootstrap", num_bootstrap, "an integer >= 20")
    t, p = np.asarray(_numpy_ready(y_true)), np.asarray(_numpy_ready(y_pred))
    if t.ndim == 0 or p.ndim == 0 or len(t) != len(p):
        raise invalid("y_pred", f"{p.shape} against y_true {t.shape}",
                      "one prediction per validation example (the same first axis as y_true)")
    n = len(t)
    if n == 0:
        return math.nan, math.nan, 0
    value = float(score(t, p))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(num_bootstrap):
        idx = rng.integers(0, n, n)
        try:
            draws.append(float(score(t[idx], p[idx])))
        except ValueError:  # e.g. roc_auc_score on a resample with one class only
            continue
    ok = [d for d in draws if math.isfinite(d)]
    se = float(np.std(ok, ddof=1)) if len(ok) >= 20 else math.nan
    return value, se, n


def _result(
    mean: float, se: float, n: int, mode: str, other: Mapping[str, Any]
) -> dict[str, Any]:
    return {HOLDOUT_MEAN_KEY: mean, HOLDOUT_SE_KEY: se, HOLDOUT_N_KEY: n, CV_MODE_KEY: mode,
            **other}


def _numpy_ready(x: Any) -> Any:
    """A torch tensor moved to host memory as float64 (numpy reads neither a CUDA tensor nor
    bfloat16); else ``x``."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().double().numpy()
    return x


def _as_float_list(values: Any) -> list[float]:
    values = _numpy_ready(values)
    if hasattr(values, "ravel") and hasattr(values, "tolist"):  # numpy: fast, any shape
        values = values.ravel().tolist()
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise invalid("per_example_losses", values,
                      "a sequence of numbers, one loss per validation example")
    out: list[float] = []
    for v in values:
        if isinstance(v, (bool, str, bytes)):
            raise invalid("per_example_losses", v, "numbers (one loss per validation example)")
        try:
            out.append(float(v))
        except (TypeError, ValueError) as exc:
            raise invalid("per_example_losses", v,
                          "numbers (one loss per validation example)") from exc
    return out


def _warn_bad(n: int, mean: float) -> None:
    global _warned_bad
    if _warned_bad:
        return
    _warned_bad = True
    why = ("no examples" if n == 0 else "a single example" if n == 1
           else "non-finite values (NaN or inf)")
    logger.warning(
        "report_holdout got per-example losses with %s (n=%d, mean=%s): there is no standard "
        "error, so the stopper leaves this trial out. Reported as it is; this warning is shown "
        "once per trial process.", why, n, mean,
    )


__all__ = ["bootstrap_score", "holdout_stats", "report_holdout", "report_holdout_score"]
