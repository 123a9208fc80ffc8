#!/usr/bin/env python
"""CPU ms per decision of each ``AutoTermCriterion(rule=...)``, against the paper's rule.

Same data and steady state as ``benchmarks/overhead.py`` (``ours``): a noisy quadratic with
5-fold CV on the unit cube, one criterion evaluated after every trial, the mean CPU time of the
last ``--window`` decisions up to n; median over ``--repeats`` data sets. All rules are timed in
the same process, one after the other, on the same records.

    python benchmarks/overhead_rules.py --out benchmarks/results/precise/study-overhead.md
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
from ray_autoterm.criterion.rules import RULES  # noqa: E402
from ray_autoterm.criterion.terminator import AutoTermCriterion  # noqa: E402


def steady(rule: str, records: list[Any], space: Any, window: int, **kw: Any) -> float:
    """Mean CPU seconds of the last ``window`` decisions of a criterion run after every trial."""
    crit = AutoTermCriterion(rule=rule, **kw)
    window = max(1, min(window, len(records) - 10))
    crit.evaluate(records[: len(records) - window], space)
    cpu = 0.0
    for k in range(len(records) - window + 1, len(records) + 1):
        c, _ = overhead.timed(crit.evaluate, records[:k], space)
        cpu += c.cpu
    return cpu / window


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ns", type=int, nargs="+", default=[20, 100, 200, 500])
    p.add_argument("--dims", type=int, nargs="+", default=[2, 9])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--rules", nargs="+", default=list(RULES))
    p.add_argument("--extra", action="append", default=[], metavar="LABEL=RULE:CONSECUTIVE",
                   help="a rule with more consecutive decisions, e.g. 'pooled x2=pooled:2'")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    variants: dict[str, tuple[str, dict[str, Any]]] = {r: (r, {}) for r in args.rules}
    for spec in args.extra:
        label, _, rest = spec.partition("=")
        rule, _, c = rest.partition(":")
        variants[label] = (rule, {"consecutive": int(c or 1)})
    steady("paper", overhead.make_records(25, 2, 99), overhead.make_space(2), 3)  # warm-up
    lines = ["| d | n | " + " | ".join(variants) + " |", "|" + "---|" * (len(variants) + 2)]
    for d in args.dims:
        space = overhead.make_space(d)
        for n in args.ns:
            cells = []
            for rule, kw in variants.values():
                ts = [steady(rule, overhead.make_records(n, d, rep), space, args.window, **kw)
                      for rep in range(args.repeats)]
                cells.append(f"{1e3 * statistics.median(ts):.0f}")
            lines.append(f"| {d} | {n} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    command = _bench.command_line("benchmarks/overhead_rules.py", argv)
    text = "\n".join([
        "# CPU ms per decision by rule (steady state, one process)", "",
        f"Command: `{command}`; {_bench.describe(_bench.provenance())}.", "",
        "Median over repeats of the mean CPU time of the last decisions up to n (decisions "
        "after every trial; GP refits after 10% new data, as shipped). The machine was shared "
        "with other jobs: compare the columns of one row, not absolute values.", "",
        *lines, "",
    ])
    _bench.emit(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
