"""CPU ms per decision of the paper's rule with and without input warping, same runs, same load.

Replays the first trials of a few recorded precise runs through ``AutoTermCriterion`` (one
criterion per run and variant, a decision after every trial from 20 to ``--until``, never
stopping early), timing each ``evaluate`` with ``time.process_time`` (CPU seconds of this
process; torch runs single-threaded inside). The variants alternate run by run, so both see
the same machine load. Writes ``benchmarks/results/precise/warping.cost.md``.

    python benchmarks/warping_cost.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ray_autoterm.criterion import AutoTermCriterion
from ray_autoterm.history import History
from ray_autoterm.space import NumericParam, SearchSpace

HERE = Path(__file__).resolve().parent / "results" / "precise"  # the runs, and the output
RUNS = ["linear-xgboost-tpe-s1", "friedman3-mlp-tpe-s4", "binary-random_forest-gp-s2",
        "multiclass-mlp-random-s0", "hastie-xgboost-tpe-s1", "friedman1-random_forest-random-s3"]
VARIANTS = {"paper": {"rule": "paper"}, "paper + warping": {"rule": "paper", "input_warping": True}}


def decision_cpu_s(run: dict, kw: dict, until: int) -> list[float]:
    space = SearchSpace([NumericParam((p["name"],), float(p["low"]), float(p["high"]),
                                      log=bool(p["log"]), integer=bool(p["integer"]))
                         for p in run["space"]])
    crit = AutoTermCriterion(seed=int(run.get("seed", 0)), **kw)
    history, out = History(), []
    for t, tr in enumerate(run["trials"][:until], 1):
        history.add(f"t{t:04d}", tr["config"], tr["fold_losses"])
        if t >= 20:
            start = time.process_time()
            crit.evaluate(history, space)
            out.append(time.process_time() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--until", type=int, default=60)
    args = parser.parse_args()
    per: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
    for name in RUNS:
        run = json.loads((HERE / f"runs-{name}.json").read_text())
        for v, kw in VARIANTS.items():
            per[v][name] = decision_cpu_s(run, kw, args.until)
    lines = ["# CPU ms per decision: paper vs paper + input warping", "",
             f"`python benchmarks/warping_cost.py --until {args.until}`: a "
             f"decision after every trial 20..{args.until} of {len(RUNS)} precise runs "
             "(never stopping early), CPU seconds of `evaluate` (`time.process_time`), "
             "shared 2-core machine.", "",
             "| run | paper: median / mean ms | + warping: median / mean ms | ratio of medians |",
             "|---|---|---|---|"]
    for name in RUNS:
        a, b = np.array(per["paper"][name]) * 1e3, np.array(per["paper + warping"][name]) * 1e3
        ratio = np.median(b) / np.median(a)
        lines.append(f"| {name} | {np.median(a):.0f} / {np.mean(a):.0f} | "
                     f"{np.median(b):.0f} / {np.mean(b):.0f} | {ratio:.2f}× |")
    a = np.concatenate([per["paper"][n] for n in RUNS]) * 1e3
    b = np.concatenate([per["paper + warping"][n] for n in RUNS]) * 1e3
    lines.append(f"| **all ({len(a)} decisions each)** | {np.median(a):.0f} / {np.mean(a):.0f} | "
                 f"{np.median(b):.0f} / {np.mean(b):.0f} | {np.median(b) / np.median(a):.2f}× |")
    (HERE / "warping.cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
