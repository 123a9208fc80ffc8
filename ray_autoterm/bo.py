"""Bayesian-optimisation proposals (Ray-free): quasi-random design, then noisy EI.

Used by :class:`ray_autoterm.AutoTermSearcher`; usable alone for a plain Python BO loop.
"""

from __future__ import annotations

import numpy as np
import torch

from ray_autoterm.gp import DTYPE, GPFitter, single_threaded_torch
from ray_autoterm.space import SearchSpace


def initial_design(space: SearchSpace, index: int, seed: int = 0, size: int = 1024) -> np.ndarray:
    """The ``index``-th point of a fixed scrambled-Sobol design (encoded space)."""
    pts = space.sobol(size, seed=seed)
    return pts[index % size]


def propose(
    space: SearchSpace,
    X_obs: np.ndarray,
    y_obs: np.ndarray,
    X_pending: np.ndarray | None = None,
    *,
    fitter: GPFitter | None = None,
    num_initial: int = 10,
    seed: int = 0,
    num_restarts: int = 8,
    raw_samples: int = 256,
    design_index: int | None = None,
) -> np.ndarray:
    """Next point to evaluate, in the encoded space (``d``-vector).

    The first ``num_initial`` points (observed plus pending) come from a scrambled-Sobol design.
    After that a GP is fitted to the losses ``y_obs`` (all of them) and ``qLogNoisyExpected
    Improvement`` is maximised with the pending points as ``X_pending``, so that concurrent
    trials do not all get the same proposal. The acquisition minimises the losses through a
    negating posterior transform: the GP is fitted to the losses themselves, so a
    :class:`~ray_autoterm.gp.GPFitter` shared with the stopper reuses one fit when both ask for
    the same data.

    Args:
        space: The search space.
        X_obs: ``n x d`` encoded evaluated points.
        y_obs: ``n`` losses.
        X_pending: ``m x d`` points being evaluated now.
        fitter: Fits (and caches) the GP.
        num_initial: Size of the quasi-random initial design.
        seed: Seeds the design and the acquisition's optimisation.
        num_restarts: Restarts of the acquisition optimisation.
        raw_samples: Quasi-random points screened for the restarts.
        design_index: Position in the initial design; default: observed plus pending points.
            A searcher passes its count of suggestions, so that trials that failed (and are
            not observations) do not make it propose the same design point again.

    Returns:
        The proposal, a ``d``-vector.

    Example:
        >>> import numpy as np
        >>> from ray_autoterm.space import NumericParam, SearchSpace
        >>> space = SearchSpace([NumericParam(("x",), 0.0, 1.0)])
        >>> x = propose(space, np.zeros((0, 1)), np.zeros(0))
        >>> x.shape
        (1,)
    """
    X_obs = np.asarray(X_obs, dtype=np.float64).reshape(-1, space.dim)
    y_obs = np.asarray(y_obs, dtype=np.float64).reshape(-1)
    pending = (np.zeros((0, space.dim)) if X_pending is None
               else np.asarray(X_pending).reshape(-1, space.dim))
    n_seen = len(X_obs) + len(pending) if design_index is None else design_index
    if len(X_obs) < max(2, num_initial) or space.dim == 0:
        return initial_design(space, n_seen, seed)
    fitter = fitter if fitter is not None else GPFitter()
    with single_threaded_torch():
        return _propose_ei(space, X_obs, y_obs, pending, fitter, n_seen, seed, num_restarts,
                           raw_samples)


def _propose_ei(
    space: SearchSpace, X_obs: np.ndarray, y_obs: np.ndarray, pending: np.ndarray,
    fitter: GPFitter, n_seen: int, seed: int, num_restarts: int, raw_samples: int,
) -> np.ndarray:
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.acquisition.objective import ScalarizedPosteriorTransform
    from botorch.utils.sampling import manual_seed

    from ray_autoterm.optim import maximize

    model = fitter.fit(X_obs, y_obs, role="search")
    neg = ScalarizedPosteriorTransform(weights=torch.tensor([-1.0], dtype=DTYPE))
    with manual_seed(seed + n_seen):
        acqf = qLogNoisyExpectedImprovement(
            model, X_baseline=torch.as_tensor(X_obs, dtype=DTYPE), posterior_transform=neg,
            X_pending=torch.as_tensor(pending, dtype=DTYPE) if len(pending) else None,
            prune_baseline=True,
        )
    x, _ = maximize(
        acqf, space.bounds, space.onehot_groups, None,
        num_restarts=num_restarts, raw_samples=raw_samples, seed=seed + n_seen,
    )
    return x
