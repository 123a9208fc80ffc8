"""Wilson (2024)'s probabilistic regret bound: the regret sampled from the GP posterior."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ray_autoterm._validation import check_open_unit, check_positive_int
from ray_autoterm.criterion.bound import check_fit_subset, check_seed
from ray_autoterm.criterion.improvement import GPImprovementEvaluator, Improvement, Observations
from ray_autoterm.criterion.regret import sobol_points, top_subset

if TYPE_CHECKING:
    from ray_autoterm.gp import GPFitter

DTYPE = torch.float64


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
    points in ``C``).

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


class ProbabilisticRegretEvaluator(GPImprovementEvaluator):
    """Samples of the incumbent's regret under the bound's GP (Wilson 2024).

    The GP is fitted as :class:`~ray_autoterm.criterion.bound.RegretBoundEvaluator`'s (the best
    ``max(min_fit, ⌊fit_fraction · n⌋)`` trials); :func:`regret_samples` draws the regret over
    the fitted points and ``raw_samples`` Sobol points. The value is the ``1 − δ`` quantile
    of the samples (:func:`regret_quantile`); the samples and ``1 − δ`` go with it, for
    :class:`~ray_autoterm.criterion.stopping_tests.RegretProbablyBelowError` (stop once
    ``P(regret <= ε) >= 1 − δ``).

    Args:
        delta: ``δ``: the test asks for probability ``1 − δ``.
        num_samples: Posterior samples (seeded quasi-random), at least 8.
        min_fit: The GP is fitted on at least this many of the best trials ...
        fit_fraction: ... and on this fraction of them beyond that.
        raw_samples: Sobol candidate points.
        seed: Seeds the candidates and the sampler.
        noise: ``"learned"`` or ``"cv"`` (each trial's Eq. 9 variance as known noise).
        val_train_ratio: ``n_val/n_train`` for the ``"cv"`` noise.
        fitter: The GP fitter (a new one by default).

    Example:
        >>> import numpy as np
        >>> from ray_autoterm.history import TrialRecord
        >>> from ray_autoterm.space import NumericParam, SearchSpace
        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((20, 1)); y = (X[:, 0] - 0.3) ** 2
        >>> obs = Observations([TrialRecord(str(i), {}, [v, v]) for i, v in enumerate(y)], X, y,
        ...                    SearchSpace([NumericParam(("x",), 0.0, 1.0)]))
        >>> found = ProbabilisticRegretEvaluator().evaluate(obs, float("inf"))
        >>> found.level, found.samples.shape
        (0.95, (128,))
    """

    failure = "regret sampling"

    def __init__(
        self,
        *,
        delta: float = 0.05,
        num_samples: int = 128,
        min_fit: int = 20,
        fit_fraction: float = 0.5,
        raw_samples: int = 256,
        seed: int = 0,
        noise: str = "learned",
        val_train_ratio: float | None = None,
        fitter: GPFitter | None = None,
    ) -> None:
        self.delta = check_open_unit("delta", delta)
        self.num_samples = check_positive_int("num_samples", num_samples, minimum=8)
        self.min_fit, self.fit_fraction = check_fit_subset(min_fit, fit_fraction)
        self.raw_samples = check_positive_int("raw_samples", raw_samples)
        self.seed = check_seed(seed)
        super().__init__(noise, val_train_ratio, fitter)

    def evaluate(self, observations: Observations, threshold: float) -> Improvement:
        losses, X, space = observations.losses, observations.X, observations.space
        yvar_all = self.noise_variances(observations.records)
        idx = top_subset(losses, self.min_fit, self.fit_fraction, X)
        X_fit, y_fit = X[idx], losses[idx]
        yvar = None if yvar_all is None else yvar_all[idx]
        model = self.fit(X_fit, y_fit, "bound", yvar)
        cands = [X_fit, sobol_points(space.bounds, space.onehot_groups, self.raw_samples,
                                     self.seed).numpy()]
        x_inc = X_fit[int(np.argmin(y_fit))]
        samples = regret_samples(model, x_inc, np.vstack(cands), self.num_samples, self.seed)
        level = 1.0 - self.delta
        q = regret_quantile(samples, level)
        return Improvement(q, dict(num_fit=len(y_fit), regret_bound=q), label="the regret",
                           samples=samples, level=level)


__all__ = [
    "ProbabilisticRegretEvaluator",
    "regret_probability",
    "regret_quantile",
    "regret_samples",
]
