#!/usr/bin/env python
"""The calibration record of the bound's GP on recorded runs (issue 17), and its plot.

For each run file, ``AutoTermCriterion(rule="calibrated")`` is evaluated after every trial
from ``--from-trial`` to ``--until`` (as ``stopping_rules.py`` replays it, back-fill included),
and its record (each trial against the GP fitted before it came,
``CalibratedRegretBoundEvaluator.record``) is summarised: how many trials came out below the
GP's one-sided ``level`` interval ``μ − Φ⁻¹(level)·sd`` (nominal: ``1 − level``), the
conformal quantile and the scale ``s``. ``--png DIR`` draws each run's record with
``ray_autoterm.plotting.plot_calibration`` (PNGs are run outputs: not committed).

    python benchmarks/calibration_record.py \\
        benchmarks/results/precise/runs-linear-xgboost-tpe-s1.json \\
        --out benchmarks/results/precise/calibration-record.md --png /tmp/calibration
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

_bench.single_threaded()

import stopping_rules as sr  # noqa: E402


def record_of(run: dict[str, Any], from_trial: int, until: int, level: float) -> list[Any]:
    """The calibrated criterion's record after replaying ``run`` up to trial ``until``."""
    from ray_autoterm.criterion.terminator import AutoTermCriterion
    from ray_autoterm.history import History

    space = sr.run_space(run)
    crit = AutoTermCriterion(seed=int(run.get("seed", 0)), rule="calibrated",
                             calibration_level=level)
    history = History()
    for t, tr in enumerate(run["trials"][:until], 1):
        history.add(f"t{t:04d}", tr["config"], tr["fold_losses"])
        if t >= from_trial:
            crit.evaluate(history, space)
    return list(crit.improvement_evaluator.record)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run files (runs-*.json)")
    p.add_argument("--from-trial", type=int, default=20)
    p.add_argument("--until", type=int, default=60)
    p.add_argument("--level", type=float, default=0.9)
    p.add_argument("--out", default=None)
    p.add_argument("--png", default=None, help="folder for one PNG per run")
    args = p.parse_args(argv)
    from ray_autoterm.criterion.calibration import calibration_scale, normal_quantile

    q = normal_quantile(args.level)
    lines = ["| run | trials scored | below μ − Φ⁻¹(level)·sd | share | largest z | scale s |",
             "|---|---|---|---|---|---|"]
    total = below_total = 0
    for path in args.runs:
        run = json.loads(Path(path).read_text())
        rec = record_of(run, args.from_trial, args.until, args.level)
        below = sum(1 for r in rec if r.z > q)
        total, below_total = total + len(rec), below_total + below
        name = Path(path).stem.replace("runs-", "")
        lines.append(f"| {name} | {len(rec)} | {below} | {below / max(1, len(rec)):.0%} | "
                     f"{max(r.z for r in rec):.2f} | "
                     f"{calibration_scale([r.z for r in rec], args.level):.2f} |")
        print(lines[-1], flush=True)
        if args.png:
            from ray_autoterm.plotting import plot_calibration

            Path(args.png).mkdir(parents=True, exist_ok=True)
            plot_calibration(rec, args.level, title=name).savefig(
                Path(args.png) / f"calibration-{name}.png", dpi=110)
    command = _bench.command_line("benchmarks/calibration_record.py", argv)
    text = "\n".join([
        "# Calibration record of the bound's GP (leave-future-out)", "",
        f"Command: `{command}`; {_bench.describe(_bench.provenance())}.", "",
        f"Each trial from the back-fill (half of trial {args.from_trial}) to trial {args.until}, "
        f"scored against the bound's GP fitted before it came. Nominal share below the "
        f"one-sided {args.level:.0%} interval: {1 - args.level:.0%}; observed over all runs: "
        f"{below_total} of {total} ({below_total / max(1, total):.1%}).", "",
        *lines, "",
    ])
    _bench.emit(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
