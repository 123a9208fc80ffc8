"""Ishibashi et al. (AISTATS 2023): the gap of expected minimum simple regrets, its threshold."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from ray_autoterm._validation import check_open_unit, check_positive_int
from ray_autoterm.criterion.bound import check_seed
from ray_autoterm.criterion.improvement import (
    MIN_POINTS,
    GPImprovementEvaluator,
    Improvement,
    Observations,
)
from ray_autoterm.criterion.regret import regret_bound, regret_bound_beta

if TYPE_CHECKING:
    from ray_autoterm.gp import GPFitter


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


class EMSRGapEvaluator(GPImprovementEvaluator):
    """The gap ``Δ_t`` of expected minimum simple regrets between the last two steps.

    The two steps are all trials and all but the most recently completed one; both GPs are
    fitted on all their trials, and ``κ_{t−1}`` (:func:`emsr_gap`) is the LCB's minimum over
    the evaluated and ``raw_samples`` quasi-random points (Ishibashi et al.'s candidate set),
    with ``β`` of Srinivas et al. (``δ`` = ``delta``, not divided by 5). The improvement
    carries its own threshold ``θ_t`` (:func:`emsr_gap_threshold`) for
    :class:`~ray_autoterm.criterion.stopping_tests.GapBelowThreshold`, and records
    ``regret_bound = Δ_t``, ``statistical_error = θ_t``.

    Args:
        delta: ``δ`` of ``κ``'s ``β``.
        gap_delta: ``δ`` of the threshold ``θ_t``.
        raw_samples: Sobol points of ``κ``'s candidate set.
        seed: Seeds them.
        noise: ``"learned"`` or ``"cv"`` (each trial's Eq. 9 variance as known noise).
        val_train_ratio: ``n_val/n_train`` for the ``"cv"`` noise.
        fitter: The GP fitter (a new one by default).
    """

    failure = "regret gap"

    def __init__(
        self,
        *,
        delta: float = 0.1,
        gap_delta: float = 0.1,
        raw_samples: int = 256,
        seed: int = 0,
        noise: str = "learned",
        val_train_ratio: float | None = None,
        fitter: GPFitter | None = None,
    ) -> None:
        self.delta = check_open_unit("delta", delta)
        self.gap_delta = check_open_unit("gap_delta", gap_delta)
        self.raw_samples = check_positive_int("raw_samples", raw_samples)
        self.seed = check_seed(seed)
        super().__init__(noise, val_train_ratio, fitter)

    def evaluate(self, observations: Observations, threshold: float) -> Improvement | None:
        recs, losses, X = observations.records, observations.losses, observations.X
        space = observations.space
        yvar = self.noise_variances(recs)
        new = max(range(len(recs)), key=lambda i: recs[i].order)
        prev = np.array([i for i in range(len(recs)) if i != new])
        if len(prev) < MIN_POINTS:
            return None
        X_prev, y_prev = X[prev], losses[prev]
        inc_new = int(np.argmin(losses))
        inc_old = int(prev[int(np.argmin(y_prev))])
        m_new = self.fit(X, losses, "gap", yvar)
        m_old = self.fit(X_prev, y_prev, "gap", None if yvar is None else yvar[prev])
        kappa_beta = regret_bound_beta(len(space.params), len(losses), self.delta, 1.0)
        # κ as Ishibashi et al. compute it: the LCB's minimum over a finite candidate set
        # (the evaluated points and ``raw_samples`` Sobol points), no gradient steps.
        rb = regret_bound(m_old, X_prev, space.bounds, kappa_beta, space.onehot_groups,
                          raw_samples=self.raw_samples, seed=self.seed, stop_below=-math.inf)
        kappa = max(rb.bound, 0.0)
        pts = torch.as_tensor(np.stack([X[inc_new], X[inc_old], X[new]]), dtype=torch.float64)
        with torch.no_grad():
            post_new = m_new.posterior(pts[:2])
            mu_n, cov_n = post_new.mean.reshape(-1), post_new.covariance_matrix
            post_old = m_old.posterior(pts)
            mu_o, cov_o = post_old.mean.reshape(-1), post_old.covariance_matrix
            if yvar is not None:
                noise_var = float(max(yvar[new], 1e-12))
            else:
                lat = m_new.posterior(pts[2:]).variance.reshape(-1)
                obs = m_new.posterior(pts[2:], observation_noise=True).variance.reshape(-1)
                noise_var = float((obs - lat).clamp_min(1e-12))
        delta_mean = float(mu_o[1] - mu_n[0])  # μ_{t−1}(γ*_{t−1}) − μ_t(γ*_t)
        if inc_new == inc_old:
            ei = 0.0
        else:
            g = float(mu_n[0] - mu_n[1])
            v = float(cov_n[0, 0] + cov_n[1, 1] - 2 * cov_n[0, 1])
            ei = expected_improvement_gap(g, v)
        kl = kl_one_observation(float(mu_o[2]), float(cov_o[2, 2]), float(losses[new]), noise_var)
        gap = emsr_gap(delta_mean, ei, kappa, kl)
        theta = emsr_gap_threshold(float(cov_o[0, 0]), float(cov_o[2, 2]), noise_var, kappa,
                                   self.gap_delta)
        fields = dict(num_fit=len(losses), beta=kappa_beta, regret_bound=gap,
                      statistical_error=theta, error_source="emsr-gap threshold")
        return Improvement(gap, fields, label="the gap of expected minimum simple regrets",
                           note=f"(κ {kappa:.4g}, KL {kl:.3g})", threshold=theta)


__all__ = [
    "EMSRGapEvaluator",
    "emsr_gap",
    "emsr_gap_threshold",
    "expected_improvement_gap",
    "kl_one_observation",
]
