"""ray-autoterm: end a Ray Tune hyperparameter search once going on can no longer pay off.

Implements the automatic-termination criterion of Makarova et al., "Automatic Termination for
Hyperparameter Optimization" (AutoML-Conf 2022): stop when a GP upper bound on the simple regret
(Eq. 8) falls below the statistical error of the incumbent's cross-validation estimate (Eq. 9).
"""

from __future__ import annotations

from ray_autoterm.criterion.decision import DECISION_LOG_NAME, Decision

__version__ = "0.1.0"

__all__ = [
    "DECISION_LOG_NAME",
    "Decision",
]
