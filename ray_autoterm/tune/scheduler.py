"""``FoldPruningScheduler``: a Ray Tune scheduler that stops hopeless trials after a fold or two."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from ray_autoterm._validation import check_key, check_mode
from ray_autoterm.criterion.pruning import (
    FoldPruner,
    PruneDecision,
    impute_folds,
    reference_records,
)
from ray_autoterm.errors import invalid
from ray_autoterm.tune._keys import CV_MODE_KEY, CV_SCORES_KEY, NUM_FOLDS_KEY
from ray_autoterm.tune._shared import SharedState, attach

if TYPE_CHECKING:
    from ray_autoterm.history import History
    from ray_autoterm.tune.searcher import AutoTermSearcher
    from ray_autoterm.tune.stopper import AutoTermStopper

logger = logging.getLogger("ray_autoterm")

PRUNED_TRIALS = ("impute", "leave_out")


class FoldPruningScheduler(FIFOScheduler):
    """Stops a trial once the folds it has reported show it cannot become the incumbent.

    Trials stream their folds (:func:`~ray_autoterm.report_fold`, or
    ``cross_validate_and_report(..., stream=True)``, whose parallel fold tasks are cancelled when
    the trial is stopped). After each fold the scheduler applies
    :class:`~ray_autoterm.criterion.pruning.FoldPruner` to the trial's folds so far and the
    trials completed so far, and returns ``TrialScheduler.STOP`` when the fold-paired difference
    to the incumbent's same folds exceeds ``z = Φ⁻¹(confidence)`` standard errors. The same
    rule replays offline on recorded runs (``benchmarks/pruning.py``) with the same decisions.

    **Linked** (``stopper=`` or ``searcher=``), the scheduler reads and writes the history the
    :class:`~ray_autoterm.AutoTermStopper` and :class:`~ray_autoterm.AutoTermSearcher` share,
    and survives ``Tuner.restore`` with them. **Alone** (any searcher, or none), it keeps its own.

    **What a pruned trial teaches** (``pruned_trials``): with ``"impute"`` (default) it enters
    the shared history as a complete trial whose missing folds are the incumbent's shifted by
    the measured mean difference (its value is the paired estimate ``f̂* + d̄``): the stopper's
    GP and the searcher's GP see it like any other observation, it counts in ``t`` and
    ``min_trials``, and it can never be the incumbent (it is worse than the incumbent of its
    time). With ``"leave_out"`` it stays out of both GPs and of ``t``. The stop rule (Eq. 10) is
    unchanged either way. ``benchmarks/pruning.py`` measured both (README, "Fold pruning").

    Args:
        stopper: An :class:`~ray_autoterm.AutoTermStopper` to share the history with.
        searcher: An :class:`~ray_autoterm.AutoTermSearcher` to share the history with (if a
            stopper is given too, it must be the stopper's linked searcher).
        mode: ``"min"`` (losses) or ``"max"`` (scores); default: the linked stopper's or
            searcher's, else the Tuner's ``mode``, else ``"min"``.
        confidence: One-sided confidence that a pruned trial is worse than the incumbent.
        min_trials: Completed trials before anything is pruned.
        min_folds: Folds a trial reports before it can be pruned.
        pool_fraction: See :class:`~ray_autoterm.criterion.pruning.FoldPruner`.
        prior_dof: See :class:`~ray_autoterm.criterion.pruning.FoldPruner`.
        pruned_trials: ``"impute"`` or ``"leave_out"`` (see above).
        cv_scores_key: The result key of a complete fold list (when alone).

    Raises:
        InvalidArgumentError: at construction, for any argument out of range (naming it).

    Example:
        >>> from ray import tune
        >>> from ray_autoterm import AutoTermSearcher, AutoTermStopper
        >>> searcher = AutoTermSearcher({"x": tune.uniform(0, 1)})
        >>> stopper = AutoTermStopper(searcher=searcher)
        >>> scheduler = FoldPruningScheduler(stopper=stopper)
        >>> tune_config = tune.TuneConfig(search_alg=searcher, scheduler=scheduler)
        >>> scheduler.num_pruned
        0
    """

    _supports_buffered_results = False  # decide after every fold, not after a buffer of them

    def __init__(
        self,
        *,
        stopper: AutoTermStopper | None = None,
        searcher: AutoTermSearcher | None = None,
        mode: str | None = None,
        confidence: float = 0.95,
        min_trials: int = 10,
        min_folds: int = 1,
        pool_fraction: float = 0.5,
        prior_dof: float | None = None,
        pruned_trials: str = "impute",
        cv_scores_key: str = CV_SCORES_KEY,
    ) -> None:
        super().__init__()
        from ray_autoterm.tune.searcher import AutoTermSearcher
        from ray_autoterm.tune.stopper import AutoTermStopper

        if mode is not None:
            check_mode(mode)
        self._mode = mode
        # Validates confidence, min_trials, min_folds, pool_fraction and prior_dof.
        self.pruner = FoldPruner(
            mode=mode or "min", confidence=confidence, min_trials=min_trials,
            min_folds=min_folds, pool_fraction=pool_fraction, prior_dof=prior_dof,
        )
        if pruned_trials not in PRUNED_TRIALS:
            raise invalid("pruned_trials", pruned_trials, '"impute" or "leave_out"')
        self.pruned_trials = pruned_trials
        if stopper is not None and not isinstance(stopper, AutoTermStopper):
            raise invalid("stopper", stopper, "an AutoTermStopper (or None)")
        if searcher is not None and not isinstance(searcher, AutoTermSearcher):
            raise invalid("searcher", searcher, "an AutoTermSearcher (or None)")
        if stopper is not None and searcher is not None and stopper._state is not searcher._state:
            raise invalid("searcher", searcher,
                          "the searcher linked to `stopper` (AutoTermStopper(searcher=...))")
        self._stopper = stopper
        self._searcher = searcher
        owner = stopper if stopper is not None else searcher
        if owner is not None:
            self._state: SharedState = owner._state
        else:
            self._state = SharedState()
            self._state.cv_scores_key = check_key("cv_scores_key", cv_scores_key)
        self.pruned: dict[str, dict[str, Any]] = {}
        """Pruned trials: id → ``{"folds": measured, "num_folds": k, "reason": ...}``."""

    # ----------------------------------------------------------------- state
    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._state = attach(self._state)

    @property
    def history(self) -> History:
        """The trials recorded so far (shared with a linked stopper and searcher)."""
        return self._state.history

    @property
    def num_pruned(self) -> int:
        """How many trials this scheduler stopped."""
        return len(self.pruned)

    @property
    def folds_saved(self) -> int:
        """Fold evaluations the pruned trials did not run."""
        return sum(p["num_folds"] - p["folds"] for p in self.pruned.values())

    def mode(self) -> str:
        """The metric's direction in use (see ``mode``)."""
        for owner in (self._stopper, self._searcher):
            m = getattr(owner, "_mode", None) or getattr(owner, "mode", None)
            if isinstance(m, str) and m in ("min", "max"):
                return m
        return self._mode or "min"

    # ----------------------------------------------------------------- Tune API
    def set_search_properties(
        self, metric: str | None, mode: str | None, **spec: Any
    ) -> bool:
        """Take the Tuner's ``mode`` if none was given (the metric is not used: folds are)."""
        if mode is not None and self._mode is None:
            self._mode = check_mode(mode)
        return True

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        """A restored, already finished trial: take its final folds if the history lacks it."""
        status = getattr(trial, "status", None)
        last = getattr(trial, "last_result", None) or {}
        if status == "TERMINATED" and self._state.record(trial.trial_id) is None and last:
            self._state.ingest(trial.trial_id, {**last, "done": True}, trial.config)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        """Record the fold; ``STOP`` if the trial cannot become the incumbent."""
        trial_id = trial.trial_id
        state = self._state
        if trial_id in self.pruned:
            return TrialScheduler.STOP
        if self._mode is None and result.get(CV_MODE_KEY) in ("min", "max"):
            self._mode = result[CV_MODE_KEY]  # declared by report_fold(..., mode=...)
        state.ingest(trial_id, result, trial.config)
        folds = state.partial.get(trial_id)
        rec = state.record(trial_id)
        if not folds or rec is None or rec.complete:
            return TrialScheduler.CONTINUE
        decision = self.decide(trial_id, folds)
        if not decision.prune:
            return TrialScheduler.CONTINUE
        k = result.get(NUM_FOLDS_KEY)
        self._mark_pruned(trial_id, trial.config, folds, decision,
                          k if isinstance(k, int) else None)
        return TrialScheduler.STOP

    def decide(self, trial_id: str, folds: Mapping[int, float]) -> PruneDecision:
        """The rule on a trial's folds so far and the history (what ``on_trial_result`` asks)."""
        self.pruner.mode = self.mode()
        return self.pruner.evaluate(folds, self._state.completed(), trial_id)

    # ----------------------------------------------------------------- internals
    def _mark_pruned(self, trial_id: str, config: Mapping[str, Any], folds: Mapping[int, float],
                     decision: PruneDecision, k: int | None) -> None:
        measured = sorted(folds)
        refs = reference_records(self._state.completed())
        inc = self.pruner.incumbent(refs)
        k = k or len(inc.fold_scores)
        if self.pruned_trials == "impute":
            scores, complete = impute_folds(folds, inc), True
        else:
            scores, complete = [folds[i] for i in measured], False
        self._state.mark_pruned(trial_id, config, scores, measured, complete)
        self.pruned[trial_id] = {"folds": len(measured), "num_folds": k,
                                 "reason": decision.reason}
        logger.info("ray-autoterm prunes trial %s after %d of %d folds: %s",
                    trial_id, len(measured), k, decision.reason)

    def debug_string(self) -> str:
        return (f"Using FoldPruningScheduler: {self.num_pruned} trials pruned, "
                f"{self.folds_saved} fold evaluations saved.")


__all__ = ["FoldPruningScheduler"]
