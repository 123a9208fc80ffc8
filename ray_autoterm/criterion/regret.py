"""The GP upper bound on the simple regret (Eq. 8) and its confidence parameter ``β_t``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ray_autoterm._validation import check_open_unit, check_positive_float, check_positive_int
from ray_autoterm.errors import invalid

DTYPE = torch.float64


def regret_bound_beta(
    num_params: int, num_observations: int, delta: float = 0.1, scale: float = 0.2
) -> float:
    """Confidence parameter ``β_t`` of the regret bound (Appendix A.2.3, after Srinivas et al.)::

        β_t = scale · 2·log(d · t² · π² / (6·δ))

    With the default ``scale = 0.2`` this is the paper's ``2·log(d t² π² / (6δ)) / 5``. The
    bounds use ``sqrt(β_t)·σ``, as BoTorch's ``UpperConfidenceBound`` does.

    Args:
        num_params: ``d``, the number of tuned hyperparameters (>= 1).
        num_observations: ``t``, the number of observations the GP was fitted on (>= 1).
        delta: ``δ`` in (0, 1), the confidence level of Srinivas et al.'s bound.
        scale: Multiplies the Srinivas value; 0.2 is the paper's division by 5.

    Returns:
        ``β_t`` (may be small for tiny ``d·t²``; it is clipped at 0 since a negative ``β``
        has no meaning).

    Example:
        >>> round(regret_bound_beta(2, 20), 4)
        3.794
    """
    d = check_positive_int("num_params", num_params)
    t = check_positive_int("num_observations", num_observations)
    delta = check_open_unit("delta", delta)
    scale = check_positive_float("scale", scale)
    return max(0.0, scale * 2.0 * math.log(d * t**2 * math.pi**2 / (6.0 * delta)))


def top_subset_size(num_observations: int, min_size: int = 20, fraction: float = 0.5) -> int:
    """How many of the best observations the bound's GP is fitted on (Appendix A.2)::

        n_fit = min(n, max(min_size, ⌊fraction · n⌋))

    Example:
        >>> [top_subset_size(n) for n in (10, 20, 30, 41, 100)]
        [10, 20, 20, 20, 50]
    """
    n = check_positive_int("num_observations", num_observations, minimum=0)
    min_size = check_positive_int("min_size", min_size)
    if not 0 < fraction <= 1:
        raise invalid("fraction", fraction, "a number in (0, 1]")
    return min(n, max(min_size, int(math.floor(fraction * n))))


MAX_FIT: int | None = 500
"""Most observations the bound's GP is fitted on (see :func:`top_subset`).

An exact GP costs ``O(n_fit^3)`` per likelihood evaluation and ``O(n_fit^2)`` memory: at 1,000
trials (500 fitted) a cold decision took 3-5 s, at 3,000 trials 37 s and 1.3 GB. Beyond
``MAX_FIT`` the fit set is the ``MAX_FIT // 2`` best trials plus a space-filling subset of the
rest of the best half (``benchmarks/scale_decisions.py`` measures the bound against the exact
one). The cap engages only from ``n_fit > MAX_FIT`` (more than 1,001 trials at the default
``fraction = 0.5``), so smaller searches are fitted exactly as the paper does. :func:`top_subset`
reads it at each call: ``None`` turns the cap off (the exact GP on the whole best half)."""


def space_filling_subset(
    X: np.ndarray, size: int, start: np.ndarray | None = None
) -> np.ndarray:
    """Indices of ``size`` rows of ``X`` chosen greedily to be far from each other (maximin).

    Farthest-point selection: each step takes the row whose Euclidean distance to the nearest
    row chosen so far (or to ``start``) is largest; ties go to the first such row, so the result
    is deterministic. Duplicates of chosen rows come last. Cost ``O(size · n · d)``.

    Args:
        X: ``n x d`` candidate rows (encoded space).
        size: How many to choose (at most ``n``).
        start: ``m x d`` rows already chosen (they count as neighbours, are not returned).

    Returns:
        ``min(size, n)`` row indices of ``X``, in the order chosen.

    Example:
        >>> X = np.array([[0.0], [0.1], [1.0], [0.5]])
        >>> space_filling_subset(X, 2, start=np.array([[0.0]])).tolist()
        [2, 3]
    """
    X = np.asarray(X, dtype=np.float64)
    size = min(int(size), len(X))
    if size <= 0:
        return np.zeros(0, dtype=np.int64)
    if start is not None and len(start):
        start = np.asarray(start, dtype=np.float64)
        # n x m distances in blocks, to keep the memory at O(n · block).
        nearest = np.full(len(X), np.inf)
        for i in range(0, len(start), 256):
            block = start[i:i + 256]
            dist = ((X[:, None, :] - block[None, :, :]) ** 2).sum(-1).min(1)
            nearest = np.minimum(nearest, dist)
    else:
        nearest = np.full(len(X), np.inf)  # no reference: the first row comes first
    chosen = np.empty(size, dtype=np.int64)
    for k in range(size):
        j = int(np.argmax(nearest))
        chosen[k] = j
        nearest = np.minimum(nearest, ((X - X[j]) ** 2).sum(-1))
        nearest[j] = -np.inf  # never again
    return chosen


def top_subset(
    losses: np.ndarray,
    min_size: int = 20,
    fraction: float = 0.5,
    X: np.ndarray | None = None,
    max_size: int | str | None = "auto",
) -> np.ndarray:
    """Indices of the bound's fit set: the ``n_fit`` smallest losses, capped at ``max_size``.

    Up to ``max_size`` this is the paper's fit set, the ``n_fit`` smallest losses (stable order
    for ties; see :func:`top_subset_size`). Beyond, with the encoded inputs ``X`` given, it is
    the ``max_size // 2`` smallest losses plus a space-filling subset
    (:func:`space_filling_subset`) of the rest of those ``n_fit``, ``max_size`` in all: the GP
    stays exact where the incumbent and its rivals are and keeps seeing the whole region the
    best half covers, at a fixed cost. Without ``X`` (or with ``max_size=None``) there is no
    cap.

    Args:
        losses: ``n`` losses (minimisation).
        min_size: The fit set holds at least this many (all if fewer).
        fraction: ... and this fraction of the observations beyond that.
        X: ``n x d`` encoded inputs of the same observations (needed for the cap).
        max_size: The cap; ``"auto"`` is :data:`MAX_FIT` as it is at the call; ``None`` fits
            the whole best fraction however large.

    Returns:
        Indices into ``losses``: the best first (in loss order), then the space-filling ones.

    Example:
        >>> top_subset([0.3, 0.1, 0.2], min_size=2).tolist()
        [1, 2]
        >>> X = np.linspace(0, 1, 8)[:, None]; losses = X[:, 0].copy()
        >>> top_subset(losses, min_size=8, X=X, max_size=4).tolist()
        [0, 1, 7, 4]
    """
    losses = np.asarray(losses, dtype=np.float64).reshape(-1)
    if max_size == "auto":
        max_size = MAX_FIT
    if max_size is not None:
        max_size = check_positive_int("max_size", max_size, minimum=2)
    n_fit = top_subset_size(losses.size, min_size, fraction)
    order = np.argsort(losses, kind="stable")[:n_fit]
    if max_size is None or X is None or n_fit <= max_size:
        return order
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) != losses.size:
        raise invalid("X", X.shape, f"an n x d array with n = {losses.size} rows")
    best, rest = order[:max_size // 2], order[max_size // 2:]
    picked = space_filling_subset(X[rest], max_size - len(best), X[best])
    return np.concatenate([best, rest[picked]])


@dataclasses.dataclass(frozen=True)
class RegretBound:
    """The pieces of Eq. 8, in the metric's units (minimisation).

    Attributes:
        beta: ``β_t``.
        min_ucb: ``min_{γ ∈ G_t} μ_t(γ) + sqrt(β_t)·σ_t(γ)``.
        min_lcb: ``min_{γ ∈ Γ} μ_t(γ) − sqrt(β_t)·σ_t(γ)``.
        argmin_lcb: Where ``min_lcb`` was found (encoded space, ``d``-vector).
        exact: ``False`` when the LCB was only screened (see ``stop_below`` of
            :func:`regret_bound`): ``min_lcb`` is then an upper estimate of the minimum, so
            ``bound`` is a lower estimate of ``r̄_t`` (the true bound is at least this).
    """

    beta: float
    min_ucb: float
    min_lcb: float
    argmin_lcb: np.ndarray
    exact: bool = True

    @property
    def bound(self) -> float:
        """``r̄_t = min_ucb − min_lcb``."""
        return self.min_ucb - self.min_lcb


def confidence_bounds(model: Any, X: torch.Tensor,
                      beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower and upper confidence bounds ``μ ∓ sqrt(β)·σ`` of the latent function.

    Args:
        model: A fitted BoTorch model with one outcome.
        X: ``n x d`` points.
        beta: ``β``.

    Returns:
        ``(lcb, ucb)``, each of shape ``n``.
    """
    with torch.no_grad():
        post = model.posterior(X.unsqueeze(-2))  # n x 1 x d: one point per batch
        mean = post.mean.reshape(-1)
        sd = post.variance.clamp_min(0.0).sqrt().reshape(-1)
    width = math.sqrt(beta) * sd
    return mean - width, mean + width


def sobol_points(
    bounds: np.ndarray, onehot_groups: Sequence[Sequence[int]], n: int, seed: int = 0
) -> torch.Tensor:
    """``n x d`` scrambled-Sobol points of the space, one-hot blocks snapped to one category."""
    from botorch.utils.sampling import draw_sobol_samples

    b = torch.as_tensor(bounds, dtype=DTYPE)
    pts = draw_sobol_samples(bounds=b, n=n, q=1, seed=seed).to(DTYPE).squeeze(-2)
    for group in onehot_groups:
        cols = list(group)
        winner = pts[:, cols].argmax(dim=-1)
        pts[:, cols] = 0.0
        pts[torch.arange(len(pts)), torch.as_tensor(cols)[winner]] = 1.0
    return pts


def screen_lcb(
    model: Any,
    bounds: np.ndarray,
    beta: float,
    onehot_groups: Sequence[Sequence[int]],
    candidates: np.ndarray,
    *,
    raw_samples: int = 256,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """The smallest LCB over ``raw_samples`` scrambled-Sobol points and ``candidates``.

    Every screened point is a valid point of the space (one-hot blocks are snapped to one
    category), so the result is never below ``min_{γ ∈ Γ} lcb(γ)``: an upper estimate of the
    minimum from one batched posterior evaluation, without gradient steps.

    Returns:
        ``(min_lcb, argmin)`` over the screened points.
    """
    pts = sobol_points(bounds, onehot_groups, raw_samples, seed)
    if candidates is not None and len(candidates):
        pts = torch.cat([pts, torch.as_tensor(np.atleast_2d(candidates), dtype=DTYPE)])
    lcb, _ = confidence_bounds(model, pts, beta)
    i = int(lcb.argmin())
    return float(lcb[i]), pts[i].numpy().copy()


def minimize_lcb(
    model: Any,
    bounds: np.ndarray,
    beta: float,
    onehot_groups: Sequence[Sequence[int]],
    candidates: np.ndarray,
    *,
    num_restarts: int = 8,
    raw_samples: int = 256,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """``min_{γ ∈ Γ} lcb(γ)`` by BoTorch's multi-start gradient optimisation.

    Maximises BoTorch's ``UpperConfidenceBound(maximize=False)``, which is ``−μ + sqrt(β)σ =
    −lcb``, with :func:`ray_autoterm.optim.maximize`: batched L-BFGS-B restarts from the best of
    quasi-random points and of ``candidates``; categorical combinations enumerated exactly
    while few. The candidates' own values take part, so the result is never above the minimum
    over them.

    Args:
        model: The fitted GP.
        bounds: ``2 x d`` bounds of the encoded space.
        beta: ``β_t``.
        onehot_groups: Column indices of each categorical's one-hot block.
        candidates: ``m x d`` points to include (evaluated configs, earlier minimisers).
        num_restarts: Gradient restarts.
        raw_samples: Quasi-random points screened for the restarts.
        seed: Seeds the quasi-random screening.

    Returns:
        ``(min_lcb, argmin)`` with ``argmin`` a ``d``-vector.
    """
    from botorch.acquisition import UpperConfidenceBound

    from ray_autoterm.optim import maximize

    acqf = UpperConfidenceBound(model, beta=beta, maximize=False)
    x, value = maximize(
        acqf, bounds, onehot_groups, candidates,
        num_restarts=num_restarts, raw_samples=raw_samples, seed=seed,
    )
    return -value, x


def regret_bound(
    model: Any,
    X_evaluated: np.ndarray,
    bounds: np.ndarray,
    beta: float,
    onehot_groups: Sequence[Sequence[int]] = (),
    extra_candidates: np.ndarray | None = None,
    *,
    num_restarts: int = 8,
    raw_samples: int = 256,
    seed: int = 0,
    stop_below: float | None = None,
) -> RegretBound:
    """The regret upper bound of Eq. 8 from a fitted GP::

        r̄_t = min_{γ ∈ G_t} ucb_t(γ) − min_{γ ∈ Γ} lcb_t(γ),   ucb/lcb = μ_t ± sqrt(β_t)·σ_t

    The LCB is first screened (:func:`screen_lcb`: quasi-random points and the candidates, one
    posterior call). Screening can only overestimate ``min lcb``, so it can only underestimate
    ``r̄_t``: if the screened bound is already at least ``stop_below`` (the statistical error
    ``ε``), then ``r̄_t >= ε`` and Eq. 10 does not stop, whatever the exact minimum is. Only
    then is the gradient minimisation skipped (``exact=False`` in the result); otherwise, or
    with ``stop_below=None``, the LCB is minimised (:func:`minimize_lcb`) and the smaller of
    the two minima is used.

    Args:
        model: A fitted single-outcome BoTorch model of the losses (posterior in metric units).
        X_evaluated: ``n x d`` evaluated points ``G_t`` that the model was fitted on.
        bounds: ``2 x d`` bounds of ``Γ`` in the encoded space.
        beta: ``β_t`` (see :func:`regret_bound_beta`).
        onehot_groups: Column indices of each categorical's one-hot block.
        extra_candidates: ``m x d`` further starting points for the LCB minimisation
            (e.g. the previous decision's minimiser).
        num_restarts: Gradient restarts of the LCB minimisation.
        raw_samples: Quasi-random points screened for the restarts.
        seed: Seeds the screening.
        stop_below: The threshold the bound is compared with; ``None`` always minimises.

    Returns:
        A :class:`RegretBound`. Since the evaluated points are candidates of the LCB
        minimisation, ``min_lcb <= min over G_t of lcb``, hence ``bound >= 0`` up to the GP's
        numerics.

    Example:
        >>> import numpy as np
        >>> from ray_autoterm.gp import fit_gp
        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((20, 2)); y = ((X - 0.3) ** 2).sum(1) + 0.01 * rng.standard_normal(20)
        >>> rb = regret_bound(fit_gp(X, y), X, np.array([[0., 0.], [1., 1.]]), beta=2.0)
        >>> rb.bound > 0
        True
    """
    X_eval = torch.as_tensor(np.atleast_2d(X_evaluated), dtype=DTYPE)
    _, ucb_eval = confidence_bounds(model, X_eval, beta)
    min_ucb = float(ucb_eval.min())
    candidates = X_eval.numpy()
    if extra_candidates is not None and len(extra_candidates):
        candidates = np.vstack([candidates, np.atleast_2d(extra_candidates)])
    screened, screened_x = screen_lcb(
        model, bounds, beta, onehot_groups, candidates, raw_samples=raw_samples, seed=seed
    )
    if stop_below is not None and min_ucb - screened >= stop_below:
        return RegretBound(beta, min_ucb, screened, screened_x, exact=False)
    min_lcb, argmin = minimize_lcb(
        model, bounds, beta, onehot_groups, candidates,
        num_restarts=num_restarts, raw_samples=raw_samples, seed=seed,
    )
    if screened < min_lcb:
        min_lcb, argmin = screened, screened_x
    return RegretBound(beta=beta, min_ucb=min_ucb, min_lcb=min_lcb, argmin_lcb=argmin)
