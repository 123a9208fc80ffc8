"""The improvement of the paper: the GP upper bound on the simple regret (Eq. 8)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ray_autoterm._validation import check_open_unit, check_positive_float, check_positive_int
from ray_autoterm.criterion.improvement import GPImprovementEvaluator, Improvement, Observations
from ray_autoterm.criterion.regret import regret_bound, regret_bound_beta, top_subset
from ray_autoterm.errors import invalid

if TYPE_CHECKING:
    from ray_autoterm.gp import GPFitter


def check_fit_subset(min_fit: Any, fit_fraction: Any) -> tuple[int, float]:
    """Validate ``min_fit`` (an integer >= 2) and ``fit_fraction`` (in (0, 1])."""
    min_fit = check_positive_int("min_fit", min_fit, minimum=2)
    if not isinstance(fit_fraction, (int, float)) or not 0 < fit_fraction <= 1:
        raise invalid("fit_fraction", fit_fraction, "a number in (0, 1]")
    return min_fit, float(fit_fraction)


def check_seed(seed: Any) -> int:
    """Validate a seed (an integer, not a bool)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise invalid("seed", seed, "an integer")
    return seed


class RegretBoundEvaluator(GPImprovementEvaluator):
    """The regret bound ``r̄_t`` of Eq. 8, from a GP fitted on the best trials.

    A GP is fitted on the best ``max(min_fit, ⌊fit_fraction · n⌋)`` trials (Appendix A.2) and::

        r̄_t = min_{γ ∈ G_t} ucb_t(γ) − min_{γ ∈ Γ} lcb_t(γ),   ucb/lcb = μ_t ± sqrt(β_t)·σ_t

    with ``β_t = beta_scale · 2·log(d·t²·π²/(6δ))`` (Appendix A.2.3; see
    :func:`~ray_autoterm.criterion.regret.regret_bound`). With ``noise="cv"`` the GP takes each
    trial's Eq. 9 variance as its known noise (the ``"cv-noise"`` rule). With
    ``input_warping=True`` the GP first warps each input through a learned Kumaraswamy CDF
    (BoTorch's ``Warp``; see :func:`~ray_autoterm.gp.warping_transform`).

    Args:
        delta: ``δ`` of ``β_t``.
        beta_scale: Multiplies ``β_t``'s Srinivas value (0.2 is the paper's division by 5).
        min_fit: The GP is fitted on at least this many of the best trials ...
        fit_fraction: ... and on this fraction of them beyond that (0.5: the best half).
        exact: Minimise the LCB at every decision. By default (``False``) the LCB is first
            screened at quasi-random points, and the gradient minimisation runs only when the
            screened bound falls below the threshold (``-inf`` before ``min_trials``: never).
            Screening underestimates the bound, so a screened bound at or above ``ε`` proves
            that Eq. 10 does not stop: the decisions are the same and several times cheaper
            while far from stopping, but those record a lower estimate of ``r̄_t``
            (``Decision.bound_exact = False``).
        num_restarts: Gradient restarts of the LCB minimisation.
        raw_samples: Quasi-random points screened for those restarts.
        seed: Seeds the LCB minimisation's screening (BoTorch's fit is deterministic).
        noise: ``"learned"`` or ``"cv"`` (see above).
        val_train_ratio: ``n_val/n_train`` for the ``"cv"`` noise.
        fitter: The GP fitter (a new one by default).
        input_warping: Fit the GP with a learned input warping per dimension (off by default:
            the paper's GP).

    Example:
        >>> import numpy as np
        >>> from ray_autoterm.history import TrialRecord
        >>> from ray_autoterm.space import NumericParam, SearchSpace
        >>> rng = np.random.default_rng(0)
        >>> X = rng.random((20, 1)); y = (X[:, 0] - 0.3) ** 2
        >>> obs = Observations([TrialRecord(str(i), {}, [v, v]) for i, v in enumerate(y)], X, y,
        ...                    SearchSpace([NumericParam(("x",), 0.0, 1.0)]))
        >>> RegretBoundEvaluator(exact=True).evaluate(obs, float("inf")).value >= 0
        True
    """

    failure = "bound"

    def __init__(
        self,
        *,
        delta: float = 0.1,
        beta_scale: float = 0.2,
        min_fit: int = 20,
        fit_fraction: float = 0.5,
        exact: bool = False,
        num_restarts: int = 8,
        raw_samples: int = 256,
        seed: int = 0,
        noise: str = "learned",
        val_train_ratio: float | None = None,
        fitter: GPFitter | None = None,
        input_warping: bool = False,
    ) -> None:
        if not isinstance(input_warping, bool):
            raise invalid("input_warping", input_warping, "True or False")
        self.input_warping = input_warping
        self.delta = check_open_unit("delta", delta)
        self.beta_scale = check_positive_float("beta_scale", beta_scale)
        self.min_fit, self.fit_fraction = check_fit_subset(min_fit, fit_fraction)
        if not isinstance(exact, bool):
            raise invalid("exact", exact, "True or False")
        self.exact = exact
        self.num_restarts = check_positive_int("num_restarts", num_restarts)
        self.raw_samples = check_positive_int("raw_samples", raw_samples)
        self.seed = check_seed(seed)
        super().__init__(noise, val_train_ratio, fitter)
        self._last_argmin: np.ndarray | None = None  # the previous LCB minimiser: a warm start
        self._last_bound: tuple[Any, float, Any] | None = None  # (model, β, RegretBound)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_last_bound"] = None  # holds a torch model: a cache, not state
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("input_warping", False)  # pickled before the knob existed
        self.__dict__.update(state)

    def fit(self, X: np.ndarray, y: np.ndarray, role: str, yvar: np.ndarray | None) -> Any:
        """The fitter's GP on ``(X, y)``, warped when ``input_warping`` is on."""
        if not self.input_warping:  # as before (a fitter without the keyword still works)
            return super().fit(X, y, role, yvar)
        return self.fitter.fit(X, y, role=role, yvar=yvar, input_warping=True)

    def evaluate(self, observations: Observations, threshold: float) -> Improvement:
        losses, X, space = observations.losses, observations.X, observations.space
        yvar_all = self.noise_variances(observations.records)
        idx = top_subset(losses, self.min_fit, self.fit_fraction, X)
        X_fit, y_fit = X[idx], losses[idx]
        yvar = None if yvar_all is None else yvar_all[idx]
        model = self.fit(X_fit, y_fit, "bound", yvar)
        beta = regret_bound_beta(len(space.params), len(idx), self.delta, self.beta_scale)
        beta, note = self._calibrate(observations, model, beta)
        extra = self._last_argmin if (
            self._last_argmin is not None and self._last_argmin.shape == (space.dim,)
        ) else None
        # The exact minimisation is needed only where the bound could fall below the
        # threshold (see ``exact``).
        stop_below = None if self.exact else threshold
        last = self._last_bound
        if last is not None and last[0] is model and last[1] == beta and (
            last[2].exact or (stop_below is not None and last[2].bound >= stop_below)
        ):
            # The new trial did not enter the fit set: same GP (the fitter's cache), same β,
            # hence the same bound; skip the LCB optimisation.
            rb = last[2]
        else:
            rb = regret_bound(
                model, X_fit, space.bounds, beta, space.onehot_groups, extra,
                num_restarts=self.num_restarts, raw_samples=self.raw_samples, seed=self.seed,
                stop_below=stop_below,
            )
            self._last_bound = (model, beta, rb)
        self._last_argmin = rb.argmin_lcb
        label = "the regret bound" + (
            "" if self.noise == "learned" else " (GP with the trials' CV variances as noise)")
        if self.input_warping:
            label += " (input-warped GP)"
        fields = dict(num_fit=len(idx), beta=beta, min_ucb=rb.min_ucb, min_lcb=rb.min_lcb,
                      regret_bound=rb.bound, bound_exact=rb.exact)
        return Improvement(rb.bound, fields, label=label, note=note, exact=rb.exact)

    def _calibrate(self, observations: Observations, model: Any,
                   beta: float) -> tuple[float, str]:
        """The ``β_t`` the bound uses, and words for the reason: Eq. 8's as it is here (a
        subclass may widen it, see :mod:`~ray_autoterm.criterion.calibration`)."""
        return beta, ""


__all__ = ["RegretBoundEvaluator", "check_fit_subset", "check_seed"]
