"""Stopping rules beyond the paper's: other statistical errors and published successors.

Each function is one formula, stated in its docstring; :class:`~ray_autoterm.criterion.
AutoTermCriterion` combines them by ``rule=`` (see :data:`RULES`). All losses are for
minimisation; fold values enter only through differences and spreads, so their sign does not
matter for the errors.

Errors (what the regret bound is compared with):

* ``"cv"``: the incumbent's own Eq. 9 error (the paper's);
* ``"paired"``: the error of telling the incumbent apart from its closest rivals, from the
  fold-wise differences (:func:`paired_error`);
* ``"pooled"``: Eq. 9 pooled over the best few configurations (:func:`pooled_error`).

Tests (what decides):

* ``"bound"``: Eq. 10, ``r̄_t < ε`` (the paper's);
* ``"prb"``: Wilson (2024), stop when ``P(f(γ*_t) − min f <= ε) >= 1 − δ`` under the GP posterior
  (:func:`regret_samples`, :func:`regret_probability`); ``"prb-3"`` requires it at 3 consecutive
  decisions (the candidate default of ``benchmarks/results/precise/study-rules.md``);
* ``"emsr-gap"``: Ishibashi et al. (AISTATS 2023), stop when the bound on the change of the
  expected minimum simple regret between consecutive steps falls below its own threshold
  (:func:`emsr_gap`, :func:`emsr_gap_threshold`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ray_autoterm.criterion.cv_error import cv_statistical_error, validate_fold_losses
from ray_autoterm.errors import invalid

DTYPE = torch.float64


@dataclasses.dataclass(frozen=True)
class Rule:
    """A named stopping rule: which test, which error, which GP noise, how many decisions.

    Attributes:
        test: ``"bound"`` (Eq. 10), ``"prb"`` (Wilson 2024) or ``"emsr-gap"`` (Ishibashi 2023).
        error: ``"cv"`` (Eq. 9 of the incumbent), ``"paired"`` or ``"pooled"``.
        noise: ``"learned"`` (one homoscedastic noise term) or ``"cv"`` (each trial's Eq. 9
            variance as its known noise).
        consecutive: The test must hold at this many consecutive decisions.
        prb_delta: ``"prb"``: stop once ``P(regret <= ε) >= 1 − prb_delta``.
        description: One line for the decision's reason and the README.
    """

    test: str = "bound"
    error: str = "cv"
    noise: str = "learned"
    consecutive: int = 1
    prb_delta: float = 0.05
    description: str = ""


RULES: dict[str, Rule] = {
    "paper": Rule(description="Eq. 10: regret bound < the incumbent's CV error (Eq. 9)"),
    "paired": Rule(error="paired", description="regret bound < the paired error of the "
                   "incumbent against its closest rivals"),
    "pooled": Rule(error="pooled", description="regret bound < the CV error pooled over the "
                   "best configurations"),
    "cv-noise": Rule(noise="cv", description="regret bound of a GP with each trial's CV "
                     "variance as known noise < the incumbent's CV error"),
    "prb": Rule(test="prb", description="probabilistic regret bound (Wilson 2024): "
                "P(regret <= CV error) >= 1 - δ under the GP"),
    "prb-3": Rule(test="prb", consecutive=3, description="probabilistic regret bound "
                  "(Wilson 2024, δ 0.05) against the incumbent's CV error, at 3 consecutive "
                  "decisions"),
    "emsr-gap": Rule(test="emsr-gap", description="gap of expected minimum simple regrets "
                     "(Ishibashi et al. 2023) below its automatic threshold"),
}
"""The rules ``AutoTermCriterion(rule=...)`` accepts, by name."""

TESTS = ("bound", "prb", "emsr-gap")
ERRORS = ("cv", "paired", "pooled")
NOISES = ("learned", "cv")


# ----------------------------------------------------------------------------- errors
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
    return float({"median": np.median, "min": np.min, "mean": np.mean}[combine](errs))


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


# ----------------------------------------------------------------------------- Wilson 2024
def regret_samples(
    model: Any,
    x_incumbent: np.ndarray,
    candidates: np.ndarray,
    num_samples: int = 128,
    seed: int = 0,
) -> np.ndarray:
    """Posterior samples of the incumbent's simple regret over a finite candidate set.

    Draws ``S`` joint samples ``f^(s)`` of the latent function at the incumbent and the
    candidates (BoTorch's posterior with a seeded ``SobolQMCNormalSampler``) and returns::

        r^(s) = f^(s)(γ*) − min( f^(s)(γ*), min_{x ∈ C} f^(s)(x) )   (>= 0)

    ``C`` is finite, so ``min_C f`` is above the minimum over the space and ``r`` is a lower
    estimate of the regret (Wilson minimises each sample path instead; include the evaluated
    points and the LCB's minimiser in ``C``).

    Args:
        model: A fitted single-outcome BoTorch model of the losses.
        x_incumbent: ``d``-vector, the incumbent (encoded).
        candidates: ``m x d`` candidate points.
        num_samples: ``S``.
        seed: Seeds the sampler.

    Returns:
        ``S`` regret samples, in the metric's units.
    """
    from botorch.sampling import SobolQMCNormalSampler

    pts = torch.as_tensor(np.vstack([np.atleast_2d(x_incumbent), np.atleast_2d(candidates)]),
                          dtype=DTYPE)
    with torch.no_grad():
        posterior = model.posterior(pts)  # joint over the 1 + m points
        sampler = SobolQMCNormalSampler(sample_shape=torch.Size([num_samples]), seed=seed)
        f = sampler(posterior).squeeze(-1)  # S x (1 + m)
    return (f[:, 0] - f.min(dim=-1).values).numpy()


def regret_probability(samples: np.ndarray, epsilon: float) -> float:
    """``P(r <= ε)`` estimated from regret samples: the share of samples with ``r^(s) <= ε``.

    Wilson (2024)'s rule stops once this is ``>= 1 − δ``.

    Example:
        >>> regret_probability(np.array([0.0, 0.1, 0.2, 0.3]), 0.15)
        0.5
    """
    samples = np.asarray(samples, dtype=np.float64)
    return float(np.mean(samples <= epsilon))


def regret_quantile(samples: np.ndarray, level: float) -> float:
    """The smallest ``q`` with ``P̂(r <= q) >= level`` (empirical, no interpolation).

    ``regret_probability(samples, ε) >= level`` holds exactly when ``q <= ε``.

    Example:
        >>> regret_quantile(np.array([0.0, 0.1, 0.2, 0.3]), 0.75)
        0.2
    """
    s = np.sort(np.asarray(samples, dtype=np.float64))
    i = max(0, math.ceil(level * s.size - 1e-12) - 1)
    return float(s[min(i, s.size - 1)])


# ----------------------------------------------------------------------------- Ishibashi 2023
def kl_one_observation(mean: float, var: float, y: float, noise_var: float) -> float:
    """KL divergence from the GP posterior before one observation to the one after it.

    Adding ``y`` at ``x`` (prior predictive ``f(x) ~ N(m, s²)``, noise ``σ²``) changes the
    posterior only along ``f(x)``, so the KL of the whole posteriors is the one-dimensional::

        KL = ½ [ log(1 + s²/σ²) − s²/(s² + σ²) + s²·(y − m)²/(s² + σ²)² ]

    Example:
        >>> round(kl_one_observation(0.0, 1.0, 0.0, 1.0), 6)
        0.096574
    """
    s2, n2 = max(float(var), 0.0), max(float(noise_var), 1e-300)
    return 0.5 * (math.log1p(s2 / n2) - s2 / (s2 + n2) + s2 * (y - mean) ** 2 / (s2 + n2) ** 2)


def expected_improvement_gap(g: float, var_diff: float) -> float:
    """``E[max(0, Z)]`` for ``Z ~ N(g, v)``: ``sqrt(v)·φ(g/sqrt(v)) + g·Φ(g/sqrt(v))``.

    In the gap rule, ``Z = f(γ*_t) − f(γ*_{t−1})`` under the newer posterior (0 when the
    incumbent did not change); ``v <= 0`` gives ``max(0, g)``.

    Example:
        >>> round(expected_improvement_gap(0.0, 1.0), 6)
        0.398942
    """
    if var_diff <= 0:
        return max(0.0, g)
    sd = math.sqrt(var_diff)
    u = g / sd
    pdf = math.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)
    cdf = 0.5 * math.erfc(-u / math.sqrt(2))
    return sd * pdf + g * cdf


def emsr_gap(delta_mean: float, ei_gap: float, kappa: float, kl: float) -> float:
    """Ishibashi et al.'s upper bound on the gap of expected minimum simple regrets::

        Δ_t = |μ_{t−1}(γ*_{t−1}) − μ_t(γ*_t)| + E[max(0, f(γ*_t) − f(γ*_{t−1}))]
              + κ_{t−1} · sqrt(KL(p_t ‖ p_{t−1}) / 2)

    with ``κ_{t−1}`` the regret bound of Eq. 8 under the previous posterior (Srinivas's β,
    not divided by 5) and KL from :func:`kl_one_observation`.

    Example:
        >>> round(emsr_gap(0.1, 0.0, 2.0, 0.08), 6)
        0.5
    """
    return abs(delta_mean) + ei_gap + kappa * math.sqrt(max(kl, 0.0) / 2.0)


def emsr_gap_threshold(
    var_incumbent: float, var_new: float, noise_var: float, kappa: float, delta: float = 0.1
) -> float:
    """The gap rule's automatic threshold (Ishibashi et al. 2023)::

        c = sqrt(−2·log δ)
        θ_t = c · σ · sqrt(s_new²) · (sqrt(s_inc²) + κ_{t−1}/2) / (s_new² + σ²)

    with ``s_inc²``, ``s_new²`` the previous posterior's variances at the new incumbent and at
    the newly evaluated point, and ``σ²`` the noise variance. Stop once ``Δ_t <= θ_t``.

    Example:
        >>> round(emsr_gap_threshold(1.0, 1.0, 1.0, 2.0, delta=math.exp(-0.5)), 6)
        1.0
    """
    c = math.sqrt(-2.0 * math.log(delta))
    s_inc, s_new = math.sqrt(max(var_incumbent, 0.0)), math.sqrt(max(var_new, 0.0))
    sigma = math.sqrt(max(noise_var, 0.0))
    return c * sigma * s_new * (s_inc + kappa / 2.0) / (s_new**2 + sigma**2)


def consecutive_count(history: dict[int, bool], n: int, holds: bool) -> int:
    """Record ``holds`` for the decision at ``n`` trials; return the current run of holds.

    ``history`` maps a decision's trial count to whether the test held (a decision repeated
    at the same ``n`` replaces the earlier one). The run counts the decisions at the largest
    trial counts, back from ``n``, that all held.

    Example:
        >>> h = {}
        >>> [consecutive_count(h, n, ok) for n, ok in [(20, True), (21, True), (22, False)]]
        [1, 2, 0]
    """
    history[n] = holds
    run = 0
    for m in sorted((m for m in history if m <= n), reverse=True):
        if not history[m]:
            break
        run += 1
    return run


__all__ = [
    "ERRORS",
    "NOISES",
    "RULES",
    "TESTS",
    "Rule",
    "consecutive_count",
    "emsr_gap",
    "emsr_gap_threshold",
    "expected_improvement_gap",
    "kl_one_observation",
    "paired_error",
    "pooled_error",
    "regret_probability",
    "regret_quantile",
    "regret_samples",
]
