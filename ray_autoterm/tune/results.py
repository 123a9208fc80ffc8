"""Reading a finished experiment: the trials that ran, without the ones Tune never started."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def finished_results(grid: Iterable[Any]) -> list[Any]:
    """The results of the trials that ran and reported, in the grid's order.

    When the stopper ends an experiment, Tune has usually created more trials than it started
    (its default search creates up to 200 ahead of time); it reports those as ``TERMINATED``
    with empty metrics, logs "Failed to fetch metrics" for each, and keeps them in the
    ``ResultGrid``. This leaves them out, and the trials stopped before their first report:
    every result kept has reported at least once (Tune's ``training_iteration`` >= 1), and may
    still carry an ``error`` if the trial raised after reporting.

    Args:
        grid: A Tune ``ResultGrid`` (what ``Tuner.fit()`` returns) or any iterable of results.

    Returns:
        The ``ray.tune.Result`` objects of the trials that reported at least one result.

    Example:
        >>> class R:  # stands in for ray.tune.Result
        ...     def __init__(self, metrics): self.metrics = metrics
        >>> ran = R({"cv_mean": 0.2, "training_iteration": 1})
        >>> [r.metrics["cv_mean"] for r in finished_results([ran, R({}), R(None), R({"done": 1})])]
        [0.2]
    """
    return [r for r in grid if ((getattr(r, "metrics", None) or {}).get("training_iteration")
                                or 0) >= 1]


__all__ = ["finished_results"]
