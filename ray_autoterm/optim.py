"""Maximising an acquisition function over a search space (continuous + one-hot categoricals).

One routine serves both the regret bound (maximising ``−LCB``) and the searcher (maximising
``qLogNEI``): BoTorch's multi-start L-BFGS-B with the restarts optimised as one batch, started
from the best of ``raw_samples`` scrambled-Sobol points *and* of caller-given candidates (the
evaluated points, the previous decision's minimiser), picked by BoTorch's Boltzmann rule.

Categorical parameters are one-hot column groups (see :mod:`ray_autoterm.space`):

* up to ``max_combinations`` category combinations, every combination is optimised with its
  one-hot columns fixed (``optimize_acqf_mixed``): the optimum over the discrete choices is
  exact;
* beyond that, the one-hot columns are relaxed to ``[0, 1]`` and optimised jointly with the rest.
  The relaxed domain contains every valid point, so for the regret bound the minimum LCB found
  can only be lower (the bound larger, the stop later): conservative. Proposals are rounded to a
  valid category on decoding.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

DTYPE = torch.float64
MAX_COMBINATIONS = 32


def maximize(
    acqf: Any,
    bounds: np.ndarray,
    onehot_groups: Sequence[Sequence[int]] = (),
    candidates: np.ndarray | None = None,
    *,
    num_restarts: int = 8,
    raw_samples: int = 256,
    seed: int = 0,
    max_combinations: int = MAX_COMBINATIONS,
) -> tuple[np.ndarray, float]:
    """Maximise a single-point acquisition function over the encoded space.

    Args:
        acqf: A BoTorch acquisition function taking ``batch x 1 x d`` inputs.
        bounds: ``2 x d`` bounds.
        onehot_groups: Column indices of each categorical parameter's one-hot block.
        candidates: ``m x d`` valid points that start restarts and take part in the maximum.
        num_restarts: Gradient restarts (per category combination when enumerating).
        raw_samples: Quasi-random points screened for the restarts.
        seed: Seeds the quasi-random screening.
        max_combinations: Enumerate category combinations up to this many.

    Returns:
        ``(x, value)``: the maximiser (a ``d``-vector) and the acquisition value there. The
        value is never below the best candidate's.

    Example:
        >>> import numpy as np
        >>> from botorch.acquisition import PosteriorMean
        >>> from ray_autoterm.gp import fit_gp
        >>> X = np.random.default_rng(0).random((10, 1)); y = -((X[:, 0] - 0.3) ** 2)
        >>> x, v = maximize(PosteriorMean(fit_gp(X, y)), np.array([[0.0], [1.0]]))
        >>> bool(abs(x[0] - 0.3) < 0.1)
        True
    """
    from botorch.optim import optimize_acqf, optimize_acqf_mixed
    from botorch.optim.initializers import initialize_q_batch
    from botorch.utils.sampling import draw_sobol_samples, manual_seed

    b = torch.as_tensor(bounds, dtype=DTYPE)
    d = b.shape[-1]
    cand = torch.zeros(0, d, dtype=DTYPE) if candidates is None else torch.as_tensor(
        np.atleast_2d(candidates), dtype=DTYPE).reshape(-1, d)
    best_x, best_val = None, -float("inf")
    if len(cand):
        with torch.no_grad():
            vals = acqf(cand.unsqueeze(-2))
        i = int(vals.argmax())
        best_x, best_val = cand[i].clone(), float(vals[i])

    combos = _combinations(onehot_groups, max_combinations)
    onehot_cols = {c for g in onehot_groups for c in g}
    free_dims = [j for j in range(d) if j not in onehot_cols or combos is None]
    options: dict[str, bool | float | int | str] = {"maxiter": 200}
    with manual_seed(seed):
        if combos is not None and not free_dims:
            # Every dimension is categorical: score all combinations directly.
            X = torch.stack([_fixed_point(c, d) for c in combos]).to(DTYPE)
            with torch.no_grad():
                vals = acqf(X.unsqueeze(-2))
            i = int(vals.argmax())
            x, val = X[i], float(vals[i])
        elif combos is not None and len(combos) > 1:
            x_mixed, val_mixed = optimize_acqf_mixed(
                acqf, bounds=b, q=1, num_restarts=num_restarts, raw_samples=raw_samples,
                fixed_features_list=combos, retry_on_optimization_warning=False, options=options,
            )
            assert val_mixed is not None  # return_acq_values defaults to True
            x, val = x_mixed.reshape(-1), float(val_mixed.reshape(-1)[0])
        else:
            fixed = combos[0] if combos else None
            raw = draw_sobol_samples(bounds=b, n=raw_samples, q=1, seed=seed).to(DTYPE)
            if fixed:
                for j, v in fixed.items():
                    raw[..., j] = v
            pool = torch.cat([raw, cand.unsqueeze(-2)]) if len(cand) else raw
            with torch.no_grad():
                pool_vals = acqf(pool)
            ics, _ = initialize_q_batch(pool, pool_vals, n=min(num_restarts, len(pool)))
            if best_x is not None and fixed is None:
                ics[0] = best_x  # the best candidate always gets a restart
            x_opt, vals_opt = optimize_acqf(
                acqf, bounds=b, q=1, num_restarts=len(ics), batch_initial_conditions=ics,
                fixed_features=fixed, retry_on_optimization_warning=False, options=options,
            )
            assert vals_opt is not None  # return_acq_values defaults to True
            x, val = x_opt.reshape(-1), float(vals_opt.reshape(-1)[0])
    if best_x is not None and best_val > val:
        x, val = best_x, best_val
    return x.detach().numpy().copy(), val


def _combinations(
    groups: Sequence[Sequence[int]], limit: int
) -> list[dict[int, float]] | None:
    """All category combinations as fixed-feature dicts; ``None`` if there are too many."""
    if not groups:
        return []
    total = int(np.prod([len(g) for g in groups]))
    if total > limit:
        return None
    combos = []
    for choice in itertools.product(*groups):
        fixed = {c: 0.0 for g in groups for c in g}
        fixed.update({c: 1.0 for c in choice})
        combos.append(fixed)
    return combos


def _fixed_point(fixed: dict[int, float], d: int) -> torch.Tensor:
    x = torch.zeros(d, dtype=DTYPE)
    for j, v in fixed.items():
        x[j] = v
    return x
