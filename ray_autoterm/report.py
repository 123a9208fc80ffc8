"""``ray-autoterm report EXPERIMENT_DIR [--output PNG] [--planned-trials N]`` (also ``python -m
ray_autoterm report``): why and when a search stopped, from the AutoTermStopper's decision log
and Tune's ``result.json`` files, in plain words and one figure (see :mod:`.plotting`); with
``rule="calibrated"``, also the calibration record and its figure.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import json
import logging
import os
import pickletools
import sys
from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from ray_autoterm.criterion.decision import CALIBRATION_LOG_NAME, DECISION_LOG_NAME, Decision
from ray_autoterm.errors import AutoTermError
from ray_autoterm.plotting import (  # matplotlib itself is imported when plotting
    plot_calibration,
    plot_decisions,
)

if TYPE_CHECKING:
    from ray_autoterm.criterion.calibration import Prediction

logger = logging.getLogger(__name__)

_FINISHED = ("TERMINATED", "ERROR")
_INT_OPS = ("BININT", "BININT1", "BININT2", "LONG1", "LONG4", "INT", "LONG")
# Tune pickles its search state (despite the ``.json``), and ``tuner.pkl``; the planned number of
# trials is read from their opcodes, never by unpickling (that would run arbitrary user code).
_BUDGET_FILES = (
    ("basic-variant-state-*.json", "_total_samples"),  # grid x num_samples, default search
    ("search_gen_state-*.json", "total_samples"),  # a Searcher (AutoTermSearcher, Optuna, ...)
    ("tuner.pkl", "num_samples"),  # TuneConfig(num_samples=...)
)


class ReportError(AutoTermError):
    """A user error of the ``report`` command (bad directory, no decision log)."""


def load_decisions(path: str | os.PathLike[str], all_runs: bool = False) -> list[Decision]:
    """Read a decision log back into :class:`~ray_autoterm.Decision` objects, in time order.

    Tolerates a truncated last line (the run is still writing) and unknown keys (newer versions).
    A rerun under the same experiment name appends to the same log with a new ``run_id``; by
    default only the latest run's decisions are returned (a restored run keeps its run id).

    Args:
        path: The ``autoterm_decisions.jsonl`` file, or the experiment directory holding it.
        all_runs: Return the decisions of every run in the log, not only the latest.

    Returns:
        The decisions, oldest first (possibly empty).

    Raises:
        ReportError: ``path`` does not exist, or is a directory without a decision log.

    Example:
        >>> import json, pathlib, tempfile
        >>> from ray_autoterm import Decision
        >>> exp = pathlib.Path(tempfile.mkdtemp())
        >>> d = Decision(num_trials=25, should_stop=True, reason="bound < error")
        >>> _ = (exp / "autoterm_decisions.jsonl").write_text(json.dumps(d.to_dict()) + "\\n{trunc")
        >>> [x.num_trials for x in load_decisions(exp)]
        [25]
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ReportError(f"{path} does not exist")
    if os.path.isdir(path):
        log = os.path.join(path, DECISION_LOG_NAME)
        if not os.path.isfile(log):
            nested = sorted(glob.glob(os.path.join(glob.escape(path), "*", DECISION_LOG_NAME)))
            hint = "".join(f"\n  found one in {os.path.dirname(p)}" for p in nested[:5])
            raise ReportError(f"no {DECISION_LOG_NAME} found in {path}; was the experiment run "
                              f"with AutoTermStopper?{hint}")
        path = log
    decisions = []
    for row in _read_json(path, lines=True):  # a cut-off last line (run still writing) is skipped
        try:
            decisions.append(Decision.from_dict(row))
        except TypeError:  # a line without the required fields
            logger.warning("Skipping a line of %s without the decision fields: %s", path, row)
    if decisions and not all_runs:
        latest = decisions[-1].run_id
        decisions = [d for d in decisions if d.run_id == latest]
    return decisions


def load_calibration(exp_dir: str, run_id: str | None) -> tuple[list[Prediction], float]:
    """The calibration record of run ``run_id`` (``rule="calibrated"``) and its level, from
    ``autoterm_calibration.jsonl``; ``([], 0.9)`` when the run kept none.

    Example:
        >>> import json, pathlib, tempfile
        >>> exp = pathlib.Path(tempfile.mkdtemp())
        >>> row = {"run_id": "r1", "level": 0.95, "trial_id": "t1", "num_trials": 20,
        ...        "mean": 0.3, "sd": 0.05, "sd_f": 0.04, "loss": 0.2, "z": 2.0}
        >>> _ = (exp / "autoterm_calibration.jsonl").write_text(json.dumps(row) + "\\n")
        >>> record, level = load_calibration(str(exp), "r1")
        >>> [p.trial_id for p in record], level
        (['t1'], 0.95)
    """
    path = os.path.join(exp_dir, CALIBRATION_LOG_NAME)
    if not os.path.isfile(path):
        return [], 0.9
    from ray_autoterm.criterion.calibration import Prediction  # imports torch: only when needed
    fields = [f.name for f in dataclasses.fields(Prediction)]
    record: list[Prediction] = []
    level = 0.9
    for row in _read_json(path, lines=True):
        if row.get("run_id") != run_id:
            continue
        try:
            record.append(Prediction(**{k: row[k] for k in fields}))
        except (KeyError, TypeError):
            logger.warning("Skipping a line of %s without the record's fields: %s", path, row)
            continue
        level = float(row.get("level", level))
    return record, level


def calibration_summary(record: Sequence[Prediction], level: float) -> str:
    """One line on the calibration record: trials scored, how many came out better than the
    GP's one-sided ``level`` interval allowed (nominal ``1 − level``)."""
    q = NormalDist().inv_cdf(level)
    below = sum(p.z > q for p in record)
    return (f"Calibration: {len(record)} trials scored against the GP fitted before them; "
            f"{below} ({100 * below / len(record):.0f}%) came out better than its one-sided "
            f"{100 * level:g}% interval allowed (nominal {100 * (1 - level):.0f}%).")


def count_runs(path: str | os.PathLike[str]) -> int:
    """How many runs (``run_id`` values) the decision log at ``path`` holds."""
    return len({d.run_id for d in load_decisions(path, all_runs=True)})


def read_trials(exp_dir: str) -> list[dict[str, Any]]:
    """The trials that started: ``trial_id``, ``finished``, ``time_s``, ``start``, ``end``.

    One definition throughout: a trial *started* when Tune started it (it has a start time or
    results); trials that Tune created but never started (it marks them TERMINATED when the
    experiment stops) do not count. *Finished*: started and ended (TERMINATED or ERROR).
    Statuses and the trial list are from the newest ``experiment_state-*.json``, so an earlier
    run under the same name is not counted (without a state file, a trial with results counts
    as finished); times from the trial folders' ``result.json`` (``time_total_s``).
    """
    trials: dict[str, dict[str, Any]] = {}
    for entry in _read_json(_newest(exp_dir, "experiment_state-*.json")).get("trial_data", []):
        try:
            meta, run = json.loads(entry[0]), json.loads(entry[1])
        except (ValueError, TypeError, IndexError):
            continue
        if isinstance(meta, dict) and isinstance(run, dict) and "trial_id" in meta:
            trials[meta["trial_id"]] = dict(status=meta.get("status"), start=run.get("start_time"))
    known = bool(trials)
    for result_file in glob.glob(os.path.join(glob.escape(exp_dir), "*", "result.json")):
        rows = _read_json(result_file, lines=True) or [{}]
        tid = str(rows[-1].get("trial_id") or os.path.basename(os.path.dirname(result_file)))
        if known and tid not in trials:
            continue  # a trial of an earlier run under the same name
        info = trials.setdefault(tid, {"status": "TERMINATED", "start": None})
        end, first = _num(rows[-1].get("timestamp")), _num(rows[0].get("timestamp"))
        time_s = _num(rows[-1].get("time_total_s"))
        time_s = end - first if time_s is None and end and first else time_s
        start = _num(info["start"]) or (end - time_s if end and time_s else first)
        info.update(time_s=time_s, end=end, start=start, has_result=True)
    return [{"trial_id": k, "finished": v["status"] in _FINISHED, **v} for k, v in trials.items()
            if v.get("has_result") or v["start"] is not None or v["status"] in ("RUNNING", "ERROR")]


def planned_trials(exp_dir: str) -> int | None:
    """The planned number of trials (Tune's ``num_samples``, times grid size), if recorded."""
    for pattern, key in _BUDGET_FILES:
        path = _newest(exp_dir, pattern)
        value = _scan_pickle_int(path, key) if path else None
        if value is not None and value > 0:  # num_samples=-1 means "until stopped"
            return value
    return None


def _usable(decision: Decision) -> str:
    """What a counted trial reported: fold scores, or (holdout runs) a validation result."""
    return ("usable validation results" if decision.error_source == "holdout"
            else "usable fold scores")


def summarize(decisions: Sequence[Decision], trials: Sequence[dict[str, Any]],
              planned: int | None = None, budget_source: str = "--planned-trials") -> str:
    """The plain-words summary that ``ray-autoterm report`` prints (without the figure line)."""
    times = [t["time_s"] for t in trials if t["finished"] and t.get("time_s") is not None]
    mean_s = sum(times) / len(times) if times else None
    each = f" ({_dur(mean_s)} each on average)" if mean_s is not None else ""
    done = sum(t["finished"] for t in trials)
    lines = [f"Trials: {len(trials)} started, {done} finished{each}."]
    stop = next((d for d in decisions if d.should_stop), None)
    last = decisions[-1] if decisions else None
    if last is None:
        lines.append("No decision yet: no trial has completed with fold scores.")
    elif stop is not None and stop.error_source == "none":  # the stopper gave up (no usable trial)
        lines.append(f"Stopped after 0 trials with usable fold scores: {stop.reason}")
    elif stop is not None:
        what = {"cv": "statistical error", "threshold": "threshold",
                "holdout": "holdout SE (sd/sqrt(n))"}.get(
            stop.error_source, f"{stop.error_source} error")
        usable = _usable(stop)
        lines.append(f"Stopped after {stop.num_trials} trials with {usable} (rule "
                     f"\"{stop.rule}\"): regret bound {_g(stop.regret_bound)} < {what} "
                     f"{_g(stop.statistical_error)}.")
        extra = len(trials) - stop.num_trials
        if extra > 0:
            lines.append(f"  ({extra} more started trial{'s' * (extra > 1)} not counted: "
                         f"running at the stop, or without {usable}.)")
    else:
        at_least = "" if last.bound_exact else ">= "
        lines.append(f"Not stopped yet: bound {at_least}{_g(last.regret_bound)} vs error "
                     f"{_g(last.statistical_error)} after {last.num_trials} trials "
                     f"({last.reason}).")
    inc = stop or last
    if inc is not None and inc.num_pruned:
        lines.append(f"Pruned: {inc.num_pruned} trials stopped after a fold or more "
                     f"(FoldPruningScheduler), {inc.folds_saved} fold evaluations saved.")
    if inc is not None:
        lines.append(f"Rule: \"{inc.rule}\", error: {inc.error_source}.")
    if inc is not None and inc.incumbent_trial_id is not None:
        folds = ", ".join(_g(v) for v in inc.incumbent_fold_scores or [])
        where = ("on one validation set" if inc.error_source == "holdout"
                 else f"over folds [{folds}]")
        lines.append(f"Incumbent: trial {inc.incumbent_trial_id}, mean "
                     f"{_g(inc.incumbent_value)} ({inc.mode}) {where}")
        config = json.dumps(inc.incumbent_config, default=str, sort_keys=True)
        lines.append(f"  config: {config}")
    lines.append(_budget(stop is not None, trials, planned, budget_source, mean_s))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ray-autoterm``; returns 0, or 2 for a user error (printed in plain words)."""
    parser = argparse.ArgumentParser(prog="ray-autoterm", description="Inspect ray-autoterm runs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rep = sub.add_parser("report", help="why and when an experiment stopped; writes a PNG")
    rep.add_argument("experiment_dir", metavar="EXPERIMENT_DIR", help="Tune experiment directory")
    rep.add_argument("--output", "-o", metavar="PNG",
                     help="default: EXPERIMENT_DIR/autoterm_report.png")
    rep.add_argument("--planned-trials", type=int, metavar="N",
                     help="the budget you would have run (default: Tune's num_samples, if saved)")
    try:
        args = parser.parse_args(argv)
        if args.planned_trials is not None and args.planned_trials < 1:
            parser.error("--planned-trials must be a positive whole number of trials")
    except SystemExit as exc:  # --help (0) and usage errors (2, message already printed)
        return int(exc.code or 0)
    exp_dir = os.path.abspath(os.path.expanduser(args.experiment_dir))
    try:
        decisions = load_decisions(exp_dir)  # also accepts the log file itself
        exp_dir = exp_dir if os.path.isdir(exp_dir) else os.path.dirname(exp_dir)
        planned, source = args.planned_trials, "--planned-trials"
        if planned is None:
            planned, source = planned_trials(exp_dir), "Tune's num_samples"
        print(f"ray-autoterm report for {exp_dir}")
        runs = count_runs(exp_dir)
        if runs > 1:
            print(f"(The decision log holds {runs} runs under this name; this report is about "
                  f"the latest, run {decisions[-1].run_id}.)")
        print(summarize(decisions, read_trials(exp_dir), planned, source))
        output = args.output or os.path.join(exp_dir, "autoterm_report.png")
        try:
            plot_decisions(decisions, title=os.path.basename(exp_dir)).savefig(output, dpi=120)
        except OSError as exc:
            raise ReportError(f"could not write the figure to {output}: {exc}") from None
        print(f"Figure: {output}")
        record, level = load_calibration(exp_dir, decisions[-1].run_id if decisions else None)
        if record:
            print(calibration_summary(record, level))
            root, ext = os.path.splitext(output)
            calib = f"{root}_calibration{ext or '.png'}"
            try:
                plot_calibration(record, level).savefig(calib, dpi=120)
            except OSError as exc:
                raise ReportError(f"could not write the figure to {calib}: {exc}") from None
            print(f"Calibration figure: {calib}")
    except ReportError as exc:
        print(f"ray-autoterm: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _budget(stopped: bool, trials: Sequence[dict[str, Any]], planned: int | None, source: str,
            mean_s: float | None) -> str:
    if planned is None:
        return "Planned budget unknown (pass --planned-trials N to see the trials and time saved)."
    text = f"Planned budget: {planned} trials ({source})"
    if not stopped:
        return f"{text}; {len(trials)} run so far."
    saved = max(planned - len(trials), 0)
    text += f"; saved {saved} trials ({100 * saved / planned:.0f}%)"
    if saved and mean_s is not None:
        text += f", about {_dur(saved * mean_s)} of trial time"
        spans = [(t["start"], t["end"]) for t in trials if t.get("start") and t.get("end")]
        elapsed = max(e for _, e in spans) - min(s for s, _ in spans) if spans else 0.0
        if elapsed > 0:  # wall-clock, at the observed concurrency and overheads
            text += f" (~{_dur(saved * elapsed / len(trials))} wall-clock at the pace observed)"
    return text + "."


def _scan_pickle_int(path: str, key: str) -> int | None:
    """The int stored right after the string ``key`` in a pickle, without unpickling it."""
    with contextlib.suppress(Exception), open(path, "rb") as f:  # a format change: budget unknown
        previous = None
        for op, arg, _ in pickletools.genops(f.read()):
            if op.name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                continue
            if previous == key and op.name in _INT_OPS and isinstance(arg, int):
                return arg
            previous = arg if isinstance(arg, str) else None
    return None


def _newest(exp_dir: str, pattern: str) -> str | None:
    paths = glob.glob(os.path.join(glob.escape(exp_dir), pattern))
    return max(paths, key=os.path.getmtime) if paths else None


def _read_json(path: str | None, lines: bool = False) -> Any:
    """A JSON file's dict, or a JSON-lines file's dicts; unreadable parts are skipped."""
    rows = []
    with contextlib.suppress(OSError), open(path or "", encoding="utf-8", errors="replace") as f:
        for text in f.readlines() if lines else [f.read()]:
            with contextlib.suppress(ValueError):
                rows.append(json.loads(text))
    rows = [row for row in rows if isinstance(row, dict)]
    return rows if lines else (rows or [{}])[0]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _g(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _dur(seconds: float) -> str:
    m = seconds / 60
    return f"{seconds:.1f} s" if m < 2 else f"{m:.1f} min" if m < 120 else f"{m / 60:.1f} h"
