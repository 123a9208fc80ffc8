"""The decision log of one run: ``autoterm_decisions.jsonl`` and ``autoterm_stop.json``.

Every line of ``autoterm_decisions.jsonl`` is one decision with the ``run_id`` of the stopper
that made it: a rerun under the same experiment name appends lines with a new ``run_id`` (and
``ray-autoterm report`` reads only the latest run), while a restored experiment continues its
run id. No decision is written after the one that stopped the run, so the last line of a run is
its firing decision; that decision is also written alone to ``autoterm_stop.json``, with the
trials that were running at the stop. With ``rule="calibrated"``, ``autoterm_calibration.jsonl``
holds the calibration record: one line per trial scored against the GP fitted before it came
(``ray-autoterm report`` draws it).

The stop and the progress at 10, 20, ... trials are also logged in plain words
(:func:`log_stop`, :func:`log_milestone`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Iterable
from typing import Any

from ray_autoterm.criterion.decision import (
    CALIBRATION_LOG_NAME,
    DECISION_LOG_NAME,
    STOP_FILE_NAME,
    Decision,
)

logger = logging.getLogger("ray_autoterm")


def append_decision(log_dir: str | None, decision: Decision) -> None:
    """Append one decision line (nothing without a directory)."""
    _write(log_dir, DECISION_LOG_NAME, json.dumps(decision.to_dict(), default=str) + "\n", "a")


def append_calibration(log_dir: str | None, run_id: str | None, level: float,
                       predictions: Iterable[Any]) -> None:
    """Append calibration-record entries (:class:`~ray_autoterm.criterion.calibration.
    Prediction`), one line each, with the run id and the conformal level."""
    lines = "".join(json.dumps({"run_id": run_id, "level": level, **dataclasses.asdict(p)})
                    + "\n" for p in predictions)
    _write(log_dir, CALIBRATION_LOG_NAME, lines, "a")


def write_stop(log_dir: str | None, decision: Decision, running: Iterable[str]) -> None:
    """Write ``autoterm_stop.json``: the firing decision and the trials running at the stop."""
    data = {"run_id": decision.run_id, "decision": decision.to_dict(),
            "running_at_stop": sorted(running)}
    _write(log_dir, STOP_FILE_NAME, json.dumps(data, default=str, indent=1) + "\n", "w")


def log_calibration(log_dir: str | None, run_id: str | None, evaluator: Any,
                    written: int) -> int:
    """Append the calibration record's new entries (``rule="calibrated"``) to the log.

    Args:
        log_dir: The experiment directory (nothing is written without one).
        run_id: The stopper's run id.
        evaluator: The criterion's improvement evaluator; only one with a ``record`` (the
            calibrated rule's) has entries to write.
        written: How many of its entries are already in the log.

    Returns:
        How many entries are in the log now (pass it as ``written`` next time).

    Example:
        >>> log_calibration("", "run", evaluator=object(), written=0)
        0
    """
    record = getattr(evaluator, "record", None)
    if record is None or len(record) <= written:
        return written
    level = float(getattr(evaluator, "level", 0.9))
    append_calibration(log_dir, run_id, level, record[written:])
    return len(record)


def log_milestone(decision: Decision, next_milestone: int) -> int:
    """Log a decision that reached ``next_milestone`` trials (10, 20, ..., 100, 200, ...).

    Returns:
        The next milestone (``next_milestone`` itself when this decision did not reach it).

    Example:
        >>> log_milestone(Decision(num_trials=12, should_stop=False, reason=""), 10)
        20
        >>> log_milestone(Decision(num_trials=12, should_stop=False, reason=""), 20)
        20
    """
    if decision.num_trials < next_milestone:
        return next_milestone
    step = 10 ** max(1, int(math.log10(decision.num_trials)))
    logger.info("ray-autoterm: %s", decision.summary())
    return (decision.num_trials // step + 1) * step


def log_stop(decision: Decision, started: int, holdout: bool, value_key: str) -> None:
    """Log the firing decision in plain words (an error when no trial was ever usable).

    Args:
        decision: The decision that stopped the experiment.
        started: How many trials have started so far: those the decision did not count
            (running at the stop, or without usable fold scores) are named, as by
            ``ray-autoterm report``.
        holdout: Whether the trials report one validation set instead of folds.
        value_key: The result key of the incumbent's value (folds or holdout mean).

    Example:
        >>> log_stop(Decision(num_trials=0, should_stop=True, reason="no usable trials",
        ...                   error_source="none"), started=3, holdout=False, value_key="cv")
    """
    if decision.error_source == "none":
        logger.error("ray-autoterm stops the experiment: %s", decision.reason)
        return
    extra = max(0, started - decision.num_trials)
    usable = "usable validation results" if holdout else "usable fold scores"
    logger.info(
        "ray-autoterm stops the experiment after %d trials with %s (%d more started "
        "trial%s not counted so far: running at the stop, or without %s): the regret bound "
        "%.4g is below the statistical error %.4g. Incumbent: trial %s, mean %s = %.6g, "
        "config %s.",
        decision.num_trials, usable, extra, "s" * (extra != 1), usable, decision.regret_bound,
        decision.statistical_error,
        decision.incumbent_trial_id,
        value_key,
        decision.incumbent_value,
        decision.incumbent_config,
    )


def _write(log_dir: str | None, name: str, text: str, how: str) -> None:
    if not log_dir:
        return
    try:
        os.makedirs(log_dir, exist_ok=True)
        with open(os.path.join(log_dir, name), how, encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        logger.warning("ray-autoterm could not write %s in %s: %s", name, log_dir, exc)
