"""The pure mathematics of the criterion: no Ray imports here."""

from ray_autoterm.criterion.cv_error import (
    CrossValidationError,
    ErrorEvaluator,
    FixedThreshold,
    cv_statistical_error,
)
from ray_autoterm.criterion.decision import DECISION_LOG_NAME, Decision
from ray_autoterm.criterion.regret import (
    RegretBound,
    regret_bound,
    regret_bound_beta,
    top_subset_size,
)
from ray_autoterm.criterion.terminator import AutoTermCriterion

__all__ = [
    "DECISION_LOG_NAME",
    "AutoTermCriterion",
    "CrossValidationError",
    "Decision",
    "ErrorEvaluator",
    "FixedThreshold",
    "RegretBound",
    "cv_statistical_error",
    "regret_bound",
    "regret_bound_beta",
    "top_subset_size",
]
