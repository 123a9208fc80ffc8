"""ray-autoterm: end a Ray Tune hyperparameter search once going on can no longer pay off.

Implements the automatic-termination criterion of Makarova et al., "Automatic Termination for
Hyperparameter Optimization" (AutoML-Conf 2022): stop when a GP upper bound on the simple regret
(Eq. 8) falls below the statistical error of the incumbent's cross-validation estimate (Eq. 9).

This package exports what a Ray Tune user touches: the stopper, the searcher, the fold-pruning
scheduler, the reporting helpers, the decision record and the errors. The mathematics (the
criterion, the GP, the search-space encoding, the trial history) does not import Ray and is the
advanced API, imported from its own module: :mod:`ray_autoterm.criterion` (``AutoTermCriterion``,
``CrossValidationError``, ``regret_bound``, ...), :mod:`ray_autoterm.criterion.pruning`
(``FoldPruner``), :mod:`ray_autoterm.gp` (``fit_gp``, ``GPFitter``), :mod:`ray_autoterm.history`
(``History``, ``TrialRecord``), :mod:`ray_autoterm.space` (``SearchSpace``) and
:mod:`ray_autoterm.tune` (``AutoTermCallback``).

The public names are imported on first use (PEP 562), so a trial process that only reports its
folds (:func:`report_cv_scores`, :func:`report_fold`, :func:`cross_validate_and_report`) never
imports torch, gpytorch or BoTorch; the stopper, the searcher and the criterion bring them in
when the driver first uses them.

Example:
    >>> from ray import tune
    >>> from ray_autoterm import AutoTermSearcher, AutoTermStopper
    >>> space = {"x": tune.uniform(0, 1)}
    >>> searcher = AutoTermSearcher(space)
    >>> stopper = AutoTermStopper(searcher=searcher)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ray_autoterm._lazy import lazy_exports
from ray_autoterm._logging import configure_default_logging

if TYPE_CHECKING:  # what the lazy names resolve to, for type checkers and IDEs
    from ray_autoterm.criterion.decision import DECISION_LOG_NAME, Decision
    from ray_autoterm.errors import (
        AutoTermError,
        GPFitError,
        InvalidArgumentError,
        SearchSpaceError,
        UnsupportedContextError,
    )
    from ray_autoterm.plotting import plot_decisions
    from ray_autoterm.tune.holdout import report_holdout, report_holdout_score
    from ray_autoterm.tune.reporting import report_cv_scores, report_fold
    from ray_autoterm.tune.results import finished_results
    from ray_autoterm.tune.scheduler import FoldPruningScheduler
    from ray_autoterm.tune.searcher import AutoTermSearcher
    from ray_autoterm.tune.sklearn import cross_validate_and_report, cross_validate_folds
    from ray_autoterm.tune.stopper import AutoTermStopper
    from ray_autoterm.tune.train import cross_validate_with_trainer, holdout_with_trainer

__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first access).
_LAZY: dict[str, str] = {
    "AutoTermStopper": "ray_autoterm.tune.stopper",
    "AutoTermSearcher": "ray_autoterm.tune.searcher",
    "FoldPruningScheduler": "ray_autoterm.tune.scheduler",
    "report_cv_scores": "ray_autoterm.tune.reporting",
    "report_fold": "ray_autoterm.tune.reporting",
    "cross_validate_and_report": "ray_autoterm.tune.sklearn",
    "cross_validate_folds": "ray_autoterm.tune.sklearn",
    "cross_validate_with_trainer": "ray_autoterm.tune.train",
    "report_holdout": "ray_autoterm.tune.holdout",
    "report_holdout_score": "ray_autoterm.tune.holdout",
    "holdout_with_trainer": "ray_autoterm.tune.train",
    "Decision": "ray_autoterm.criterion.decision",
    "DECISION_LOG_NAME": "ray_autoterm.criterion.decision",
    "plot_decisions": "ray_autoterm.plotting",
    "finished_results": "ray_autoterm.tune.results",
    "AutoTermError": "ray_autoterm.errors",
    "InvalidArgumentError": "ray_autoterm.errors",
    "SearchSpaceError": "ray_autoterm.errors",
    "GPFitError": "ray_autoterm.errors",
    "UnsupportedContextError": "ray_autoterm.errors",
}

# Names this package exported before, -> the module to import them from now (the advanced API).
_MOVED: dict[str, str] = {
    "AutoTermCriterion": "ray_autoterm.criterion",
    "CrossValidationError": "ray_autoterm.criterion",
    "FixedThreshold": "ray_autoterm.criterion",
    "RegretBound": "ray_autoterm.criterion",
    "cv_statistical_error": "ray_autoterm.criterion",
    "regret_bound": "ray_autoterm.criterion",
    "regret_bound_beta": "ray_autoterm.criterion",
    "top_subset_size": "ray_autoterm.criterion",
    "FoldPruner": "ray_autoterm.criterion.pruning",
    "GPFitter": "ray_autoterm.gp",
    "fit_gp": "ray_autoterm.gp",
    "History": "ray_autoterm.history",
    "TrialRecord": "ray_autoterm.history",
    "SearchSpace": "ray_autoterm.space",
    "AutoTermCallback": "ray_autoterm.tune",
}

__all__ = [
    # Ray Tune: end the search, propose configs, prune folds
    "AutoTermStopper",
    "AutoTermSearcher",
    "FoldPruningScheduler",
    # trial side: report the folds (import neither torch nor BoTorch)
    "report_cv_scores",
    "report_fold",
    "cross_validate_and_report",
    "cross_validate_folds",
    "cross_validate_with_trainer",
    "report_holdout",
    "report_holdout_score",
    "holdout_with_trainer",
    # what a decision says, where it is logged; the trials that ran
    "Decision",
    "DECISION_LOG_NAME",
    "plot_decisions",
    "finished_results",
    # errors
    "AutoTermError",
    "InvalidArgumentError",
    "SearchSpaceError",
    "GPFitError",
    "UnsupportedContextError",
]


__getattr__, __dir__ = lazy_exports(globals(), _LAZY, moved=_MOVED)


configure_default_logging()
