"""Ray Tune adapters: the stopper, the searcher and the reporting helpers (thin).

Imported lazily (PEP 562): ``from ray_autoterm.tune import report_cv_scores`` in a trial loads
only the reporting helpers, not the stopper's and searcher's torch/BoTorch stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ray_autoterm._lazy import lazy_exports

if TYPE_CHECKING:
    from ray_autoterm.tune.callback import AutoTermCallback
    from ray_autoterm.tune.holdout import report_holdout, report_holdout_score
    from ray_autoterm.tune.reporting import report_cv_scores, report_fold
    from ray_autoterm.tune.results import finished_results
    from ray_autoterm.tune.searcher import AutoTermSearcher
    from ray_autoterm.tune.stopper import AutoTermStopper
    from ray_autoterm.tune.train import holdout_with_trainer

_LAZY: dict[str, str] = {
    "AutoTermCallback": "ray_autoterm.tune.callback",
    "AutoTermSearcher": "ray_autoterm.tune.searcher",
    "AutoTermStopper": "ray_autoterm.tune.stopper",
    "report_cv_scores": "ray_autoterm.tune.reporting",
    "report_fold": "ray_autoterm.tune.reporting",
    "report_holdout": "ray_autoterm.tune.holdout",
    "report_holdout_score": "ray_autoterm.tune.holdout",
    "holdout_with_trainer": "ray_autoterm.tune.train",
    "finished_results": "ray_autoterm.tune.results",
}

__all__ = [
    "AutoTermCallback", "AutoTermSearcher", "AutoTermStopper", "finished_results",
    "holdout_with_trainer", "report_cv_scores", "report_fold", "report_holdout",
    "report_holdout_score",
]


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
