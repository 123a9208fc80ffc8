"""ray-autoterm: end a Ray Tune hyperparameter search once going on can no longer pay off.

Implements the automatic-termination criterion of Makarova et al., "Automatic Termination for
Hyperparameter Optimization" (AutoML-Conf 2022): stop when a GP upper bound on the simple regret
(Eq. 8) falls below the statistical error of the incumbent's cross-validation estimate (Eq. 9).

Example:
    >>> from ray import tune
    >>> from ray_autoterm import AutoTermSearcher, AutoTermStopper
    >>> space = {"x": tune.uniform(0, 1)}
    >>> searcher = AutoTermSearcher(space)
    >>> stopper = AutoTermStopper(searcher=searcher)
"""

from __future__ import annotations

from ray_autoterm._logging import configure_default_logging
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
from ray_autoterm.errors import AutoTermError, GPFitError, InvalidArgumentError, SearchSpaceError
from ray_autoterm.gp import GPFitter, fit_gp
from ray_autoterm.history import History, TrialRecord
from ray_autoterm.plotting import plot_decisions
from ray_autoterm.space import SearchSpace
from ray_autoterm.tune import AutoTermSearcher, AutoTermStopper, report_cv_scores, report_fold
from ray_autoterm.tune.sklearn import cross_validate_and_report, cross_validate_folds

__version__ = "0.1.0"

configure_default_logging()

__all__ = [
    "DECISION_LOG_NAME",
    "AutoTermCriterion",
    "AutoTermError",
    "AutoTermSearcher",
    "AutoTermStopper",
    "CrossValidationError",
    "Decision",
    "FixedThreshold",
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
    "cv_statistical_error",
    "fit_gp",
    "plot_decisions",
    "regret_bound",
    "regret_bound_beta",
    "report_cv_scores",
    "report_fold",
    "top_subset_size",
]
