#!/usr/bin/env python
"""The accuracy / time frontier of every stopping rule replayed on the same runs, as a figure.

Reads the per-run outcomes that ``benchmarks/stopping_rules.py`` writes beside its table (the
``.json`` with one row per group, rule and run), pools the rules of several such files (a rule
named in more than one file is taken from the last), keeps the rules replayed on every run of
the group, and draws two panels:

* mean RTC (time saved) against mean RYC (accuracy kept), with 95% bootstrap intervals; the
  rules no other rule beats on both means are joined (the frontier);
* mean RTC against the worst run's RYC.

The target band (mean RYC ≥ −0.005, worst run ≥ −0.03, mean RTC ≥ 40%) is shaded. A markdown
table beside the figure lists every rule with its means, worst run and whether it is on the
frontier. The oracle (it knows the test losses) is drawn for scale but is not a rule: it is left
out of the frontier.

    python benchmarks/frontier.py benchmarks/results/precise/final.json \\
        --group 'precise-test tasks' --out docs/img/frontier-precise.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (repository on sys.path)
from stopping_rules import ORACLE_ROW, rule_statistics  # noqa: E402

TARGET_RYC, TARGET_WORST, TARGET_RTC = -0.005, -0.03, 0.40
FLOOR = {"mean_ryc": -0.02, "worst_ryc": -0.3}  # lower points are drawn at the edge


def _label(rule: str) -> str:
    """A row's name, short: ``ours (calibrated 0.95)`` -> ``calibrated 0.95``."""
    name = rule[len("ours ("):-1] if rule.startswith("ours (") else rule
    return name.replace(", this code", "").replace("oracle (within 0.5%, from trial 20)",
                                                   "oracle (knows the test losses)")


def pooled_rows(paths: Sequence[str], group: str) -> dict[str, list[dict[str, Any]]]:
    """Rows of ``group`` by rule, from ``paths`` (a rule in several files: the last file's)."""
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        mine: dict[str, list[dict[str, Any]]] = {}
        for row in data["rows"]:
            if row["group"] == group:
                mine.setdefault(row["rule"], []).append(row)
        by_rule.update(mine)
    if not by_rule:
        raise SystemExit(f"No rows of group {group!r} in {', '.join(paths)}.")
    runs = set.union(*({r["run"] for r in rows} for rows in by_rule.values()))
    complete = {rule: rows for rule, rows in by_rule.items() if {r["run"] for r in rows} == runs}
    for rule in sorted(set(by_rule) - set(complete)):
        print(f"left out {rule!r}: replayed on {len(by_rule[rule])} of the {len(runs)} runs")
    return complete


def frontier(stats: dict[str, dict[str, Any]]) -> list[str]:
    """The rules (the oracle aside) that no other rule beats on both mean RYC and mean RTC."""
    rules = [r for r in stats if r != ORACLE_ROW]
    out = []
    for a in rules:
        pa = (stats[a]["mean_ryc"], stats[a]["mean_rtc"])
        beaten = any(
            (stats[b]["mean_ryc"], stats[b]["mean_rtc"]) != pa
            and stats[b]["mean_ryc"] >= pa[0] and stats[b]["mean_rtc"] >= pa[1]
            for b in rules if b != a)
        if not beaten:
            out.append(a)
    return sorted(out, key=lambda r: stats[r]["mean_rtc"])


def table(stats: dict[str, dict[str, Any]], front: Sequence[str]) -> str:
    """One markdown row per rule, by mean RTC."""
    lines = ["| rule | mean RTC [95% CI] | mean RYC [95% CI] | worst RYC (run) | lost > 0.5% "
             "| frontier | meets the target |", "|" + "---|" * 7]
    for rule, st in sorted(stats.items(), key=lambda kv: kv[1]["mean_rtc"]):
        lo, hi = st["mean_rtc_ci"]
        rlo, rhi = st["mean_ryc_ci"]
        worst = (st["worst_run"] or "").replace("runs-", "", 1)
        meets = (st["mean_ryc"] >= TARGET_RYC and st["worst_ryc"] >= TARGET_WORST
                 and st["mean_rtc"] >= TARGET_RTC)
        lines.append(
            f"| {rule} | {st['mean_rtc']:.1%} [{lo:.1%}, {hi:.1%}] | {st['mean_ryc']:+.4f} "
            f"[{rlo:+.4f}, {rhi:+.4f}] | {st['worst_ryc']:+.3f} ({worst}) | {st['lost']:.0%} | "
            f"{'yes' if rule in front else ('—' if rule == ORACLE_ROW else '')} | "
            f"{'yes' if meets else ''} |")
    return "\n".join(lines)


def draw(stats: dict[str, dict[str, Any]], front: Sequence[str], title: str) -> Any:
    """The two-panel figure (matplotlib ``Figure``, no pyplot state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5.5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    offsets = [(4, 4), (4, -10), (-4, 8), (4, 12), (-4, -14)]
    for ax, key, target in ((ax1, "mean_ryc", TARGET_RYC), (ax2, "worst_ryc", TARGET_WORST)):
        ax.fill_between([TARGET_RTC, 1.0], target, 1.0, color="tab:green", alpha=0.08,
                        label="target")
        ys = [st[key] for st in stats.values() if not math.isnan(st[key])]
        floor = max(min(ys), FLOOR[key]) - 0.005
        for i, (rule, st) in enumerate(sorted(stats.items(), key=lambda kv: kv[1]["mean_rtc"])):
            x, y = st["mean_rtc"], st[key]
            oracle = rule == ORACLE_ROW
            color = "grey" if oracle else ("tab:red" if rule in front else "tab:blue")
            label = _label(rule)
            if y < floor:  # off the scale: drawn at the bottom edge, its value in the label
                label, y = f"{label} ({st[key]:+.3f}, off scale)", floor
            elif key == "mean_ryc":
                xl, xh = st["mean_rtc_ci"]
                yl, yh = st["mean_ryc_ci"]
                ax.errorbar(x, y, xerr=[[x - xl], [xh - x]], yerr=[[y - yl], [yh - y]],
                            fmt="o", color=color, alpha=0.25, ms=0, lw=0.8)
            ax.plot(x, y, "v" if y == floor else "o", color=color, ms=5)
            ha = "right" if offsets[i % len(offsets)][0] < 0 else "left"
            ax.annotate(label, (x, y), fontsize=7, xytext=offsets[i % len(offsets)],
                        textcoords="offset points", color=color, ha=ha)
        if key == "mean_ryc":
            ax.plot([stats[r]["mean_rtc"] for r in front],
                    [max(stats[r]["mean_ryc"], floor) for r in front],
                    "-", color="tab:red", lw=1, label="frontier")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xlabel("mean RTC (share of the trials' CPU time saved)")
        ax.set_ylabel("mean RYC (0: the full budget's test loss)" if key == "mean_ryc"
                      else "worst run's RYC")
        ax.set_ylim(floor - 0.003, max(max(ys), 0.0) + 0.006)
        ax.set_xlim(0, 1)
        ax.legend(loc="lower right", fontsize=8)
    ax1.set_title(f"{title}: mean accuracy kept vs time saved")
    ax2.set_title("worst run vs time saved")
    return fig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", nargs="+", help="stopping_rules.py outcome files (.json)")
    p.add_argument("--group", default="precise-test tasks")
    p.add_argument("--out", required=True, help="the figure (.png); the table goes to .md")
    p.add_argument("--title", default=None)
    p.add_argument("--exclude", action="append", default=[], metavar="RULE",
                   help="leave this row out (repeatable), e.g. a duplicate of another")
    args = p.parse_args(argv)
    by_rule = {rule: rows for rule, rows in pooled_rows(args.json, args.group).items()
               if rule not in args.exclude}
    stats = {rule: rule_statistics(rows) for rule, rows in by_rule.items()}
    front = frontier(stats)
    n = next(iter(by_rule.values()))
    title = args.title or f"{args.group} ({len(n)} runs)"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    draw(stats, front, title).savefig(out, dpi=110)
    command = _bench.command_line("benchmarks/frontier.py", argv)
    text = "\n".join([
        f"# The frontier: {title}", "", f"Command: `{command}`.", "",
        "Frontier: no other rule has both a higher (or equal) mean RYC and a higher (or equal) "
        "mean RTC. Target: mean RYC ≥ −0.005, worst run ≥ −0.03, mean RTC ≥ 40%. 95% "
        "percentile-bootstrap intervals over runs.", "",
        table(stats, front), "",
        "On the frontier, by time saved: " + ", ".join(front) + ".", "",
    ])
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
