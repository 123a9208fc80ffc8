"""The stopping rule (Eq. 10): stop once the regret bound falls below the statistical error."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from ray_autoterm._validation import (
    check_mode,
    check_open_unit,
    check_positive_float,
    check_positive_int,
)
from ray_autoterm.criterion.cv_error import CrossValidationError, ErrorEvaluator, FixedThreshold
from ray_autoterm.criterion.decision import Decision
from ray_autoterm.criterion.regret import (
    regret_bound,
    regret_bound_beta,
    sobol_points,
    top_subset,
)
from ray_autoterm.criterion.rules import (
    ERRORS,
    NOISES,
    RULES,
    consecutive_count,
    emsr_gap,
    emsr_gap_threshold,
    expected_improvement_gap,
    kl_one_observation,
    paired_error,
    pooled_error,
    regret_probability,
    regret_quantile,
    regret_samples,
)
from ray_autoterm.errors import GPFitError, SearchSpaceError, invalid
from ray_autoterm.gp import GPFitter, single_threaded_torch
from ray_autoterm.history import History, TrialRecord
from ray_autoterm.space import SearchSpace

logger = logging.getLogger(__name__)

# The GP needs a few points before its bound means anything; below this the decision only
# reports the error (the rule cannot stop before ``min_trials`` anyway).
_MIN_POINTS_FOR_BOUND = 3

DEFAULT_RULE = "paper"
"""The rule ``AutoTermCriterion`` uses unless told otherwise (see ``rules.RULES``)."""

_ERROR_WORDS = {
    "cv": "incumbent's CV error (Eq. 9)",
    "paired": "paired error against the closest rivals",
    "pooled": "CV error pooled over the best configurations",
    "threshold": "fixed threshold",
}


class AutoTermCriterion:
    """Decides whether to stop, from the trials completed so far (Eq. 8–10 and successors).

    With ``rule="paper"``, at each evaluation: the incumbent ``γ*_t`` is the trial with the best
    mean fold value; its statistical error ``ε`` comes from Eq. 9 (or is the fixed
    ``threshold``); a GP is fitted on the best half of the trials (at least ``min_fit``); the
    regret bound ``r̄_t`` of Eq. 8 is computed with ``β_t`` of Appendix A.2.3; and the rule
    stops once ``t >= min_trials`` and ``r̄_t < ε`` (Eq. 10; equality does not stop). This is
    the default; the other rules (``rule``, :mod:`ray_autoterm.criterion.rules`) change the
    error, the GP's noise, the test or the number of decisions. A failed GP fit never stops
    (fail open).

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
        rule: Which stopping rule, by name (:data:`ray_autoterm.criterion.rules.RULES`).
            The default ``"paper"`` is Eq. 8-10 exactly (the description above). ``"prb-3"``
            stops once the GP gives probability >= 0.95 that the incumbent's regret is below
            its Eq. 9 error (Wilson 2024), at 3 consecutive decisions (the study's candidate
            default, ``benchmarks/results/precise/study-rules.md``; its decisions are counted
            per decision, so a background stopper that skips trials stops later than
            ``max_lag``); ``"paired"`` and ``"pooled"`` compare the same
            bound with another error (:func:`~ray_autoterm.criterion.rules.paired_error`,
            :func:`~ray_autoterm.criterion.rules.pooled_error`); ``"cv-noise"`` fits the
            bound's GP with each trial's Eq. 9 variance as known noise; ``"prb"`` is Wilson
            (2024)'s probabilistic regret bound; ``"emsr-gap"`` is Ishibashi et al. (2023)'s
            gap of expected minimum simple regrets. With a fixed ``threshold`` the error is
            always the threshold.
        error: Overrides the rule's error: ``"cv"`` (Eq. 9), ``"paired"`` or ``"pooled"``.
        noise: Overrides the rule's GP noise: ``"learned"`` or ``"cv"`` (known, per trial).
        consecutive: Overrides how many consecutive decisions (from ``min_trials`` on) the
            rule's test must hold at before it stops (the rules' default is 1).
        rivals: ``"paired"``: the incumbent is compared with the next ``rivals`` best trials.
        pool: ``"pooled"``: the error is pooled over the best ``pool`` trials.
        prb_delta: ``"prb"``: stop once ``P(regret <= ε) >= 1 − prb_delta``; ``None`` is
            the rule's own (0.05, Wilson's).
        prb_samples: ``"prb"``: posterior samples (seeded quasi-random).
        gap_delta: ``"emsr-gap"``: ``δ`` of the automatic threshold.

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
        rule: str = DEFAULT_RULE,
        error: str | None = None,
        noise: str | None = None,
        consecutive: int | None = None,
        rivals: int = 5,
        pool: int = 5,
        prb_delta: float | None = None,
        prb_samples: int = 128,
        gap_delta: float = 0.1,
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
        if rule not in RULES:
            raise invalid("rule", rule, "one of " + ", ".join(f'"{r}"' for r in RULES))
        self.rule = rule
        preset = RULES[rule]
        if error is not None and error not in ERRORS:
            raise invalid("error", error, "None or one of " + ", ".join(f'"{e}"' for e in ERRORS))
        if error not in (None, "cv") and threshold is not None:
            raise invalid("error", error, "None or \"cv\" when a fixed `threshold` is given")
        if noise is not None and noise not in NOISES:
            raise invalid("noise", noise, "None or one of " + ", ".join(f'"{v}"' for v in NOISES))
        self.test = preset.test
        self.error = error if error is not None else preset.error
        self.noise = noise if noise is not None else preset.noise
        if threshold is not None:  # no folds to take an error or a noise from
            self.error, self.noise = "cv", "learned"
        self.consecutive = preset.consecutive if consecutive is None else check_positive_int(
            "consecutive", consecutive)
        self.rivals = check_positive_int("rivals", rivals)
        self.pool = check_positive_int("pool", pool)
        self.prb_delta = preset.prb_delta if prb_delta is None else check_open_unit(
            "prb_delta", prb_delta)
        self.prb_samples = check_positive_int("prb_samples", prb_samples, minimum=8)
        self.gap_delta = check_open_unit("gap_delta", gap_delta)
        self._held: dict[int, bool] = {}  # trial count -> whether the test held there
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

    @property
    def error_source(self) -> str:
        """What ``ε`` is: ``"cv"``, ``"paired"``, ``"pooled"`` or ``"threshold"``."""
        return "threshold" if isinstance(self.error_evaluator, FixedThreshold) else self.error

    def _ratio(self, record: TrialRecord) -> float | None:
        if record.val_train_ratio is not None:
            return record.val_train_ratio
        return getattr(self.error_evaluator, "val_train_ratio", None)

    def _error(self, recs: list[TrialRecord], losses: np.ndarray, inc: TrialRecord) -> float:
        """``ε`` by the chosen error (``losses`` are the records' losses for minimisation)."""
        evaluator = self.error_evaluator
        if isinstance(evaluator, FixedThreshold) or self.error == "cv":
            if isinstance(evaluator, CrossValidationError) and inc.val_train_ratio is not None:
                evaluator = CrossValidationError(inc.val_train_ratio)
            return evaluator.evaluate(inc.fold_scores)
        ranked = [recs[i] for i in np.argsort(losses, kind="stable")]
        if self.error == "paired":
            rivals = [r.fold_scores for r in ranked[1:1 + self.rivals]]
            return paired_error(inc.fold_scores, rivals, self._ratio(inc))
        return pooled_error([r.fold_scores for r in ranked[:self.pool]], self._ratio(inc))

    def _fit(self, X: np.ndarray, y: np.ndarray, role: str, yvar: np.ndarray | None) -> Any:
        # Known noise only when asked for: a fitter without the keyword still works.
        if yvar is None:
            return self.fitter.fit(X, y, role=role)
        return self.fitter.fit(X, y, role=role, yvar=yvar)

    def _yvar(self, recs: list[TrialRecord]) -> np.ndarray | None:
        """Each record's Eq. 9 variance (``ε²``) when the GP takes it as known noise."""
        if self.noise != "cv":
            return None
        return np.array([
            CrossValidationError(self._ratio(r)).evaluate(r.fold_scores) ** 2 for r in recs
        ])

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
        base: dict[str, Any] = {"mode": self.mode, "error_source": self.error_source,
                                "rule": self.rule}
        n = len(recs)
        if n == 0:
            return Decision(0, False, "no completed trial with usable fold scores yet", **base)
        base["trigger_trial_id"] = max(recs, key=lambda r: r.order).trial_id
        losses = np.array([self._loss(r) for r in recs])
        inc_index = int(np.argmin(losses))
        inc = recs[inc_index]
        error = self._error(recs, losses, inc)
        base.update(
            statistical_error=error, incumbent_trial_id=inc.trial_id,
            incumbent_config=inc.config, incumbent_fold_scores=list(inc.fold_scores),
            incumbent_value=inc.value,
        )

        def decision(stop: bool, reason: str, **kw: Any) -> Decision:
            return Decision(n, stop, reason, wall_time_s=time.perf_counter() - start,
                            **{**base, **kw})

        waiting = (f"{n} of at least {self.min_trials} trials completed; "
                   "the rule does not stop sooner")
        if n < _MIN_POINTS_FOR_BOUND:
            return decision(False, waiting)
        try:
            space = (space if space is not None
                     else SearchSpace.from_configs([r.config for r in recs]))
            keep, X = _encode(space, recs)
        except SearchSpaceError as exc:
            logger.warning(
                "ray-autoterm cannot encode the trials' configs, so it will not stop: %s", exc)
            return decision(False, f"configs do not fit the search space: {exc}", fit_ok=False)
        if space.dim == 0:
            return decision(False, "the search space has no tuned parameter; nothing to bound")
        kept = [recs[i] for i in keep]
        yvar_all = self._yvar(kept)
        if self.test == "emsr-gap":
            return self._gap_decision(kept, losses[keep], X, yvar_all, space, n, decision)
        losses = losses[keep]
        idx = top_subset(losses, self.min_fit, self.fit_fraction, X)
        X_fit, y_fit = X[idx], losses[idx]
        yvar = None if yvar_all is None else yvar_all[idx]
        if self.test == "prb":
            return self._prb_decision(X_fit, y_fit, yvar, error, space, n, decision)
        try:
            model = self._fit(X_fit, y_fit, "bound", yvar)
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
        what = _ERROR_WORDS[self.error_source]
        gp = "" if self.noise == "learned" else " (GP with the trials' CV variances as noise)"
        stop, streak = self._streak(n, bound < error)
        if bound < error:
            if not stop:
                return decision(False, self._waiting_streak(
                    f"the regret bound{gp} {bound:.4g} is below the {what} {error:.4g}", streak,
                ), **numbers)
            reason = (
                f"rule \"{self.rule}\": the regret bound{gp} {bound:.4g} fell below the {what} "
                f"{error:.4g} after {n} trials{self._times(streak)}: further tuning cannot be "
                "told apart from validation noise"
            )
            return decision(True, reason, **numbers)
        at_least = "" if rb.exact else "at least "
        reason = (
            f"rule \"{self.rule}\": the regret bound{gp}, {at_least}{bound:.4g}, is still at or "
            f"above the {what} {error:.4g}"
        )
        return decision(False, reason, **numbers)

    # ------------------------------------------------------------------ consecutive decisions
    def _streak(self, n: int, holds: bool) -> tuple[bool, int]:
        """Record the test's outcome at ``n`` trials; whether to stop, and the run of holds."""
        streak = consecutive_count(self._held, n, holds)
        return holds and streak >= self.consecutive, streak

    def _times(self, streak: int) -> str:
        return "" if self.consecutive == 1 else f" ({streak} decisions in a row)"

    def _waiting_streak(self, what: str, streak: int) -> str:
        return (f"rule \"{self.rule}\": {what}, {streak} of {self.consecutive} consecutive "
                "decisions so far")

    # ------------------------------------------------------------------ Wilson (2024)
    def _prb_decision(
        self, X_fit: np.ndarray, y_fit: np.ndarray, yvar: np.ndarray | None, error: float,
        space: SearchSpace, n: int, decision: Any,
    ) -> Decision:
        """``P(f(γ*) − min f <= ε) >= 1 − prb_delta`` under the bound's GP (see ``rules``)."""
        try:
            model = self._fit(X_fit, y_fit, "bound", yvar)
            cands = [X_fit, sobol_points(space.bounds, space.onehot_groups, self.raw_samples,
                                         self.seed).numpy()]
            if self._last_argmin is not None and self._last_argmin.shape == (space.dim,):
                cands.append(self._last_argmin[None, :])
            x_inc = X_fit[int(np.argmin(y_fit))]
            samples = regret_samples(model, x_inc, np.vstack(cands), self.prb_samples, self.seed)
        except (GPFitError, RuntimeError, ValueError) as exc:
            logger.warning("ray-autoterm could not sample the regret after %d trials, so it will "
                           "not stop now (fail open): %s", n, exc)
            return decision(False, f"GP fit or regret sampling failed ({exc}); not stopping",
                            fit_ok=False)
        level = 1.0 - self.prb_delta
        q, p = regret_quantile(samples, level), regret_probability(samples, error)
        numbers = dict(num_fit=len(y_fit), regret_bound=q)
        what = _ERROR_WORDS[self.error_source]
        if n < self.min_trials:
            return decision(False, f"{n} of at least {self.min_trials} trials completed; the "
                            "rule does not stop sooner", **numbers)
        stop, streak = self._streak(n, p >= level)
        head = (f"rule \"{self.rule}\": P(regret <= {what} {error:.4g}) = {p:.3f} "
                f"({level:.0%} quantile of the regret {q:.4g})")
        if p >= level and not stop:
            return decision(False, self._waiting_streak(head, streak), **numbers)
        if stop:
            return decision(True, f"{head} >= {level:g} after {n} trials{self._times(streak)}: "
                            "the incumbent is within the error of the optimum with high "
                            "probability", **numbers)
        return decision(False, f"{head} < {level:g}", **numbers)

    # ------------------------------------------------------------------ Ishibashi et al. (2023)
    def _gap_decision(
        self, recs: list[TrialRecord], losses: np.ndarray, X: np.ndarray,
        yvar: np.ndarray | None, space: SearchSpace, n: int, decision: Any,
    ) -> Decision:
        """The gap of expected minimum simple regrets between the last two steps (``rules``).

        The two steps are all trials and all but the most recently completed one; both GPs
        are fitted on all their trials, and ``κ_{t−1}`` takes the LCB's minimum over the
        evaluated and ``raw_samples`` quasi-random points (as Ishibashi et al.'s candidate set).
        Records ``regret_bound`` = the gap ``Δ_t`` and ``statistical_error`` = its automatic
        threshold ``θ_t``.
        """
        new = max(range(len(recs)), key=lambda i: recs[i].order)
        prev = np.array([i for i in range(len(recs)) if i != new])
        if len(prev) < _MIN_POINTS_FOR_BOUND:
            return decision(False, f"{n} of at least {self.min_trials} trials completed; the "
                            "rule does not stop sooner")
        X_prev, y_prev = X[prev], losses[prev]
        inc_new = int(np.argmin(losses))
        inc_old = int(prev[int(np.argmin(y_prev))])
        try:
            m_new = self._fit(X, losses, "gap", yvar)
            m_old = self._fit(X_prev, y_prev, "gap", None if yvar is None else yvar[prev])
            kappa_beta = regret_bound_beta(len(space.params), len(losses), self.delta, 1.0)
            # κ as Ishibashi et al. compute it: the LCB's minimum over a finite candidate set
            # (here the evaluated points and ``raw_samples`` Sobol points), no gradient steps.
            rb = regret_bound(m_old, X_prev, space.bounds, kappa_beta, space.onehot_groups,
                              raw_samples=self.raw_samples, seed=self.seed,
                              stop_below=-math.inf)
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
        except (GPFitError, RuntimeError, ValueError) as exc:
            logger.warning("ray-autoterm could not compute the regret gap after %d trials, so it "
                           "will not stop now (fail open): %s", n, exc)
            return decision(False, f"GP fit or regret gap failed ({exc}); not stopping",
                            fit_ok=False)
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
        numbers = dict(num_fit=len(losses), beta=kappa_beta, regret_bound=gap,
                       statistical_error=theta, error_source="emsr-gap threshold")
        if n < self.min_trials:
            return decision(False, f"{n} of at least {self.min_trials} trials completed; the "
                            "rule does not stop sooner", **numbers)
        stop, streak = self._streak(n, gap <= theta)
        head = (f"rule \"emsr-gap\": the gap of expected minimum simple regrets {gap:.4g} "
                f"(κ {kappa:.4g}, KL {kl:.3g})")
        if gap <= theta and not stop:
            return decision(False, self._waiting_streak(f"{head} is at or below its threshold "
                                                        f"{theta:.4g}", streak), **numbers)
        if stop:
            return decision(True, f"{head} fell to its threshold {theta:.4g} after {n} trials"
                            f"{self._times(streak)}: one more trial is not expected to change "
                            "the regret", **numbers)
        return decision(False, f"{head} is above its threshold {theta:.4g}", **numbers)


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
