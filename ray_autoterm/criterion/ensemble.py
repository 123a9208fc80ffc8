"""The regret bound of Eq. 8 over several GP kernels: an envelope or a model average.

One GP per kernel ``k`` (Matérn-5/2, Matérn-3/2, RBF by default; :data:`ray_autoterm.gp.KERNELS`)
is fitted on the same best trials, and each gives its own Eq. 8 bound with the same ``β_t``::

    r̄_t^(k) = min_{γ ∈ G_t} ucb_t^(k)(γ) − min_{γ ∈ Γ} lcb_t^(k)(γ),
    ucb^(k)/lcb^(k) = μ_t^(k) ± sqrt(β_t)·σ_t^(k)

They are combined in one of two ways (:func:`combine_bounds`):

* ``"max"``, the envelope: ``r̄_t = max_k r̄_t^(k)``. The search can still improve if any
  plausible GP says so; the rule stops only when every kernel's bound is below ``ε``.
* ``"bma"``, Bayesian model averaging over the kernel choice::

      w_k = exp(L_k) / Σ_j exp(L_j),   L_k = log p(y | θ̂_k, kernel_k),   r̄_t = Σ_k w_k r̄_t^(k)

  with ``L_k`` the exact marginal log likelihood of member ``k`` on the fitted trials (in total,
  not per point), at its fitted hyperparameters ``θ̂_k``. This is the posterior mean of the
  bound over the kernel choice (uniform prior over the kernels) with the hyperparameters
  point-estimated (type-II maximum likelihood; BoTorch's fit is a MAP estimate under the
  lengthscale prior, and ``L_k`` leaves that prior out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ray_autoterm.criterion.bound import RegretBoundEvaluator
from ray_autoterm.criterion.improvement import Improvement, Observations
from ray_autoterm.criterion.regret import RegretBound, regret_bound, regret_bound_beta, top_subset
from ray_autoterm.errors import invalid
from ray_autoterm.gp import KERNELS, check_kernel

COMBINES = ("max", "bma")
"""How :class:`KernelEnsembleRegretBoundEvaluator` combines its members' bounds."""


def bma_weights(log_evidences: Sequence[float] | np.ndarray) -> np.ndarray:
    """``w_k = exp(L_k) / Σ_j exp(L_j)`` (a softmax, computed stably).

    Example:
        >>> bma_weights([0.0, math.log(3.0)]).round(6).tolist()
        [0.25, 0.75]
    """
    L = np.asarray(log_evidences, dtype=np.float64).reshape(-1)
    if L.size == 0 or not np.all(np.isfinite(L)):
        raise invalid("log_evidences", L.tolist(), "one or more finite numbers")
    w = np.exp(L - L.max())
    return w / w.sum()


def combine_bounds(
    bounds: Sequence[float] | np.ndarray,
    log_evidences: Sequence[float] | np.ndarray | None = None,
    how: str = "max",
) -> tuple[float, np.ndarray]:
    """Combine the members' bounds ``r̄^(k)``: their maximum, or their BMA mean.

    Args:
        bounds: ``K`` bounds ``r̄^(k)``, one per member.
        log_evidences: ``K`` marginal log likelihoods ``L_k`` (needed for ``"bma"``).
        how: ``"max"`` (``max_k r̄^(k)``) or ``"bma"`` (``Σ_k w_k r̄^(k)``, ``w`` from
            :func:`bma_weights`).

    Returns:
        ``(r̄, weights)``: the combined bound and the weights that give it as ``Σ_k w_k r̄^(k)``
        (for ``"max"``, 1 at the first largest bound and 0 elsewhere).

    Example:
        >>> value, w = combine_bounds([0.2, 0.1], [0.0, math.log(3.0)], "bma")
        >>> round(value, 6), w.round(6).tolist()  # 0.25·0.2 + 0.75·0.1
        (0.125, [0.25, 0.75])
        >>> combine_bounds([0.2, 0.1], how="max")[0]
        0.2
    """
    if how not in COMBINES:
        raise invalid("how", how, "one of " + ", ".join(f'"{c}"' for c in COMBINES))
    r = np.asarray(bounds, dtype=np.float64).reshape(-1)
    if r.size == 0 or np.any(np.isnan(r)):
        raise invalid("bounds", r.tolist(), "one or more numbers")
    if how == "max":
        w = np.zeros(r.size)
        w[int(np.argmax(r))] = 1.0
    else:
        if log_evidences is None or len(log_evidences) != r.size:
            raise invalid("log_evidences", log_evidences, f"{r.size} numbers, one per bound")
        w = bma_weights(log_evidences)
    return float(w @ r), w


def log_evidence(model: Any) -> float:
    """``log p(y | θ̂)``: the exact marginal log likelihood of a fitted GP on its own data.

    The Gaussian ``N(y; m, K + σ²I)`` of the prior at the (transformed) training inputs,
    in total over the ``n`` points, in the metric's units (the standardised targets' log density
    minus ``n·log(scale)`` of BoTorch's ``Standardize``); no hyperparameter prior term.
    """
    import torch

    with torch.no_grad():
        X = model.train_inputs[0]  # eval mode: already input-transformed
        prior = model.forward(X)
        marginal = model.likelihood(prior, X)
        value = float(marginal.log_prob(model.train_targets))
    stdvs = getattr(getattr(model, "outcome_transform", None), "stdvs", None)
    if stdvs is not None:
        value -= model.train_targets.shape[-1] * math.log(float(stdvs.reshape(-1)[0]))
    return value


class KernelEnsembleRegretBoundEvaluator(RegretBoundEvaluator):
    """Eq. 8's regret bound from one GP per kernel, combined by ``max`` or by BMA.

    The formulas are the module's (:mod:`~ray_autoterm.criterion.ensemble`):
    ``r̄_t = max_k r̄_t^(k)`` (``combine="max"``) or ``r̄_t = Σ_k w_k r̄_t^(k)`` with
    ``w_k ∝ exp(log p(y | θ̂_k, kernel_k))`` (``combine="bma"``). Every member is fitted on the
    same best trials as :class:`~ray_autoterm.criterion.bound.RegretBoundEvaluator`'s GP (the
    Matérn-5/2 member *is* that GP: the fitter's cache shares it) and uses the same ``β_t``;
    each keeps its own last bound (reused while its GP and ``β_t`` are unchanged) and its own
    LCB minimiser as the next warm start.

    Without ``exact``, all members' LCBs are first only screened: the screened bounds are lower
    estimates, so if their combination is already at or above the threshold, the combined bound
    is too and Eq. 10 does not stop (``exact=False`` in the result); otherwise every member's
    LCB is minimised. The decision records the combination in ``min_ucb``, ``min_lcb`` and
    ``regret_bound`` (``Σ_k w_k`` of each); its reason (in the label) names each member's bound
    and weight, and :attr:`members` keeps them (kernel, bound, log evidence, weight, exact).

    Args:
        kernels: The members' kernels, distinct names of :data:`ray_autoterm.gp.KERNELS`.
        combine: ``"max"`` (the envelope) or ``"bma"`` (the model average).
        **kwargs: :class:`~ray_autoterm.criterion.bound.RegretBoundEvaluator`'s.

    Raises:
        InvalidArgumentError: for an unknown or repeated kernel, or another ``combine``.

    Example:
        >>> import numpy as np
        >>> from ray_autoterm.history import TrialRecord
        >>> from ray_autoterm.space import NumericParam, SearchSpace
        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((20, 1)); y = (X[:, 0] - 0.3) ** 2
        >>> obs = Observations([TrialRecord(str(i), {}, [v, v]) for i, v in enumerate(y)], X, y,
        ...                    SearchSpace([NumericParam(("x",), 0.0, 1.0)]))
        >>> ev = KernelEnsembleRegretBoundEvaluator(combine="max", exact=True)
        >>> value = ev.evaluate(obs, float("inf")).value
        >>> value == max(m["bound"] for m in ev.members), [m["kernel"] for m in ev.members]
        (True, ['matern52', 'matern32', 'rbf'])
    """

    def __init__(self, *, kernels: Sequence[str] = KERNELS, combine: str = "max",
                 **kwargs: Any) -> None:
        if isinstance(kernels, str) or not isinstance(kernels, Sequence) or not kernels:
            raise invalid("kernels", kernels, "a non-empty sequence of kernel names")
        for k in kernels:
            check_kernel(k)
        if len(set(kernels)) != len(kernels):
            raise invalid("kernels", kernels, "distinct kernel names")
        if combine not in COMBINES:
            raise invalid("combine", combine, "one of " + ", ".join(f'"{c}"' for c in COMBINES))
        self.kernels = tuple(kernels)
        self.combine = combine
        super().__init__(**kwargs)
        self.members: list[dict[str, Any]] = []  # the last decision's members, plain data
        self._last_argmins: dict[str, np.ndarray] = {}
        self._last_bounds: dict[str, tuple[Any, float, RegretBound]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_last_bounds"] = {}  # torch models: a cache, not state
        return state

    def _member_bound(self, kernel: str, model: Any, X_fit: np.ndarray, space: Any,
                      beta: float, stop_below: float | None) -> RegretBound:
        """Member ``kernel``'s Eq. 8 bound (its last one when its GP and ``β`` are unchanged)."""
        last = self._last_bounds.get(kernel)
        if last is not None and last[0] is model and last[1] == beta and (
            last[2].exact or (stop_below is not None and last[2].bound >= stop_below)
        ):
            return last[2]
        extra = self._last_argmins.get(kernel)
        if extra is not None and extra.shape != (space.dim,):
            extra = None
        rb = regret_bound(
            model, X_fit, space.bounds, beta, space.onehot_groups, extra,
            num_restarts=self.num_restarts, raw_samples=self.raw_samples, seed=self.seed,
            stop_below=stop_below,
        )
        self._last_bounds[kernel] = (model, beta, rb)
        self._last_argmins[kernel] = rb.argmin_lcb
        return rb

    def evaluate(self, observations: Observations, threshold: float) -> Improvement:
        losses, X, space = observations.losses, observations.X, observations.space
        yvar_all = self.noise_variances(observations.records)
        idx = top_subset(losses, self.min_fit, self.fit_fraction, X)
        X_fit, y_fit = X[idx], losses[idx]
        yvar = None if yvar_all is None else yvar_all[idx]
        models = {k: self.fitter.fit(X_fit, y_fit, role="bound", yvar=yvar,
                                     input_warping=self.input_warping, kernel=k)
                  for k in self.kernels}
        beta = regret_bound_beta(len(space.params), len(idx), self.delta, self.beta_scale)
        evidences = [log_evidence(models[k]) for k in self.kernels]
        # Screen first (see the class docstring); minimise only where the combination could
        # fall below the threshold.
        rbs: list[RegretBound] = []
        if not self.exact:
            rbs = [self._member_bound(k, models[k], X_fit, space, beta, -math.inf)
                   for k in self.kernels]
            value, w = combine_bounds([rb.bound for rb in rbs], evidences, self.combine)
        if self.exact or value < threshold:
            rbs = [self._member_bound(k, models[k], X_fit, space, beta, None)
                   for k in self.kernels]
        value, w = combine_bounds([rb.bound for rb in rbs], evidences, self.combine)
        exact = all(rb.exact for rb in rbs)
        self._last_argmin = rbs[0].argmin_lcb
        self.members = [
            {"kernel": k, "bound": rb.bound, "log_evidence": L, "weight": float(wk),
             "exact": rb.exact}
            for k, rb, L, wk in zip(self.kernels, rbs, evidences, w, strict=True)
        ]
        # The members go into the label: the "bound" test's reason names the label, not the
        # note, and a Decision has no field for them.
        note = ", ".join(
            f"{m['kernel']} {m['bound']:.4g}"
            + ("" if self.combine == "max" else f" w {m['weight']:.2f}")
            for m in self.members)
        how = "max" if self.combine == "max" else "BMA"
        label = f"the regret bound ({how} over the kernels' GPs: {note})"
        if self.noise != "learned":
            label += " (GPs with the trials' CV variances as noise)"
        if self.input_warping:
            label += " (input-warped GPs)"
        fields = dict(num_fit=len(idx), beta=beta,
                      min_ucb=float(sum(wk * rb.min_ucb for wk, rb in zip(w, rbs, strict=True))),
                      min_lcb=float(sum(wk * rb.min_lcb for wk, rb in zip(w, rbs, strict=True))),
                      regret_bound=value, bound_exact=exact)
        return Improvement(value, fields, label=label, note=note, exact=exact)


__all__ = [
    "COMBINES",
    "KernelEnsembleRegretBoundEvaluator",
    "bma_weights",
    "combine_bounds",
    "log_evidence",
]
