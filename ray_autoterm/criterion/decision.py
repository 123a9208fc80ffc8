"""The stopping decision (Eq. 10) and its record.

A :class:`Decision` is what every evaluation of the criterion produces: the numbers that went into
it and a one-line reason in plain words. The Ray adapters append each one, as one JSON object a
line, to ``autoterm_decisions.jsonl`` in the experiment directory; ``ray-autoterm report`` reads
them back with :meth:`Decision.from_dict`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

DECISION_LOG_NAME = "autoterm_decisions.jsonl"
"""File name of the decision log inside a Tune experiment directory."""

STOP_FILE_NAME = "autoterm_stop.json"
"""File name of the firing decision (with the trials running at the stop), next to the log."""

CALIBRATION_LOG_NAME = "autoterm_calibration.jsonl"
"""File name of the calibration record (``rule="calibrated"``), next to the decision log."""


@dataclasses.dataclass(frozen=True)
class Decision:
    """One evaluation of the automatic-termination criterion.

    All bound-related numbers are in the units of the metric. ``min_ucb`` and ``min_lcb`` are
    written for minimisation (a ``mode="max"`` metric is negated first), so for a maximised metric
    they are the negated scores; ``regret_bound`` and ``statistical_error`` are non-negative
    magnitudes either way. Fields that could not be computed (too few trials, failed fit) are
    ``None``.

    Attributes:
        num_trials: Completed trials with valid fold scores that the decision saw (``t``).
        should_stop: Whether the experiment should end now (Eq. 10: ``r̄_t < ε``).
        reason: One line in plain words explaining ``should_stop``.
        num_fit: Observations the bound's GP was fitted on (the best half, at least 20).
        beta: The confidence parameter ``β_t`` that was used.
        min_ucb: ``min_{γ ∈ G_t} μ_t(γ) + sqrt(β_t)·σ_t(γ)``.
        min_lcb: ``min_{γ ∈ Γ} μ_t(γ) − sqrt(β_t)·σ_t(γ)``.
        regret_bound: ``r̄_t = min_ucb − min_lcb`` (Eq. 8).
        bound_exact: ``False`` when the LCB was only screened because that already showed
            ``r̄_t >= ε`` (see ``AutoTermCriterion(exact_bound=...)``): ``regret_bound`` is then
            a lower estimate, and the true bound is at least this.
        statistical_error: ``ε`` of the incumbent (Eq. 9), or the user's fixed threshold.
        error_source: ``"cv"`` (Eq. 9), ``"paired"``, ``"pooled"`` or ``"threshold"``
            (``"emsr-gap threshold"`` for that rule: then ``regret_bound`` is the gap and
            ``statistical_error`` its threshold; for ``"prb"``, ``regret_bound`` is the
            ``1 − δ`` quantile of the sampled regret). ``"none"``: the stopper gave up on a
            run none of whose ended trials is usable (``num_trials`` 0; the reason says why).
        rule: The stopping rule's name (``AutoTermCriterion(rule=...)``; ``"paper"``: Eq. 10).
        incumbent_trial_id: Trial id of the incumbent ``γ*_t``.
        incumbent_config: Its configuration.
        incumbent_fold_scores: Its fold values as reported (metric units and sign).
        incumbent_value: Their mean, as reported (metric units and sign).
        mode: ``"min"`` or ``"max"``, the direction of the metric.
        trigger_trial_id: The most recently completed trial included in this decision.
        fit_ok: ``False`` when the GP fit or the bound failed (the rule then fails open).
        wall_time_s: Seconds the evaluation took.
        timestamp: Unix time at which the decision was made.
        run_id: The run of the stopper that made it (one per ``Tuner.fit``; kept on restore),
            so that reruns under one experiment name never mix in the log.
        num_pruned: Trials a ``FoldPruningScheduler`` had stopped by then (they count in
            ``num_trials`` when their folds are imputed, its default).
        folds_saved: Fold evaluations those pruned trials did not run.
    """

    num_trials: int
    should_stop: bool
    reason: str
    num_fit: int | None = None
    beta: float | None = None
    min_ucb: float | None = None
    min_lcb: float | None = None
    regret_bound: float | None = None
    bound_exact: bool = True
    statistical_error: float | None = None
    error_source: str = "cv"
    rule: str = "paper"
    incumbent_trial_id: str | None = None
    incumbent_config: dict[str, Any] | None = None
    incumbent_fold_scores: list[float] | None = None
    incumbent_value: float | None = None
    mode: str = "min"
    trigger_trial_id: str | None = None
    fit_ok: bool = True
    wall_time_s: float = 0.0
    timestamp: float = dataclasses.field(default_factory=time.time)
    run_id: str | None = None
    num_pruned: int = 0
    folds_saved: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (non-finite floats become ``None``)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (forward compatibility)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def summary(self) -> str:
        """A one-line human summary: the numbers and the reason."""
        bound = "n/a" if self.regret_bound is None else (
            f"{'' if self.bound_exact else '>= '}{self.regret_bound:.4g}"
        )
        err = "n/a" if self.statistical_error is None else f"{self.statistical_error:.4g}"
        verdict = "STOP" if self.should_stop else "continue"
        return (
            f"[{verdict}] after {self.num_trials} trials: regret bound {bound}, "
            f"statistical error {err} — {self.reason}"
        )
