"""The pure mathematics of the criterion, the advanced Ray-free API: no Ray imports here.

The criterion is composed as Optuna's terminator: an improvement evaluator (how much better the
search could still get: the regret bound of Eq. 8 and its successors), an error evaluator (the
statistical error of Eq. 9 and its variants) and a stopping test deciding from the two;
:class:`AutoTermCriterion` joins them, and ``rule=`` names a preset of the three
(:func:`~ray_autoterm.criterion.rules.preset`).

Imported lazily (PEP 562): ``ray_autoterm.criterion.cv_error`` and
``ray_autoterm.criterion.error_evaluators`` (numpy only) can be used without loading the regret
bound's torch/BoTorch stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ray_autoterm._lazy import lazy_exports

if TYPE_CHECKING:
    from ray_autoterm.criterion.bound import RegretBoundEvaluator
    from ray_autoterm.criterion.calibration import CalibratedRegretBoundEvaluator
    from ray_autoterm.criterion.cv_error import cv_statistical_error
    from ray_autoterm.criterion.decision import DECISION_LOG_NAME, Decision
    from ray_autoterm.criterion.emsr import EMSRGapEvaluator
    from ray_autoterm.criterion.ensemble import KernelEnsembleRegretBoundEvaluator
    from ray_autoterm.criterion.error_evaluators import (
        BaseErrorEvaluator,
        CrossValidationErrorEvaluator,
        HoldoutErrorEvaluator,
        PairedErrorEvaluator,
        PooledErrorEvaluator,
        StaticErrorEvaluator,
    )
    from ray_autoterm.criterion.improvement import (
        BaseImprovementEvaluator,
        Improvement,
        Observations,
        StaticImprovementEvaluator,
    )
    from ray_autoterm.criterion.prb import ProbabilisticRegretEvaluator
    from ray_autoterm.criterion.regret import (
        RegretBound,
        regret_bound,
        regret_bound_beta,
        top_subset_size,
    )
    from ray_autoterm.criterion.rules import RULES, preset
    from ray_autoterm.criterion.stopping_tests import (
        BaseStoppingTest,
        BoundBelowError,
        GapBelowThreshold,
        RegretProbablyBelowError,
    )
    from ray_autoterm.criterion.terminator import AutoTermCriterion

    # Former names of the error evaluators.
    CrossValidationError = CrossValidationErrorEvaluator
    ErrorEvaluator = BaseErrorEvaluator
    FixedThreshold = StaticErrorEvaluator

_LAZY: dict[str, str] = {
    "DECISION_LOG_NAME": "ray_autoterm.criterion.decision",
    "RULES": "ray_autoterm.criterion.rules",
    "AutoTermCriterion": "ray_autoterm.criterion.terminator",
    "BaseErrorEvaluator": "ray_autoterm.criterion.error_evaluators",
    "BaseImprovementEvaluator": "ray_autoterm.criterion.improvement",
    "BaseStoppingTest": "ray_autoterm.criterion.stopping_tests",
    "BoundBelowError": "ray_autoterm.criterion.stopping_tests",
    "CalibratedRegretBoundEvaluator": "ray_autoterm.criterion.calibration",
    "CrossValidationError": "ray_autoterm.criterion.cv_error",
    "CrossValidationErrorEvaluator": "ray_autoterm.criterion.error_evaluators",
    "HoldoutErrorEvaluator": "ray_autoterm.criterion.error_evaluators",
    "Decision": "ray_autoterm.criterion.decision",
    "EMSRGapEvaluator": "ray_autoterm.criterion.emsr",
    "ErrorEvaluator": "ray_autoterm.criterion.cv_error",
    "FixedThreshold": "ray_autoterm.criterion.cv_error",
    "GapBelowThreshold": "ray_autoterm.criterion.stopping_tests",
    "KernelEnsembleRegretBoundEvaluator": "ray_autoterm.criterion.ensemble",
    "Improvement": "ray_autoterm.criterion.improvement",
    "Observations": "ray_autoterm.criterion.improvement",
    "PairedErrorEvaluator": "ray_autoterm.criterion.error_evaluators",
    "PooledErrorEvaluator": "ray_autoterm.criterion.error_evaluators",
    "ProbabilisticRegretEvaluator": "ray_autoterm.criterion.prb",
    "RegretBound": "ray_autoterm.criterion.regret",
    "RegretBoundEvaluator": "ray_autoterm.criterion.bound",
    "RegretProbablyBelowError": "ray_autoterm.criterion.stopping_tests",
    "StaticErrorEvaluator": "ray_autoterm.criterion.error_evaluators",
    "StaticImprovementEvaluator": "ray_autoterm.criterion.improvement",
    "cv_statistical_error": "ray_autoterm.criterion.cv_error",
    "preset": "ray_autoterm.criterion.rules",
    "regret_bound": "ray_autoterm.criterion.regret",
    "regret_bound_beta": "ray_autoterm.criterion.regret",
    "top_subset_size": "ray_autoterm.criterion.regret",
}

__all__ = [
    "DECISION_LOG_NAME",
    "RULES",
    "AutoTermCriterion",
    "BaseErrorEvaluator",
    "BaseImprovementEvaluator",
    "BaseStoppingTest",
    "BoundBelowError",
    "CalibratedRegretBoundEvaluator",
    "CrossValidationErrorEvaluator",
    "HoldoutErrorEvaluator",
    "Decision",
    "EMSRGapEvaluator",
    "GapBelowThreshold",
    "Improvement",
    "KernelEnsembleRegretBoundEvaluator",
    "Observations",
    "PairedErrorEvaluator",
    "PooledErrorEvaluator",
    "ProbabilisticRegretEvaluator",
    "RegretBound",
    "RegretBoundEvaluator",
    "RegretProbablyBelowError",
    "StaticErrorEvaluator",
    "StaticImprovementEvaluator",
    "cv_statistical_error",
    "preset",
    "regret_bound",
    "regret_bound_beta",
    "top_subset_size",
]


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
