#!/usr/bin/env python
"""CPU ms per decision of the kernel ensembles against the paper's rule, same data, same load.

Same data as ``benchmarks/calibration_overhead.py`` (a noisy quadratic with 5-fold CV on the
unit cube, ``overhead.make_records``). For each data set, each rule gets its own criterion,
evaluated after every trial from 20 to ``n`` (as the stopper does: warm starts, reused bounds),
and the median CPU seconds of its last ``--window`` decisions are taken; the rules run one
after the other on the same records in the same process, so a shared machine's load falls on
all alike. Writes ``benchmarks/results/precise/ensemble.cost.md`` with ``--out``.

    python benchmarks/ensemble_cost.py --out benchmarks/results/precise/ensemble.cost.md
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

_bench.single_threaded()

import overhead  # noqa: E402
from ray_autoterm.criterion.terminator import AutoTermCriterion  # noqa: E402

RULES = ("paper", "kernel-ensemble", "kernel-bma")


def steady_median(rule: str, records: list[Any], space: Any, window: int) -> float:
    """Median CPU seconds of the last ``window`` decisions of a criterion run after every
    trial from 20 on."""
    crit = AutoTermCriterion(rule=rule)
    cpu = []
    for k in range(20, len(records) + 1):
        start = time.process_time()
        crit.evaluate(records[:k], space)
        cpu.append(time.process_time() - start)
    return statistics.median(cpu[-window:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ns", type=int, nargs="+", default=[50, 100])
    p.add_argument("--dims", type=int, nargs="+", default=[2, 9])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    steady_median("paper", overhead.make_records(25, 2, 99), overhead.make_space(2), 3)  # warm-up
    lines = ["| d | n | paper ms | kernel-ensemble ms | ratio | kernel-bma ms | ratio |",
             "|" + "---|" * 7]
    ratios: dict[str, list[float]] = {r: [] for r in RULES[1:]}
    for d in args.dims:
        space = overhead.make_space(d)
        for n in args.ns:
            per: dict[str, list[float]] = {r: [] for r in RULES}
            for rep in range(args.repeats):
                records = overhead.make_records(n, d, rep)
                for rule in RULES:
                    per[rule].append(steady_median(rule, records, space, args.window))
            m = {r: statistics.median(v) for r, v in per.items()}
            for r in RULES[1:]:
                ratios[r].append(m[r] / m["paper"])
            lines.append(
                f"| {d} | {n} | {1e3 * m['paper']:.0f} | {1e3 * m['kernel-ensemble']:.0f} | "
                f"{m['kernel-ensemble'] / m['paper']:.2f} | {1e3 * m['kernel-bma']:.0f} | "
                f"{m['kernel-bma'] / m['paper']:.2f} |")
            print(lines[-1], flush=True)
    command = "python " + " ".join(shlex.quote(a) for a in [
        "benchmarks/ensemble_cost.py", *(sys.argv[1:] if argv is None else argv)])
    text = "\n".join([
        "# CPU ms per decision: the kernel ensembles against the paper's rule", "",
        f"Command: `{command}`; {_bench.describe(_bench.provenance())}.", "",
        f"Median over {args.repeats} data sets of the median CPU time (`time.process_time`) of "
        f"the last {args.window} decisions of a criterion evaluated after every trial from 20 "
        "to n (as the stopper does). The machine was shared with other jobs: compare within "
        "a row.", "",
        *lines, "",
        *(f"Ratio {r}/paper: median {statistics.median(v):.2f}, max {max(v):.2f}."
          for r, v in ratios.items()), "",
    ])
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
