"""Reading a finished experiment: the trials that ran, without the ones Tune never started."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def finished_results(grid: Iterable[Any]) -> list[Any]:
    """The results of the trials that ran and reported, in the grid's order.

    When the stopper ends an experiment, Tune has usually created more trials than it started
    (its default search creates up to 200 ahead of time); it reports those as ``TERMINATED``
    with empty metrics, logs "Failed to fetch metrics" for each, and keeps them in the
    ``ResultGrid``. This leaves them out: every result kept has metrics (and may still carry
    an ``error`` if the trial raised after reporting).

    Args:
        grid: A Tune ``ResultGrid`` (what ``Tuner.fit()`` returns) or any iterable of results.

    Returns:
        The ``ray.tune.Result`` objects of the trials that reported at least one result.

    Example:
        >>> class R:  # stands in for ray.tune.Result
        ...     def __init__(self, metrics): self.metrics = metrics
        >>> [r.metrics for r in finished_results([R({"cv_mean": 0.2}), R({}), R(None)])]
        [{'cv_mean': 0.2}]
    """
    return [r for r in grid if getattr(r, "metrics", None)]


__all__ = ["finished_results"]
