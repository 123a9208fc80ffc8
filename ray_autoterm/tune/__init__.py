"""Ray Tune adapters: the stopper, the searcher and the reporting helpers (thin)."""

from ray_autoterm.tune.reporting import report_cv_scores, report_fold
from ray_autoterm.tune.searcher import AutoTermSearcher
from ray_autoterm.tune.stopper import AutoTermStopper

__all__ = ["AutoTermSearcher", "AutoTermStopper", "report_cv_scores", "report_fold"]
