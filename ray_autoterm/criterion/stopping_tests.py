"""Stopping tests: whether the improvement is small enough, given the statistical error.

A test is one small class: ``holds(improvement, error) -> bool`` decides, and three phrases
explain it in the decision's reason. The criterion asks it only from ``min_trials`` on, and
stops once it has held at ``consecutive`` decisions in a row (:func:`consecutive_count`).
"""

from __future__ import annotations

import abc

import numpy as np

from ray_autoterm.criterion.improvement import Improvement
from ray_autoterm.criterion.prb import regret_probability


class BaseStoppingTest(abc.ABC):
    """Decides from an improvement and an error whether the search may stop.

    Attributes:
        meaning: What a stop means, closing the stop's reason.
    """

    meaning = "further tuning cannot be told apart from validation noise"

    @abc.abstractmethod
    def holds(self, improvement: Improvement, error: float) -> bool:
        """Whether the test holds for this ``improvement`` and statistical ``error``."""

    @abc.abstractmethod
    def holding(self, improvement: Improvement, error: float, what: str) -> str:
        """The reason's words while the test holds (``what`` names the error)."""

    @abc.abstractmethod
    def stopped(self, improvement: Improvement, error: float, what: str) -> str:
        """The reason's words when the criterion stops."""

    @abc.abstractmethod
    def not_holding(self, improvement: Improvement, error: float, what: str) -> str:
        """The reason's words when the test does not hold."""


class BoundBelowError(BaseStoppingTest):
    """Eq. 10: stop once the improvement is strictly below the error, ``r̄_t < ε``.

    Equality does not stop (Optuna's ``improvement < error`` too).

    Example:
        >>> BoundBelowError().holds(Improvement(0.25), 0.25)
        False
    """

    def holds(self, improvement: Improvement, error: float) -> bool:
        return improvement.value < error

    def holding(self, improvement: Improvement, error: float, what: str) -> str:
        return f"{improvement.label} {improvement.value:.4g} is below the {what} {error:.4g}"

    def stopped(self, improvement: Improvement, error: float, what: str) -> str:
        return f"{improvement.label} {improvement.value:.4g} fell below the {what} {error:.4g}"

    def not_holding(self, improvement: Improvement, error: float, what: str) -> str:
        at_least = "" if improvement.exact else "at least "
        return (f"{improvement.label}, {at_least}{improvement.value:.4g}, is still at or above "
                f"the {what} {error:.4g}")


class RegretProbablyBelowError(BaseStoppingTest):
    """Wilson (2024): stop once ``P(f(γ*_t) − min f <= ε) >= 1 − δ`` under the GP posterior.

    ``P`` is the share of the improvement's regret samples at or below ``ε``
    (:func:`~ray_autoterm.criterion.prb.regret_probability`); ``1 − δ`` is the improvement's
    ``level`` (both from :class:`~ray_autoterm.criterion.prb.ProbabilisticRegretEvaluator`).

    Example:
        >>> found = Improvement(0.2, samples=np.array([0.0, 0.1, 0.2, 0.3]), level=0.75)
        >>> test = RegretProbablyBelowError()
        >>> test.holds(found, 0.2), test.holds(found, 0.1)
        (True, False)
    """

    meaning = "the incumbent is within the error of the optimum with high probability"

    def holds(self, improvement: Improvement, error: float) -> bool:
        samples, level = _samples(improvement)
        return regret_probability(samples, error) >= level

    def _head(self, improvement: Improvement, error: float, what: str) -> str:
        samples, level = _samples(improvement)
        p = regret_probability(samples, error)
        return (f"P(regret <= {what} {error:.4g}) = {p:.3f} "
                f"({level:.0%} quantile of the regret {improvement.value:.4g})")

    def holding(self, improvement: Improvement, error: float, what: str) -> str:
        return self._head(improvement, error, what)

    def stopped(self, improvement: Improvement, error: float, what: str) -> str:
        return f"{self._head(improvement, error, what)} >= {_samples(improvement)[1]:g}"

    def not_holding(self, improvement: Improvement, error: float, what: str) -> str:
        return f"{self._head(improvement, error, what)} < {_samples(improvement)[1]:g}"


def _samples(improvement: Improvement) -> tuple[np.ndarray, float]:
    if improvement.samples is None or improvement.level is None:
        raise ValueError("RegretProbablyBelowError needs an improvement with regret samples and "
                         "a level (from ProbabilisticRegretEvaluator)")
    return improvement.samples, improvement.level


class GapBelowThreshold(BaseStoppingTest):
    """Ishibashi et al. (2023): stop once the gap ``Δ_t`` is at or below its own threshold ``θ_t``.

    ``θ_t`` comes with the improvement (from
    :class:`~ray_autoterm.criterion.emsr.EMSRGapEvaluator`); the statistical error is not used.

    Example:
        >>> GapBelowThreshold().holds(Improvement(0.1, threshold=0.1), error=0.0)
        True
    """

    meaning = "one more trial is not expected to change the regret"

    def holds(self, improvement: Improvement, error: float) -> bool:
        return improvement.value <= _threshold(improvement)

    def _head(self, improvement: Improvement) -> str:
        return f"{improvement.label} {improvement.value:.4g} {improvement.note}".rstrip()

    def holding(self, improvement: Improvement, error: float, what: str) -> str:
        return (f"{self._head(improvement)} is at or below its threshold "
                f"{_threshold(improvement):.4g}")

    def stopped(self, improvement: Improvement, error: float, what: str) -> str:
        return f"{self._head(improvement)} fell to its threshold {_threshold(improvement):.4g}"

    def not_holding(self, improvement: Improvement, error: float, what: str) -> str:
        return f"{self._head(improvement)} is above its threshold {_threshold(improvement):.4g}"


def _threshold(improvement: Improvement) -> float:
    if improvement.threshold is None:
        raise ValueError("GapBelowThreshold needs an improvement with its own threshold "
                         "(from EMSRGapEvaluator)")
    return improvement.threshold


def consecutive_count(history: dict[int, bool], n: int, holds: bool) -> int:
    """Record ``holds`` for the decision at ``n`` trials; return the current run of holds.

    ``history`` maps a decision's trial count to whether the test held (a decision repeated
    at the same ``n`` replaces the earlier one). The run counts the decisions at the largest
    trial counts, back from ``n``, that all held.

    Example:
        >>> h = {}
        >>> [consecutive_count(h, n, ok) for n, ok in [(20, True), (21, True), (22, False)]]
        [1, 2, 0]
    """
    history[n] = holds
    run = 0
    for m in sorted((m for m in history if m <= n), reverse=True):
        if not history[m]:
            break
        run += 1
    return run


__all__ = [
    "BaseStoppingTest",
    "BoundBelowError",
    "GapBelowThreshold",
    "RegretProbablyBelowError",
    "consecutive_count",
]
