"""Improvement evaluators: how much better than the incumbent the search could still get.

Each evaluator is one small class with one method, ``evaluate(observations, threshold)``, as
Optuna's ``BaseImprovementEvaluator.evaluate(trials, study_direction)``. It returns an
:class:`Improvement` (the value the stopping test compares with ``ε``, and the numbers the
decision records) or ``None`` while it has too few trials to say anything. The GP-based ones
are :class:`~ray_autoterm.criterion.bound.RegretBoundEvaluator` (Eq. 8),
:class:`~ray_autoterm.criterion.prb.ProbabilisticRegretEvaluator` (Wilson 2024) and
:class:`~ray_autoterm.criterion.emsr.EMSRGapEvaluator` (Ishibashi et al. 2023);
:class:`StaticImprovementEvaluator` is the constant test double.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ray_autoterm.criterion.cv_error import cv_statistical_error
from ray_autoterm.errors import invalid
from ray_autoterm.history import TrialRecord
from ray_autoterm.space import SearchSpace

if TYPE_CHECKING:
    from ray_autoterm.gp import GPFitter

MIN_POINTS = 3
"""A GP needs a few points before its bound means anything; the criterion asks for no
improvement with fewer (it cannot stop before ``min_trials`` anyway)."""


@dataclasses.dataclass(frozen=True)
class Observations:
    """The trials an improvement evaluator sees, encoded for the GP (minimisation).

    Attributes:
        records: The usable completed trials whose configs fit the space (``n >= 3``).
        X: ``n x d`` their encoded configs, in the unit cube.
        losses: ``n`` their mean fold values as losses (scores negated).
        space: The search space (``space.dim >= 1``).
    """

    records: Sequence[TrialRecord]
    X: np.ndarray
    losses: np.ndarray
    space: SearchSpace


@dataclasses.dataclass(frozen=True)
class Improvement:
    """What an improvement evaluator found.

    Attributes:
        value: The number the stopping test compares: the regret bound ``r̄_t`` (Eq. 8), the
            ``1 − δ`` quantile of the sampled regret, or the gap ``Δ_t``.
        fields: :class:`~ray_autoterm.criterion.decision.Decision` fields to record
            (``num_fit``, ``beta``, ``regret_bound``, ...).
        label: How a reason names ``value`` (``"the regret bound"``).
        note: Further words after the value in a reason (``"(κ 0.1, KL 0.01)"``), or ``""``.
        exact: ``False`` when ``value`` is only a lower estimate, shown to be at or above the
            threshold (the decision is the same; see ``RegretBoundEvaluator(exact=...)``).
        samples: Posterior samples of the regret, for a probabilistic test.
        level: The probability ``1 − δ`` a probabilistic test asks for.
        threshold: The evaluator's own threshold, for a test that uses it instead of ``ε``.
    """

    value: float
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    label: str = "the regret bound"
    note: str = ""
    exact: bool = True
    samples: np.ndarray | None = None
    level: float | None = None
    threshold: float | None = None


class BaseImprovementEvaluator(abc.ABC):
    """Measures the room for improvement left over the incumbent.

    Attributes:
        fitter: The :class:`~ray_autoterm.gp.GPFitter` of a GP-based evaluator (a stopper
            shares it with its searcher), ``None`` for one without a GP.
        failure: How a reason names this evaluator's computation when it fails.
    """

    fitter: GPFitter | None = None
    failure = "improvement evaluation"

    @abc.abstractmethod
    def evaluate(self, observations: Observations, threshold: float) -> Improvement | None:
        """The improvement on ``observations``; ``None`` while too few to say.

        Args:
            observations: The encoded trials.
            threshold: The ``ε`` the value will be compared with, or ``-inf`` while the rule
                cannot stop yet: an evaluator may save work where the value is surely at or
                above it (and say so with ``Improvement.exact = False``).

        Raises:
            GPFitError, RuntimeError, ValueError: when a fit or the computation fails; the
                criterion then does not stop (fail open).
        """


class StaticImprovementEvaluator(BaseImprovementEvaluator):
    """A constant improvement: the test double (Optuna's ``StaticErrorEvaluator`` mirrored).

    Args:
        value: The improvement to report, in the metric's units.

    Example:
        >>> StaticImprovementEvaluator(0.5).evaluate(None, math.inf).value
        0.5
    """

    def __init__(self, value: float) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
            raise invalid("value", value, "a number")
        self.value = float(value)

    def evaluate(self, observations: Any, threshold: float) -> Improvement:
        return Improvement(self.value, {"regret_bound": self.value})


class GPImprovementEvaluator(BaseImprovementEvaluator):
    """Shared by the GP-based evaluators: the fitter, and the GP's noise model.

    Args:
        noise: ``"learned"`` (one homoscedastic noise term, fitted) or ``"cv"`` (each trial's
            Eq. 9 variance ``ε_i²`` as its known noise).
        val_train_ratio: ``n_val/n_train`` for the ``"cv"`` noise; ``None`` is plain k-fold. A
            record that reported its own ratio uses that one.
        fitter: The GP fitter (a new one by default).
    """

    def __init__(
        self,
        noise: str = "learned",
        val_train_ratio: float | None = None,
        fitter: GPFitter | None = None,
    ) -> None:
        if noise not in NOISES:
            raise invalid("noise", noise, "one of " + ", ".join(f'"{v}"' for v in NOISES))
        if val_train_ratio is not None:
            cv_statistical_error([0.0, 1.0], val_train_ratio)  # validates the ratio
        self.noise = noise
        self.val_train_ratio = val_train_ratio
        if fitter is None:
            from ray_autoterm.gp import GPFitter

            fitter = GPFitter()
        self.fitter: GPFitter = fitter

    def noise_variances(self, records: Sequence[TrialRecord]) -> np.ndarray | None:
        """Each record's Eq. 9 variance ``ε_i²`` with ``noise="cv"`` (``holdout_se²`` for one
        validation set); ``None`` when learned."""
        if self.noise != "cv":
            return None
        return np.array([
            r.holdout_se ** 2 if r.holdout_se is not None else
            cv_statistical_error(r.fold_scores, r.val_train_ratio if r.val_train_ratio is not None
                                 else self.val_train_ratio) ** 2
            for r in records
        ])

    def fit(self, X: np.ndarray, y: np.ndarray, role: str, yvar: np.ndarray | None) -> Any:
        """The fitter's GP on ``(X, y)``, with known noise ``yvar`` only when given."""
        if yvar is None:  # a fitter without the ``yvar`` keyword still works
            return self.fitter.fit(X, y, role=role)
        return self.fitter.fit(X, y, role=role, yvar=yvar)


NOISES = ("learned", "cv")
"""The GP noise models the GP-based evaluators accept."""

__all__ = [
    "MIN_POINTS",
    "NOISES",
    "BaseImprovementEvaluator",
    "GPImprovementEvaluator",
    "Improvement",
    "Observations",
    "StaticImprovementEvaluator",
]
