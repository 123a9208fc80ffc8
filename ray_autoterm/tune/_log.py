"""The decision log of one run: ``autoterm_decisions.jsonl`` and ``autoterm_stop.json``.

Every line of ``autoterm_decisions.jsonl`` is one decision with the ``run_id`` of the stopper
that made it: a rerun under the same experiment name appends lines with a new ``run_id`` (and
``ray-autoterm report`` reads only the latest run), while a restored experiment continues its
run id. No decision is written after the one that stopped the run, so the last line of a run is
its firing decision; that decision is also written alone to ``autoterm_stop.json``, with the
trials that were running at the stop. With ``rule="calibrated"``, ``autoterm_calibration.jsonl``
holds the calibration record: one line per trial scored against the GP fitted before it came
(``ray-autoterm report`` draws it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
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


def _write(log_dir: str | None, name: str, text: str, how: str) -> None:
    if not log_dir:
        return
    try:
        os.makedirs(log_dir, exist_ok=True)
        with open(os.path.join(log_dir, name), how, encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        logger.warning("ray-autoterm could not write %s in %s: %s", name, log_dir, exc)
