"""ray-autoterm: end a Ray Tune hyperparameter search once going on can no longer pay off.

Implements the automatic-termination criterion of Makarova et al., "Automatic Termination for
Hyperparameter Optimization" (AutoML-Conf 2022): stop when a GP upper bound on the simple regret
(Eq. 8) falls below the statistical error of the incumbent's cross-validation estimate (Eq. 9).

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
    from ray_autoterm.criterion import (
        DECISION_LOG_NAME,
        AutoTermCriterion,
        CrossValidationError,
        Decision,
        FixedThreshold,
        RegretBound,
        cv_statistical_error,
        regret_bound,
        regret_bound_beta,
        top_subset_size,
    )
    from ray_autoterm.criterion.pruning import FoldPruner
    from ray_autoterm.errors import (
        AutoTermError,
        GPFitError,
        InvalidArgumentError,
        SearchSpaceError,
    )
    from ray_autoterm.gp import GPFitter, fit_gp
    from ray_autoterm.history import History, TrialRecord
    from ray_autoterm.plotting import plot_decisions
    from ray_autoterm.space import SearchSpace
    from ray_autoterm.tune.callback import AutoTermCallback
    from ray_autoterm.tune.reporting import report_cv_scores, report_fold
    from ray_autoterm.tune.scheduler import FoldPruningScheduler
    from ray_autoterm.tune.searcher import AutoTermSearcher
    from ray_autoterm.tune.sklearn import cross_validate_and_report, cross_validate_folds
    from ray_autoterm.tune.stopper import AutoTermStopper
    from ray_autoterm.tune.train import cross_validate_with_trainer

__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first access).
_LAZY: dict[str, str] = {
    "DECISION_LOG_NAME": "ray_autoterm.criterion.decision",
    "AutoTermCriterion": "ray_autoterm.criterion.terminator",
    "CrossValidationError": "ray_autoterm.criterion.cv_error",
    "Decision": "ray_autoterm.criterion.decision",
    "FixedThreshold": "ray_autoterm.criterion.cv_error",
    "RegretBound": "ray_autoterm.criterion.regret",
    "cv_statistical_error": "ray_autoterm.criterion.cv_error",
    "regret_bound": "ray_autoterm.criterion.regret",
    "regret_bound_beta": "ray_autoterm.criterion.regret",
    "top_subset_size": "ray_autoterm.criterion.regret",
    "AutoTermError": "ray_autoterm.errors",
    "GPFitError": "ray_autoterm.errors",
    "InvalidArgumentError": "ray_autoterm.errors",
    "SearchSpaceError": "ray_autoterm.errors",
    "GPFitter": "ray_autoterm.gp",
    "fit_gp": "ray_autoterm.gp",
    "History": "ray_autoterm.history",
    "TrialRecord": "ray_autoterm.history",
    "plot_decisions": "ray_autoterm.plotting",
    "SearchSpace": "ray_autoterm.space",
    "report_cv_scores": "ray_autoterm.tune.reporting",
    "report_fold": "ray_autoterm.tune.reporting",
    "AutoTermSearcher": "ray_autoterm.tune.searcher",
    "AutoTermStopper": "ray_autoterm.tune.stopper",
    "AutoTermCallback": "ray_autoterm.tune.callback",
    "cross_validate_and_report": "ray_autoterm.tune.sklearn",
    "cross_validate_folds": "ray_autoterm.tune.sklearn",
    "cross_validate_with_trainer": "ray_autoterm.tune.train",
    "FoldPruner": "ray_autoterm.criterion.pruning",
    "FoldPruningScheduler": "ray_autoterm.tune.scheduler",
}

__all__ = [
    "AutoTermCallback",
    "AutoTermCriterion",
    "AutoTermError",
    "AutoTermSearcher",
    "AutoTermStopper",
    "CrossValidationError",
    "DECISION_LOG_NAME",
    "Decision",
    "FixedThreshold",
    "FoldPruner",
    "FoldPruningScheduler",
    "GPFitError",
    "GPFitter",
    "History",
    "InvalidArgumentError",
    "RegretBound",
    "SearchSpace",
    "SearchSpaceError",
    "TrialRecord",
    "cross_validate_and_report",
    "cross_validate_folds",
    "cross_validate_with_trainer",
    "cv_statistical_error",
    "fit_gp",
    "plot_decisions",
    "regret_bound",
    "regret_bound_beta",
    "report_cv_scores",
    "report_fold",
    "top_subset_size",
]


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)


configure_default_logging()
