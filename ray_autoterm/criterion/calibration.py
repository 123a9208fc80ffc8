"""A regret bound calibrated on the search's own next trials (leave-future-out).

Each new trial is an out-of-sample test of the GP fitted before it arrived. Before a trial
enters the bound's GP, the evaluator records where its mean fold loss ``y_i`` fell in that
earlier GP's predictive distribution, as a one-sided standardised residual::

    z_i = (μ_{t(i)}(x_i) − y_i) / sqrt(σ²_{t(i)}(x_i) + σ²_noise,i)

(positive: the trial came out better than the GP predicted; ``t(i)`` is the last decision
before trial ``i``). If the GP were calibrated, ``z`` would be standard normal. From the record
``z_1 … z_m`` the split-conformal ``level`` quantile::

    q̂ = z_(k),   k = min(m, ⌈(m + 1) · level⌉)   (the k-th smallest)

is compared with the normal quantile ``Φ⁻¹(level)``, and the bound's ``sqrt(β_t)`` is widened
by their ratio, never narrowed::

    s_t = max(1, q̂ / Φ⁻¹(level)),   β̃_t = s_t² · β_t,
    r̄_t = min_{γ ∈ G_t} μ_t(γ) + sqrt(β̃_t)·σ_t(γ) − min_{γ ∈ Γ} μ_t(γ) − sqrt(β̃_t)·σ_t(γ)

With fewer than ``⌈level/(1 − level)⌉`` records the conformal quantile does not exist; the
largest residual stands in for it (``k = m``: cautious, the direction that stops later), and
without any record ``s_t = 1`` (the paper's Eq. 8). When the evaluator first sees ``n`` trials
without an earlier GP of its own (a replay, or a stopper started late), it back-fills the
record once: a GP fitted on the first ``⌊n/2⌋`` trials (its own best half, as the bound's)
predicts the others.

The evaluator rounds ``s_t`` up to a multiple of ``scale_step`` (0.05): the bound it uses is
never below the formula's, and ``s_t`` moves in steps, so between steps a decision whose new
trial did not enter the GP's fit set reuses the last bound (same GP, same ``β̃_t``) instead of
minimising the LCB again, as the paper's rule does.

The record is :attr:`CalibratedRegretBoundEvaluator.record`; :func:`calibration_scale` and
:func:`standardised_residuals` are the formulas, pure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from ray_autoterm._validation import check_open_unit
from ray_autoterm.criterion.bound import RegretBoundEvaluator
from ray_autoterm.criterion.improvement import MIN_POINTS, Observations
from ray_autoterm.criterion.regret import top_subset
from ray_autoterm.errors import invalid
from ray_autoterm.history import TrialRecord


def standardised_residuals(mean: Sequence[float] | np.ndarray,
                           variance: Sequence[float] | np.ndarray,
                           y: Sequence[float] | np.ndarray) -> np.ndarray:
    """``z_i = (μ_i − y_i) / sqrt(v_i)``: how far below its predicted mean a trial came out.

    Args:
        mean: The predictive means ``μ_i`` at the trials' configs (losses).
        variance: The predictive variances ``v_i`` of their observed losses (GP variance plus
            the observation noise), all > 0.
        y: The losses the trials then reported.

    Example:
        >>> standardised_residuals([1.0, 2.0], [0.25, 4.0], [0.5, 3.0]).tolist()
        [1.0, -0.5]
    """
    mean_a = np.asarray(mean, dtype=np.float64).reshape(-1)
    var_a = np.asarray(variance, dtype=np.float64).reshape(-1)
    y_a = np.asarray(y, dtype=np.float64).reshape(-1)
    if not mean_a.shape == var_a.shape == y_a.shape:
        raise invalid("variance", var_a.shape, f"arrays of one shape ({mean_a.shape})")
    if np.any(~(var_a > 0)):
        raise invalid("variance", var_a.tolist(), "positive variances")
    return (mean_a - y_a) / np.sqrt(var_a)


def normal_quantile(p: float) -> float:
    """``Φ⁻¹(p)`` of the standard normal (``0 < p < 1``).

    Example:
        >>> round(normal_quantile(0.9), 4)
        1.2816
    """
    return NormalDist().inv_cdf(check_open_unit("p", p))


def calibration_scale(z: Sequence[float] | np.ndarray, level: float = 0.9) -> float:
    """``s = max(1, z_(k) / Φ⁻¹(level))``, ``k = min(m, ⌈(m + 1)·level⌉)``; 1 without records.

    Args:
        z: The record of one-sided standardised residuals (:func:`standardised_residuals`).
        level: The conformal level: the widened lower bound should hold for this share of the
            trials to come.

    Example:
        >>> z = [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
        >>> round(calibration_scale(z, 0.9), 4)  # k = 10: 4.0 / 1.2816
        3.1212
        >>> round(calibration_scale(z[:8], 0.9), 4)  # k = 9 > 8 records: the largest, 3.0
        2.3409
        >>> calibration_scale([], 0.9), calibration_scale([-2.0, 0.5], 0.9)
        (1.0, 1.0)
    """
    level = check_open_unit("level", level)
    zs = np.sort(np.asarray(z, dtype=np.float64).reshape(-1))
    zs = zs[np.isfinite(zs)]
    m = zs.size
    if m == 0:
        return 1.0
    k = min(m, math.ceil((m + 1) * level - 1e-12))
    return max(1.0, float(zs[k - 1]) / normal_quantile(level))


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One entry of the calibration record: a trial against the GP fitted before it came.

    Attributes:
        trial_id: The trial.
        num_trials: How many trials that GP's decision had seen (``t(i)``).
        mean: The GP's predictive mean of the trial's loss.
        sd: Its predictive standard deviation (GP and observation noise).
        sd_f: The GP's standard deviation of ``f`` alone (the one ``sqrt(β)`` multiplies).
        loss: The trial's mean fold loss.
        z: ``(mean − loss) / sd``.
    """

    trial_id: str
    num_trials: int
    mean: float
    sd: float
    sd_f: float
    loss: float
    z: float


class CalibratedRegretBoundEvaluator(RegretBoundEvaluator):
    """Eq. 8's regret bound with ``sqrt(β_t)`` widened by the GP's own out-of-sample record.

    The formulas are the module's (:mod:`~ray_autoterm.criterion.calibration`): every trial
    is first scored against the GP of the decision before it (``z_i``), and the bound uses
    ``β̃_t = s_t²·β_t`` with ``s_t = max(1, q̂_level / Φ⁻¹(level))``. Everything else is
    :class:`~ray_autoterm.criterion.bound.RegretBoundEvaluator`'s (same GP, same fit subset).
    The decision's ``beta`` is ``β̃_t``; its reason names ``s_t``.

    Args:
        level: The conformal level of the record's quantile (0.9 by default).
        backfill: Back-fill the record once from a GP on the first half of the trials when
            the evaluator first sees trials without an earlier GP of its own.
        scale_step: ``s_t`` is rounded up to a multiple of this (0.05; 0: not rounded), so
            that it changes in steps and the last bound can be reused between them.
        **kwargs: :class:`~ray_autoterm.criterion.bound.RegretBoundEvaluator`'s.

    Example:
        >>> import numpy as np
        >>> from ray_autoterm.history import TrialRecord
        >>> from ray_autoterm.space import NumericParam, SearchSpace
        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((24, 1)); y = (X[:, 0] - 0.3) ** 2
        >>> obs = Observations([TrialRecord(str(i), {}, [v, v]) for i, v in enumerate(y)], X, y,
        ...                    SearchSpace([NumericParam(("x",), 0.0, 1.0)]))
        >>> ev = CalibratedRegretBoundEvaluator(exact=True)
        >>> ev.evaluate(obs, float("inf")).value >= 0, len(ev.record), ev.scale >= 1
        (True, 12, True)
    """

    def __init__(self, *, level: float = 0.9, backfill: bool = True, scale_step: float = 0.05,
                 **kwargs: Any) -> None:
        self.level = check_open_unit("level", level)
        if not isinstance(backfill, bool):
            raise invalid("backfill", backfill, "True or False")
        if (isinstance(scale_step, bool) or not isinstance(scale_step, (int, float))
                or not 0 <= scale_step <= 1):
            raise invalid("scale_step", scale_step, "a number from 0 to 1 (0: not rounded)")
        self.backfill = backfill
        self.scale_step = float(scale_step)
        super().__init__(**kwargs)
        self.record: list[Prediction] = []
        self.scale = 1.0
        self._seen: set[str] = set()
        self._prev: tuple[Any, int] | None = None  # (the last decision's GP, its trial count)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_prev"] = None  # a torch model: the next decision back-fills instead
        return state

    def _calibrate(self, observations: Observations, model: Any,
                   beta: float) -> tuple[float, str]:
        records = observations.records
        n = len(records)
        new = [i for i, r in enumerate(records) if r.trial_id not in self._seen]
        if self._prev is not None and new:
            self._score(self._prev[0], self._prev[1], observations, new)
        elif self._prev is None and not self.record and self.backfill and n // 2 >= MIN_POINTS:
            self._backfill(observations)
        self._seen.update(r.trial_id for r in records)
        self._prev = (model, n)
        raw = calibration_scale([p.z for p in self.record], self.level)
        step = getattr(self, "scale_step", 0.0)  # an evaluator saved before it existed: 0
        self.scale = math.ceil(raw / step - 1e-9) * step if step > 0 else raw
        note = (f"(sqrt(β) × {self.scale:.2f}, calibrated on {len(self.record)} trials "
                f"the GP had not seen)")
        return beta * self.scale ** 2, note

    def _backfill(self, observations: Observations) -> None:
        """Score the later half of the trials against a GP on the first half (by order)."""
        records = observations.records
        n = len(records)
        order = sorted(range(n), key=lambda i: (records[i].order, i))
        first, later = order[: n // 2], order[n // 2:]
        losses = observations.losses[first]
        idx = np.asarray(first)[top_subset(losses, self.min_fit, self.fit_fraction)]
        yvar_all = self.noise_variances(records)
        model = self.fit(observations.X[idx], observations.losses[idx], "calibration",
                         None if yvar_all is None else yvar_all[idx])
        self._score(model, n // 2, observations, later)

    def _score(self, model: Any, num_trials: int, observations: Observations,
               which: Sequence[int]) -> None:
        """Append the trials ``which`` (indices into ``observations``) scored by ``model``."""
        import torch

        from ray_autoterm.gp import DTYPE

        which = list(which)
        recs: list[TrialRecord] = [observations.records[i] for i in which]
        Xn = torch.as_tensor(observations.X[which], dtype=DTYPE)
        with torch.no_grad():
            post = model.posterior(Xn)
            mean = post.mean.reshape(-1).numpy()
            var_f = post.variance.reshape(-1).clamp_min(0).numpy()
        yvar = self.noise_variances(recs)
        # The learned noise term (in the metric's units), or each trial's known noise.
        var_y = var_f + (_learned_noise(model, Xn) if yvar is None else yvar)
        var_y = np.maximum(var_y, 1e-300)
        y = observations.losses[which]
        z = standardised_residuals(mean, var_y, y)
        for r, mu, v, vf, yi, zi in zip(recs, mean, var_y, var_f, y, z, strict=True):
            self.record.append(Prediction(r.trial_id, num_trials, float(mu), math.sqrt(v),
                                          math.sqrt(vf), float(yi), float(zi)))


def _learned_noise(model: Any, X: Any) -> float | np.ndarray:
    """The learned noise variance in the metric's units: the likelihood's, times the square of
    ``Standardize``'s scale (no second posterior call); else from a posterior with noise."""
    import torch

    noise = getattr(getattr(model, "likelihood", None), "noise", None)
    stdvs = getattr(getattr(model, "outcome_transform", None), "stdvs", None)
    if noise is not None and stdvs is not None:
        return float(noise.detach().mean()) * float(stdvs.detach().reshape(-1)[0]) ** 2
    with torch.no_grad():
        post, with_noise = model.posterior(X), model.posterior(X, observation_noise=True)
        return (with_noise.variance - post.variance).reshape(-1).numpy()


__all__ = [
    "CalibratedRegretBoundEvaluator",
    "Prediction",
    "calibration_scale",
    "normal_quantile",
    "standardised_residuals",
]
