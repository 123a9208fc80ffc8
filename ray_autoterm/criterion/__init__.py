"""The pure mathematics of the criterion: no Ray imports here.

Imported lazily (PEP 562): ``ray_autoterm.criterion.cv_error`` (numpy only) can be used without
loading the regret bound's torch/BoTorch stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ray_autoterm._lazy import lazy_exports

if TYPE_CHECKING:
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

_LAZY: dict[str, str] = {
    "DECISION_LOG_NAME": "ray_autoterm.criterion.decision",
    "AutoTermCriterion": "ray_autoterm.criterion.terminator",
    "CrossValidationError": "ray_autoterm.criterion.cv_error",
    "Decision": "ray_autoterm.criterion.decision",
    "ErrorEvaluator": "ray_autoterm.criterion.cv_error",
    "FixedThreshold": "ray_autoterm.criterion.cv_error",
    "RegretBound": "ray_autoterm.criterion.regret",
    "cv_statistical_error": "ray_autoterm.criterion.cv_error",
    "regret_bound": "ray_autoterm.criterion.regret",
    "regret_bound_beta": "ray_autoterm.criterion.regret",
    "top_subset_size": "ray_autoterm.criterion.regret",
}

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


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
