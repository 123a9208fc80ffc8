#!/usr/bin/env python
"""CPU ms per decision of the kernel ensembles against the paper's rule, same data, same load.

Same data as ``benchmarks/calibration_overhead.py`` (a noisy quadratic with 5-fold CV on the
unit cube, ``overhead.make_records``). For each data set, each rule gets its own criterion,
evaluated after every trial from 20 to ``n`` (as the stopper does: warm starts, reused bounds),
and the median CPU seconds of its last ``--window`` decisions are taken; the rules run one
after the other on the same records in the same process, so a shared machine's load falls on
all alike. Writes ``benchmarks/results/precise/ensemble.cost.md`` with ``--out``.

    python benchmarks/ensemble_cost.py --out benchmarks/results/precise/ensemble.cost.md

``--bounds GLOB`` instead compares the bounds the replay (``benchmarks/stopping_rules.py``)
cached for the ensemble rules with the paper rule's, decision by decision, on the runs ``GLOB``
(each replay ends at its rule's stop, so only the trials both reached are compared; bounds far
from ``ε`` are screened lower estimates, in both).

    python benchmarks/ensemble_cost.py --bounds 'benchmarks/results/precise/runs-*-s[0-4].json'

``--members RUN`` replays one recorded precise run (``runs-RUN.json``) through the three rules,
a decision after every trial from 20 on, and prints where each first stops, with the ensemble
members' bounds, log evidences and BMA weights there.

    python benchmarks/ensemble_cost.py --members linear-xgboost-tpe-s1
"""

from __future__ import annotations

import argparse
import glob
import json
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


def _cached(run_path: str, rule: str) -> dict[str, Any] | None:
    """The replay's cached signals of ``{"rule": rule}`` on one run (``None`` if absent)."""
    p = Path(run_path)
    name = p.stem.replace("runs-", "", 1)
    for f in sorted((p.parent / "signals" / "variants").glob(f"{name}--*.json")):
        data = json.loads(f.read_text())
        if data.get("settings") == {"from_trial": 20, "rule": rule}:
            return data["signals"]
    return None


def compare_bounds(pattern: str) -> list[str]:
    """Per ensemble rule: the median ratio of its bound to the paper's, and the stops moved."""
    import numpy as np

    paths = sorted(glob.glob(pattern))
    out = [f"Runs: `{pattern}` ({len(paths)}).", "",
           "| rule | decisions | median bound / paper's | share above | stops later / "
           "earlier / same |", "|---|---|---|---|---|"]
    for rule in RULES[1:]:
        ratios, moved = [], [0, 0, 0]
        for path in paths:
            paper, ens = _cached(path, "paper"), _cached(path, rule)
            if paper is None or ens is None:
                continue
            for t in set(paper["bound"]) & set(ens["bound"]):
                a, b = paper["bound"][t], ens["bound"][t]
                if a is not None and b is not None and a > 0:
                    ratios.append(b / a)
            stop = [min((int(t) for t, v in s["stop"].items() if v), default=10**9)
                    for s in (paper, ens)]
            moved[0 if stop[1] > stop[0] else 1 if stop[1] < stop[0] else 2] += 1
        r = np.array(ratios)
        out.append(f"| {rule} | {r.size} | {np.median(r):.3f} | {np.mean(r > 1 + 1e-9):.0%} | "
                   f"{moved[0]} / {moved[1]} / {moved[2]} |")
    return out


def members_at_stops(name: str) -> list[str]:
    """Where each rule first stops on the recorded precise run ``name``, with its members."""
    from ray_autoterm.history import History
    from stopping_rules import run_space

    run = json.loads((Path(__file__).resolve().parent / "results" / "precise"
                      / f"runs-{name}.json").read_text())
    space = run_space(run)
    crits = {r: AutoTermCriterion(rule=r, seed=int(run.get("seed", 0))) for r in RULES}
    history, out = History(), []
    for t, tr in enumerate(run["trials"], 1):
        history.add(f"t{t:04d}", tr["config"], tr["fold_losses"])
        if t < 20:
            continue
        for rule, crit in list(crits.items()):
            d = crit.evaluate(history, space)
            if d.should_stop:
                del crits[rule]
                members = getattr(crit.improvement_evaluator, "members", [])
                out.append(f"{rule}: stops at trial {t}, bound {d.regret_bound:.4g} < ε "
                           f"{d.statistical_error:.4g}" + "".join(
                               f"; {m['kernel']} {m['bound']:.4g} (log evidence "
                               f"{m['log_evidence']:.1f}, w {m['weight']:.2f})"
                               for m in members))
        if not crits:
            break
    return out + [f"{rule}: never stops" for rule in crits]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ns", type=int, nargs="+", default=[50, 100])
    p.add_argument("--dims", type=int, nargs="+", default=[2, 9])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--out", default=None)
    p.add_argument("--bounds", default=None, metavar="GLOB",
                   help="compare the replay's cached bounds on these runs instead")
    p.add_argument("--members", default=None, metavar="RUN",
                   help="where each rule stops on one precise run, with the members' bounds")
    args = p.parse_args(argv)
    if args.members:
        print("\n".join(members_at_stops(args.members)))
        return 0
    if args.bounds:
        print("\n".join(compare_bounds(args.bounds)))
        return 0
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
    command = _bench.command_line("benchmarks/ensemble_cost.py", argv)
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
    _bench.emit(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
