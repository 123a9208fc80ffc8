"""Ray Tune adapters: the stopper, the searcher and the reporting helpers (thin).

Imported lazily (PEP 562): ``from ray_autoterm.tune import report_cv_scores`` in a trial loads
only the reporting helpers, not the stopper's and searcher's torch/BoTorch stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ray_autoterm.tune.reporting import report_cv_scores, report_fold
    from ray_autoterm.tune.searcher import AutoTermSearcher
    from ray_autoterm.tune.stopper import AutoTermStopper

_LAZY: dict[str, str] = {
    "AutoTermSearcher": "ray_autoterm.tune.searcher",
    "AutoTermStopper": "ray_autoterm.tune.stopper",
    "report_cv_scores": "ray_autoterm.tune.reporting",
    "report_fold": "ray_autoterm.tune.reporting",
}

__all__ = ["AutoTermSearcher", "AutoTermStopper", "report_cv_scores", "report_fold"]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ray_autoterm.tune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
