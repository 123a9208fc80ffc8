#!/usr/bin/env python
"""Why a rule lost accuracy: was its regret bound wrong, or was the loss below the CV's error?

For every run where a rule replayed by ``benchmarks/stopping_rules.py`` lost more than 0.5% of
test loss (RYC < −0.005), compare, at the stop ``es``:

* the later CV gain: the incumbent's mean CV loss at ``es`` minus the final incumbent's (what
  the search still found, in the units of the bound);
* the regret bound ``r̄_es`` the rule stopped on (Eq. 8, from the replay's cached signals);
* the statistical error ``ε_es`` (Eq. 9).

If the later gain is at most the bound, the bound was valid: the GP did not overrate its
knowledge, and the stop followed from ``r̄ < ε``: the gain that cost test accuracy was smaller
than the CV's own error. Then no calibration of the GP could have prevented that stop; only a
smaller error (or never stopping) could. If the gain exceeds the bound, the GP was
overconfident at the stop: that is what ``rule="calibrated"`` and the other GP fixes address.

    python benchmarks/lossy_runs.py benchmarks/results/precise/final.json \\
        --variant 'paper, this code={"rule": "paper"}' \\
        --variant 'calibrated 0.95={"rule": "calibrated", "calibration_level": 0.95}'
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402
from stopping_rules import (  # noqa: E402
    LOSS_TOLERANCE,
    _variant_keywords,
    cached_variant,
)


def anatomy(run: dict[str, Any], signals: dict[str, Any], stop: int) -> dict[str, Any]:
    """The later CV gain, the bound and the error at the stop ``stop`` (trials ``1..stop``)."""
    trials = run["trials"]
    at_stop = min(trials[:stop], key=lambda t: t["cv_mean"])["cv_mean"]
    final = min(trials, key=lambda t: t["cv_mean"])["cv_mean"]
    gain = at_stop - final
    bound = signals["bound"].get(str(stop))
    error = signals["error"].get(str(stop))
    valid = bound is not None and gain <= bound
    return {"gain": gain, "bound": bound, "error": error, "bound_valid": valid}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", help="a stopping_rules.py outcome file (.json)")
    p.add_argument("--variant", action="append", required=True, metavar="LABEL=JSON",
                   help="a replayed variant, as given to stopping_rules.py (repeatable)")
    p.add_argument("--group", default="precise-test tasks")
    p.add_argument("--from-trial", type=int, default=20)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    rows = json.loads(Path(args.json).read_text())["rows"]
    lines: list[str] = []
    summary: list[str] = []
    for spec in args.variant:
        label, _, kw = spec.partition("=")
        keywords = _variant_keywords(args.from_trial, json.loads(kw))
        rule = f"ours ({label.strip()})"
        mine = [r for r in rows if r["rule"] == rule and r["group"] == args.group]
        if not mine:
            p.error(f"no rows of {rule!r} in group {args.group!r} of {args.json}")
        lossy = sorted((r for r in mine if r["ryc"] < LOSS_TOLERANCE), key=lambda r: r["ryc"])
        lines += [f"## {rule}: {len(lossy)} of {len(mine)} runs lost more than 0.5%", "",
                  "| run | stop | RYC | later CV gain | bound at the stop | error at the stop "
                  "| gain / error | bound valid |", "|" + "---|" * 8]
        found: dict[str, dict[str, Any]] = {}
        for r in mine:
            if not r["stopped"]:
                continue
            path = _bench.ROOT / "benchmarks" / "results" / "precise" / f"{r['run']}.json"
            if not path.exists():
                path = _bench.ROOT / "benchmarks" / "results" / f"{r['run']}.json"
            signals = cached_variant(path, keywords)
            if signals is None:
                p.error(f"no cached signals of {label!r} for {r['run']}: replay it first")
            found[r["run"]] = anatomy(json.loads(path.read_text()), signals, r["stop"])
        valid = 0
        for r in lossy:
            a = found[r["run"]]
            valid += a["bound_valid"]
            lines.append(
                f"| {r['run'].replace('runs-', '', 1)} | {r['stop']} | {r['ryc']:+.3f} | "
                f"{a['gain']:.4g} | {a['bound']:.4g} | {a['error']:.4g} | "
                f"{a['gain'] / a['error']:.2f} | {'yes' if a['bound_valid'] else '**no**'} |")
        lines.append("")
        gained = sum(r["ryc"] > -LOSS_TOLERANCE for r in mine if r["stopped"])
        summary.append(
            f"{rule}: the bound was valid (later CV gain ≤ bound) in {valid} of the "
            f"{len(lossy)} lossy runs, and in {sum(a['bound_valid'] for a in found.values())} of "
            f"the {len(found)} runs it stopped; of those, {len(lossy)} lost more than 0.5% and "
            f"{gained} gained more than 0.5% (the incumbent at the stop better on the test set "
            f"than the final one).")
    command = _bench.command_line("benchmarks/lossy_runs.py", argv)
    text = "\n".join([
        "# Lossy runs: a wrong bound, or a gain below the CV's error?", "",
        f"Command: `{command}`.", "",
        "Later CV gain: the incumbent's mean CV loss at the stop minus the final incumbent's. "
        "Bound valid: that gain is at most the regret bound the rule stopped on (the GP was "
        "not overconfident; the stop came from bound < error, with a gain below the error).",
        "", *summary, "", *lines,
    ])
    _bench.emit(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
