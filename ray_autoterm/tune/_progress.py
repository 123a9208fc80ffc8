"""The progress numbers ``AutoTermStopper(report_progress=True)`` adds to every result.

``autoterm/regret_bound``, ``autoterm/statistical_error``, ``autoterm/num_trials`` and
``autoterm/stopped`` are top-level numbers, so they reach Tune's CSV/JSON/TensorBoard loggers
and the columns of its default table. They are rebuilt once per decision: the stopper adds them
on Tune's per-result path.
"""

from __future__ import annotations

from collections.abc import Sequence

from ray_autoterm.criterion.decision import Decision

PROGRESS_KEY = "autoterm"
"""Prefix of the progress metrics added to every result (``autoterm/regret_bound``, ...)."""

ProgressCache = tuple[tuple[int, bool], dict[str, float]]
"""``((number of decisions, not stopped), metrics)``: what :func:`progress_metrics` last built."""


def progress_metrics(
    decisions: Sequence[Decision], stopped: bool, cache: ProgressCache | None = None
) -> ProgressCache:
    """The progress metrics after ``decisions``, with the key they are cached under.

    Args:
        decisions: Every decision so far, in order (the latest one is reported).
        stopped: Whether the experiment has been stopped.
        cache: What the previous call returned: returned as it is while neither the number of
            decisions nor ``stopped`` has changed.

    Returns:
        ``(key, metrics)``; keep it as the next call's ``cache`` and report ``metrics``.

    Example:
        >>> key, metrics = progress_metrics([], stopped=False)
        >>> metrics["autoterm/num_trials"], metrics["autoterm/stopped"]
        (0.0, 0.0)
        >>> progress_metrics([], stopped=False, cache=(key, metrics))[1] is metrics
        True
    """
    key = (len(decisions), not stopped)
    if cache is not None and cache[0] == key:
        return cache
    last = decisions[-1] if decisions else None
    nan = float("nan")

    def num(v: float | None) -> float:
        return nan if v is None else float(v)

    metrics = {
        f"{PROGRESS_KEY}/regret_bound": num(last.regret_bound if last else None),
        f"{PROGRESS_KEY}/statistical_error": num(last.statistical_error if last else None),
        f"{PROGRESS_KEY}/num_trials": float(last.num_trials if last else 0),
        f"{PROGRESS_KEY}/stopped": float(stopped),
    }
    return key, metrics

