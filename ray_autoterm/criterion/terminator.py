"""The stopping criterion (Eq. 10): an improvement, an error and a test, joined.

:class:`AutoTermCriterion` is built as Optuna's ``Terminator``: an improvement evaluator
(:mod:`~ray_autoterm.criterion.improvement`), an error evaluator
(:mod:`~ray_autoterm.criterion.error_evaluators`) and a stopping test
(:mod:`~ray_autoterm.criterion.stopping_tests`), each injectable; ``rule=`` names a preset of
the three (:func:`~ray_autoterm.criterion.rules.preset`).
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ray_autoterm._validation import check_mode, check_positive_int
from ray_autoterm.criterion.decision import Decision
from ray_autoterm.criterion.error_evaluators import BaseErrorEvaluator, losses_for_minimisation
from ray_autoterm.criterion.improvement import (
    MIN_POINTS,
    BaseImprovementEvaluator,
    Observations,
)
from ray_autoterm.criterion.rules import DEFAULT_RULE, preset
from ray_autoterm.criterion.stopping_tests import BaseStoppingTest, consecutive_count
from ray_autoterm.errors import GPFitError, SearchSpaceError
from ray_autoterm.gp import single_threaded_torch
from ray_autoterm.history import History, TrialRecord
from ray_autoterm.space import SearchSpace

if TYPE_CHECKING:
    from ray_autoterm.gp import GPFitter

logger = logging.getLogger(__name__)

RULE_KNOBS = frozenset(inspect.signature(preset).parameters) - {"rule", "fitter", "consecutive"}
"""The rules' knobs ``AutoTermCriterion`` (and so ``AutoTermStopper``) accepts as keywords
beyond its own arguments: :func:`~ray_autoterm.criterion.rules.preset`'s."""


class AutoTermCriterion:
    """Decides whether to stop, from the trials completed so far (Eq. 8–10 and successors).

    At each evaluation the incumbent ``γ*_t`` is the trial with the best mean fold value; the
    error evaluator gives its statistical error ``ε`` (Eq. 9 by default); the improvement
    evaluator gives how much better the search could still get (the regret bound ``r̄_t`` of
    Eq. 8 by default); and once ``t >= min_trials``, the stopping test decides from the two
    (Eq. 10: ``r̄_t < ε``; equality does not stop). The criterion stops once the test has held
    at ``consecutive`` decisions in a row. A failed GP fit never stops (fail open).

    ``rule`` names a preset of the three parts (:data:`~ray_autoterm.criterion.rules.RULES`,
    built by :func:`~ray_autoterm.criterion.rules.preset`, whose keywords ``**knobs`` are):
    ``"paper"`` (the default) is Eq. 8-10 exactly; ``"paired"`` and ``"pooled"`` compare the
    same bound with another error; ``"cv-noise"`` fits the bound's GP with each trial's Eq. 9
    variance as known noise; ``"prb"`` is Wilson (2024)'s probabilistic regret bound and
    ``"prb-3"`` the same at 3 consecutive decisions; ``"emsr-gap"`` is Ishibashi et al.
    (2023)'s gap of expected minimum simple regrets; ``"calibrated"`` (and
    ``"calibrated-pooled"``) widens Eq. 8's ``sqrt(β_t)`` by the GP's record on the search's
    next trials; ``"kernel-ensemble"`` and ``"kernel-bma"`` combine the bounds of GPs with
    three kernels (their maximum, or their marginal-likelihood-weighted mean). A part given
    explicitly replaces the preset's (the preset gives the others); decisions then name the
    rule ``"custom"``.

    Args:
        mode: ``"min"`` if the fold values are losses, ``"max"`` if they are scores (negated).
        min_trials: No stop before this many completed trials with valid fold scores.
        rule: The preset's name (``"custom"`` in decisions when a part is given).
        improvement_evaluator: A :class:`~ray_autoterm.criterion.improvement.
            BaseImprovementEvaluator` instead of the preset's.
        error_evaluator: A :class:`~ray_autoterm.criterion.error_evaluators.
            BaseErrorEvaluator` instead of the preset's.
        stopping_test: A :class:`~ray_autoterm.criterion.stopping_tests.BaseStoppingTest`
            instead of the preset's.
        consecutive: How many consecutive decisions (from ``min_trials`` on) the test must
            hold at; ``None`` is the rule's (1, or 3 for ``"prb-3"``).
        fitter: A :class:`~ray_autoterm.gp.GPFitter` to share with a searcher.
        **knobs: The preset's other keywords (``delta``, ``threshold``, ``val_train_ratio``,
            ``exact_bound``, ``seed``, ``prb_delta``, ``input_warping``, ...; see
            :func:`~ray_autoterm.criterion.rules.preset`).

    Raises:
        InvalidArgumentError: for any argument outside its allowed range, naming it.
        TypeError: for a keyword that is no knob.

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

        Composed of parts (here constant stubs instead of the GP's bound and Eq. 9):

        >>> from ray_autoterm.criterion import StaticErrorEvaluator, StaticImprovementEvaluator
        >>> crit = AutoTermCriterion(improvement_evaluator=StaticImprovementEvaluator(0.01),
        ...                          error_evaluator=StaticErrorEvaluator(0.02))
        >>> crit.evaluate(history).should_stop, crit.rule
        (True, 'custom')
    """

    def __init__(
        self,
        *,
        mode: str = "min",
        min_trials: int = 20,
        rule: str = DEFAULT_RULE,
        improvement_evaluator: BaseImprovementEvaluator | None = None,
        error_evaluator: BaseErrorEvaluator | None = None,
        stopping_test: BaseStoppingTest | None = None,
        consecutive: int | None = None,
        fitter: GPFitter | None = None,
        **knobs: Any,
    ) -> None:
        self.mode = check_mode(mode)
        self.min_trials = check_positive_int("min_trials", min_trials)
        unknown = sorted(set(knobs) - RULE_KNOBS)
        if unknown:
            raise TypeError(f"AutoTermCriterion() got an unexpected keyword argument "
                            f"{unknown[0]!r}; its knobs are {', '.join(sorted(RULE_KNOBS))}")
        given = (improvement_evaluator, error_evaluator, stopping_test)
        parts = preset(rule, fitter=fitter, consecutive=consecutive, **knobs)
        self.rule = rule if all(p is None for p in given) else "custom"
        self.improvement_evaluator = (improvement_evaluator if improvement_evaluator is not None
                                      else parts.improvement_evaluator)
        self.error_evaluator = (error_evaluator if error_evaluator is not None
                                else parts.error_evaluator)
        self.stopping_test = stopping_test if stopping_test is not None else parts.stopping_test
        self.consecutive = parts.consecutive
        if fitter is not None:
            self.fitter = fitter
        self._held: dict[int, bool] = {}  # trial count -> whether the test held there

    @property
    def fitter(self) -> GPFitter | None:
        """The improvement evaluator's GP fitter (``None`` for one without a GP)."""
        return self.improvement_evaluator.fitter

    @fitter.setter
    def fitter(self, fitter: GPFitter) -> None:
        self.improvement_evaluator.fitter = fitter

    @property
    def min_folds(self) -> int:
        """Fold values a trial needs: 2 for Eq. 9, 1 with a fixed threshold."""
        return self.error_evaluator.min_folds

    def usable(self, record: TrialRecord) -> bool:
        """Whether a record takes part: complete, enough folds, all finite."""
        return record.usable(self.min_folds)

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
        base: dict[str, Any] = {"mode": self.mode, "error_source": self.error_evaluator.source,
                                "rule": self.rule}
        n = len(recs)
        if n == 0:
            return Decision(0, False, "no completed trial with usable fold scores yet", **base)
        base["trigger_trial_id"] = max(recs, key=lambda r: r.order).trial_id
        losses = losses_for_minimisation(recs, self.mode)
        inc = recs[int(np.argmin(losses))]
        error = self.error_evaluator.evaluate(recs, self.mode)
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
        if n < MIN_POINTS:
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
        observations = Observations([recs[i] for i in keep], X, losses[keep], space)
        # Before ``min_trials`` the rule cannot stop: nothing needs to be compared with ε.
        threshold = error if n >= self.min_trials else -math.inf
        evaluator = self.improvement_evaluator
        try:
            improvement = evaluator.evaluate(observations, threshold)
        except (GPFitError, RuntimeError, ValueError) as exc:
            logger.warning(
                "ray-autoterm's GP fit or %s failed after %d trials, so it will not stop now "
                "(fail open): %s", evaluator.failure, n, exc,
            )
            return decision(False, f"GP fit or {evaluator.failure} failed ({exc}); not stopping",
                            fit_ok=False)
        if improvement is None:
            return decision(False, waiting)
        if n < self.min_trials:
            return decision(False, waiting, **improvement.fields)
        test, what = self.stopping_test, self.error_evaluator.description
        holds = test.holds(improvement, error)
        streak = consecutive_count(self._held, n, holds)
        if holds and streak >= self.consecutive:
            times = "" if self.consecutive == 1 else f" ({streak} decisions in a row)"
            reason = (f"{test.stopped(improvement, error, what)} after {n} trials{times}: "
                      f"{test.meaning}")
            return decision(True, f'rule "{self.rule}": {reason}', **improvement.fields)
        if holds:
            reason = (f"{test.holding(improvement, error, what)}, {streak} of "
                      f"{self.consecutive} consecutive decisions so far")
        else:
            reason = test.not_holding(improvement, error, what)
        return decision(False, f'rule "{self.rule}": {reason}', **improvement.fields)


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


__all__ = ["RULE_KNOBS", "AutoTermCriterion"]
