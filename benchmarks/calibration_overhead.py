#!/usr/bin/env python
"""CPU cost of the calibration (issue 17): ``rule="calibrated"`` against ``rule="paper"``.

Same data as ``benchmarks/overhead_rules.py`` (a noisy quadratic with 5-fold CV on the unit
cube, ``overhead.make_records``). Two cases, both rules in the same process on the same records,
alternating so that a shared machine's load falls on both alike:

* steady: one criterion evaluated after every trial, the mean CPU time of the last ``--window``
  decisions up to n (the stopper's case; the calibration then scores each new trial against the
  previous decision's GP: one posterior call);
* first: a fresh criterion's first decision at n (the calibration back-fills its record with one
  extra GP fit on the first half of the trials; once per run);
* step: the CPU time of the calibration step itself (scoring the new trial against the previous
  GP, the conformal quantile, the scale) within the steady decisions, and its share of them. The
  ratio of two steady totals moves by +-10% between runs (GP refits and LCB minimisations land
  on different decisions); the step's own time is what the calibration adds, measured directly.

    python benchmarks/calibration_overhead.py \
        --out benchmarks/results/precise/calibration-overhead.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

_bench.single_threaded()

import overhead  # noqa: E402
from overhead_rules import steady  # noqa: E402
from ray_autoterm.criterion.calibration import CalibratedRegretBoundEvaluator  # noqa: E402
from ray_autoterm.criterion.terminator import AutoTermCriterion  # noqa: E402

RULES = ("paper", "calibrated")


class TimedCalibration(CalibratedRegretBoundEvaluator):
    """The calibrated evaluator, adding up the CPU seconds of its calibration step."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step_cpu = 0.0

    def _calibrate(self, observations: Any, model: Any, beta: float) -> tuple[float, str]:
        c, out = overhead.timed(super()._calibrate, observations, model, beta)
        self.step_cpu += c.cpu
        return out


def step_share(records: list[Any], space: Any, window: int) -> tuple[float, float]:
    """CPU seconds per decision of the calibration step, and of the whole decision, over the
    last ``window`` decisions of a calibrated criterion evaluated after every trial."""
    evaluator = TimedCalibration()
    crit = AutoTermCriterion(improvement_evaluator=evaluator)
    window = max(1, min(window, len(records) - 10))
    crit.evaluate(records[: len(records) - window], space)
    evaluator.step_cpu, total = 0.0, 0.0
    for k in range(len(records) - window + 1, len(records) + 1):
        c, _ = overhead.timed(crit.evaluate, records[:k], space)
        total += c.cpu
    return evaluator.step_cpu / window, total / window


def first(rule: str, records: list[Any], space: Any) -> float:
    """CPU seconds of a fresh criterion's first decision on ``records``."""
    c, _ = overhead.timed(AutoTermCriterion(rule=rule).evaluate, records, space)
    return float(c.cpu)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ns", type=int, nargs="+", default=[50, 100, 200])
    p.add_argument("--dims", type=int, nargs="+", default=[2, 9])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    steady("paper", overhead.make_records(25, 2, 99), overhead.make_space(2), 3)  # warm-up
    lines = ["| d | n | steady paper | steady calibrated | ratio | first paper | "
             "first calibrated | ratio | step | step share |", "|" + "---|" * 10]
    ratios, shares = [], []
    for d in args.dims:
        space = overhead.make_space(d)
        for n in args.ns:
            st: dict[str, list[float]] = {r: [] for r in RULES}
            fi: dict[str, list[float]] = {r: [] for r in RULES}
            step, whole = 0.0, 0.0
            for rep in range(args.repeats):
                records = overhead.make_records(n, d, rep)
                for rule in RULES:
                    st[rule].append(steady(rule, records, space, args.window))
                    fi[rule].append(first(rule, records, space))
                one, all_ = step_share(records, space, args.window)
                step, whole = step + one, whole + all_
            s = {r: statistics.median(v) for r, v in st.items()}
            f = {r: statistics.median(v) for r, v in fi.items()}
            ratios.append(s["calibrated"] / s["paper"])
            shares.append(step / whole)
            lines.append(f"| {d} | {n} | {1e3 * s['paper']:.0f} | {1e3 * s['calibrated']:.0f} | "
                         f"{s['calibrated'] / s['paper']:.2f} | {1e3 * f['paper']:.0f} | "
                         f"{1e3 * f['calibrated']:.0f} | {f['calibrated'] / f['paper']:.2f} | "
                         f"{1e3 * step / args.repeats:.1f} | {100 * step / whole:.1f}% |")
            print(lines[-1], flush=True)
    command = _bench.command_line("benchmarks/calibration_overhead.py", argv)
    text = "\n".join([
        "# CPU ms per decision: the calibrated bound against the paper's", "",
        f"Command: `{command}`; {_bench.describe(_bench.provenance())}.", "",
        f"Median over {args.repeats} data sets. Steady: mean of the last {args.window} "
        "decisions of a criterion evaluated after every trial (as the stopper does). First: a "
        "fresh criterion's first decision (the calibrated one back-fills its record with one "
        "extra GP fit). Step: CPU ms per steady decision of the calibration step itself, and its "
        "share of the calibrated decision. The machine was shared with other jobs: compare "
        "within a row.", "",
        *lines, "",
        f"Steady-state ratio calibrated/paper: median {statistics.median(ratios):.2f}, "
        f"max {max(ratios):.2f}. The calibration step's share of a steady decision: median "
        f"{100 * statistics.median(shares):.1f}%, max {100 * max(shares):.1f}%.", "",
    ])
    _bench.emit(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
