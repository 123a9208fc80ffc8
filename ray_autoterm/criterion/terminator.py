"""The stopping rule (Eq. 10): stop once the regret bound falls below the statistical error."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from ray_autoterm._validation import (
    check_mode,
    check_open_unit,
    check_positive_float,
    check_positive_int,
)
from ray_autoterm.criterion.cv_error import CrossValidationError, ErrorEvaluator, FixedThreshold
from ray_autoterm.criterion.decision import Decision
from ray_autoterm.criterion.regret import regret_bound, regret_bound_beta, top_subset
from ray_autoterm.errors import GPFitError, SearchSpaceError, invalid
from ray_autoterm.gp import GPFitter, single_threaded_torch
from ray_autoterm.history import History, TrialRecord
from ray_autoterm.space import SearchSpace

logger = logging.getLogger(__name__)

# The GP needs a few points before its bound means anything; below this the decision only
# reports the error (the rule cannot stop before ``min_trials`` anyway).
_MIN_POINTS_FOR_BOUND = 3


class AutoTermCriterion:
    """Decides whether to stop, from the trials completed so far (Eq. 8–10).

    At each evaluation: the incumbent ``γ*_t`` is the trial with the best mean fold value; its
    statistical error ``ε`` comes from Eq. 9 (or is the fixed ``threshold``); a GP is fitted on
    the best half of the trials (at least ``min_fit``); the regret bound ``r̄_t`` of Eq. 8 is
    computed with ``β_t`` of Appendix A.2.3; and the rule stops once ``t >= min_trials`` and
    ``r̄_t < ε`` (Eq. 10; equality does not stop). A failed GP fit never stops (fail open).

    Args:
        mode: ``"min"`` if the fold values are losses, ``"max"`` if they are scores (negated).
        min_trials: No stop before this many completed trials with valid fold scores.
        delta: ``δ`` of ``β_t``.
        beta_scale: Multiplies ``β_t``'s Srinivas value (0.2 is the paper's division by 5).
        min_fit: The bound's GP is fitted on at least this many of the best trials ...
        fit_fraction: ... and on this fraction of them beyond that (0.5: the best half).
        val_train_ratio: ``n_val/n_train`` for Eq. 9; ``None`` is plain k-fold (``1/(k-1)``).
        threshold: A fixed ``ε`` instead of Eq. 9 (objectives without cross-validation; then one
            value per trial suffices).
        exact_bound: Minimise the LCB at every decision. By default (``False``) the LCB is
            first screened at quasi-random points, and the gradient minimisation runs only when
            the screened bound falls below ``ε`` (and never before ``min_trials``). Screening
            underestimates the bound, so a screened bound at or above ``ε`` proves that Eq. 10
            does not stop: the decisions are the same and several times cheaper while far from
            stopping, but those decisions record a lower estimate of ``r̄_t``
            (``Decision.bound_exact = False``). ``True`` records the exact bound every time
            (for plotting the bound's curve).
        num_restarts: Gradient restarts of the LCB minimisation.
        raw_samples: Quasi-random points screened for those restarts.
        seed: Seeds the LCB minimisation's screening (BoTorch's fit is deterministic).
        fitter: A :class:`~ray_autoterm.gp.GPFitter` to share with a searcher.

    Raises:
        InvalidArgumentError: for any argument outside its allowed range, naming it.

    Example:
        >>> import numpy as np
        >>> from ray_autoterm.history import History
        >>> rng = np.random.default_rng(0)
        >>> history = History()
        >>> for i in range(25):
        ...     x = float(rng.random())
        ...     folds = list((x - 0.3) ** 2 + 0.05 * rng.standard_normal(5))
        ...     _ = history.add(str(i), {"x": x}, folds)
        >>> decision = AutoTermCriterion().evaluate(history)
        >>> decision.num_trials, isinstance(decision.should_stop, bool)
        (25, True)
    """

    def __init__(
        self,
        *,
        mode: str = "min",
        min_trials: int = 20,
        delta: float = 0.1,
        beta_scale: float = 0.2,
        min_fit: int = 20,
        fit_fraction: float = 0.5,
        val_train_ratio: float | None = None,
        threshold: float | None = None,
        exact_bound: bool = False,
        num_restarts: int = 8,
        raw_samples: int = 256,
        seed: int = 0,
        fitter: GPFitter | None = None,
    ) -> None:
        self.mode = check_mode(mode)
        self.min_trials = check_positive_int("min_trials", min_trials)
        self.delta = check_open_unit("delta", delta)
        self.beta_scale = check_positive_float("beta_scale", beta_scale)
        self.min_fit = check_positive_int("min_fit", min_fit, minimum=2)
        if not isinstance(fit_fraction, (int, float)) or not 0 < fit_fraction <= 1:
            raise invalid("fit_fraction", fit_fraction, "a number in (0, 1]")
        self.fit_fraction = float(fit_fraction)
        if threshold is not None and val_train_ratio is not None:
            raise invalid(
                "threshold", threshold,
                "None when `val_train_ratio` is given (a fixed threshold replaces Eq. 9)",
            )
        self.error_evaluator: ErrorEvaluator = (
            FixedThreshold(threshold) if threshold is not None
            else CrossValidationError(val_train_ratio)
        )
        if not isinstance(exact_bound, bool):
            raise invalid("exact_bound", exact_bound, "True or False")
        self.exact_bound = exact_bound
        self.num_restarts = check_positive_int("num_restarts", num_restarts)
        self.raw_samples = check_positive_int("raw_samples", raw_samples)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise invalid("seed", seed, "an integer")
        self.seed = seed
        self.fitter = fitter if fitter is not None else GPFitter()
        self._last_argmin: np.ndarray | None = None
        self._last_bound: tuple[Any, float, Any] | None = None  # (model, β, RegretBound)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_last_bound"] = None  # holds a torch model: a cache, not state
        return state

    # ------------------------------------------------------------------ helpers
    @property
    def min_folds(self) -> int:
        """Fold values a trial needs: 2 for Eq. 9, 1 with a fixed threshold."""
        return 1 if isinstance(self.error_evaluator, FixedThreshold) else 2

    def usable(self, record: TrialRecord) -> bool:
        """Whether a record takes part: complete, enough folds, all finite."""
        return record.usable(self.min_folds)

    def _loss(self, record: TrialRecord) -> float:
        return record.value if self.mode == "min" else -record.value

    def _error(self, incumbent: TrialRecord) -> float:
        evaluator = self.error_evaluator
        if isinstance(evaluator, CrossValidationError) and incumbent.val_train_ratio is not None:
            evaluator = CrossValidationError(incumbent.val_train_ratio)
        return evaluator.evaluate(incumbent.fold_scores)

    # ------------------------------------------------------------------ the rule
    def evaluate(
        self, records: History | Iterable[TrialRecord], space: SearchSpace | None = None
    ) -> Decision:
        """Evaluate the criterion on the completed trials.

        Args:
            records: A :class:`~ray_autoterm.history.History` or its records (unusable ones are
                skipped: partial, fewer folds than needed, NaN/inf).
            space: The search space; ``None`` infers it from the configs (bounding box).

        Returns:
            The :class:`~ray_autoterm.criterion.decision.Decision`.
        """
        with single_threaded_torch():
            return self._evaluate(records, space)

    def _evaluate(
        self, records: History | Iterable[TrialRecord], space: SearchSpace | None
    ) -> Decision:
        start = time.perf_counter()
        recs = records.completed() if isinstance(records, History) else list(records)
        recs = [r for r in recs if self.usable(r)]
        base: dict[str, Any] = {"mode": self.mode, "error_source": self.error_evaluator.source}
        n = len(recs)
        if n == 0:
            return Decision(0, False, "no completed trial with usable fold scores yet", **base)
        base["trigger_trial_id"] = max(recs, key=lambda r: r.order).trial_id
        losses = np.array([self._loss(r) for r in recs])
        inc = recs[int(np.argmin(losses))]
        error = self._error(inc)
        base.update(
            statistical_error=error, incumbent_trial_id=inc.trial_id,
            incumbent_config=inc.config, incumbent_fold_scores=list(inc.fold_scores),
            incumbent_value=inc.value,
        )

        def decision(stop: bool, reason: str, **kw: Any) -> Decision:
            return Decision(n, stop, reason, wall_time_s=time.perf_counter() - start, **base, **kw)

        waiting = f"{n} of at least {self.min_trials} trials completed; the rule does not stop sooner"
        if n < _MIN_POINTS_FOR_BOUND:
            return decision(False, waiting)
        try:
            space = space if space is not None else SearchSpace.from_configs([r.config for r in recs])
            keep, X = _encode(space, recs)
        except SearchSpaceError as exc:
            logger.warning("ray-autoterm cannot encode the trials' configs, so it will not stop: %s", exc)
            return decision(False, f"configs do not fit the search space: {exc}", fit_ok=False)
        if space.dim == 0:
            return decision(False, "the search space has no tuned parameter; nothing to bound")
        losses = losses[keep]
        idx = top_subset(losses, self.min_fit, self.fit_fraction)
        X_fit, y_fit = X[idx], losses[idx]
        try:
            model = self.fitter.fit(X_fit, y_fit, role="bound")
            beta = regret_bound_beta(len(space.params), len(idx), self.delta, self.beta_scale)
            extra = self._last_argmin if (
                self._last_argmin is not None and self._last_argmin.shape == (space.dim,)
            ) else None
            # The exact minimisation is needed only where the bound could fall below ε (see
            # ``exact_bound``); before ``min_trials`` the rule cannot stop at all, so the
            # screened bound always suffices there.
            stop_below = None if self.exact_bound else (
                error if n >= self.min_trials else -math.inf
            )
            last = self._last_bound
            if last is not None and last[0] is model and last[1] == beta and (
                last[2].exact or (stop_below is not None and last[2].bound >= stop_below)
            ):
                # The new trial did not enter the fit set: same GP (the fitter's cache), same
                # β, hence the same bound; skip the LCB optimisation.
                rb = last[2]
            else:
                rb = regret_bound(
                    model, X_fit, space.bounds, beta, space.onehot_groups, extra,
                    num_restarts=self.num_restarts, raw_samples=self.raw_samples, seed=self.seed,
                    stop_below=stop_below,
                )
                self._last_bound = (model, beta, rb)
        except (GPFitError, RuntimeError, ValueError) as exc:
            logger.warning(
                "ray-autoterm could not compute the regret bound after %d trials, so it will not "
                "stop now (fail open): %s", n, exc,
            )
            return decision(False, f"GP fit or bound failed ({exc}); not stopping", fit_ok=False)
        self._last_argmin = rb.argmin_lcb
        bound = rb.bound
        numbers = dict(num_fit=len(idx), beta=beta, min_ucb=rb.min_ucb, min_lcb=rb.min_lcb,
                       regret_bound=bound, bound_exact=rb.exact)
        if n < self.min_trials:
            return decision(False, waiting, **numbers)
        what = "statistical error" if self.error_evaluator.source == "cv" else "threshold"
        if bound < error:
            reason = (
                f"the regret bound {bound:.4g} fell below the {what} {error:.4g} after {n} "
                "trials: further tuning cannot be told apart from validation noise"
            )
            return decision(True, reason, **numbers)
        at_least = "" if rb.exact else "at least "
        reason = (
            f"the regret bound, {at_least}{bound:.4g}, is still at or above the {what} {error:.4g}"
        )
        return decision(False, reason, **numbers)


def _encode(space: SearchSpace, recs: list[TrialRecord]) -> tuple[np.ndarray, np.ndarray]:
    """Encode the records' configs; a record whose config does not fit is skipped and logged."""
    keep, rows = [], []
    for i, r in enumerate(recs):
        try:
            rows.append(space.encode(r.config))
            keep.append(i)
        except SearchSpaceError as exc:
            logger.warning("Trial %s is left out of the GP: %s", r.trial_id, exc)
    if not rows:
        raise SearchSpaceError("no trial's config fits the search space")
    return np.array(keep), np.stack(rows)
