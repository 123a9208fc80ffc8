#!/usr/bin/env python
"""Study the stopping rules of ``AutoTermCriterion(rule=...)`` and their knobs on recorded runs.

For each recorded full-budget run (``runs-*.json`` of ``benchmarks/quality.py`` or the precise
benchmark), every trial from ``--from-trial`` on is replayed once through criterion objects
with the real code (one shared GP fitter, so the rules share the fits):

* ``rule="paper"`` with ``exact_bound=True``: the exact Eq. 8 bound ``r̄_t`` and Eq. 9 error;
* ``rule="cv-noise"`` with ``exact_bound=True``: the bound of the GP with known per-trial noise;
* ``rule="prb"`` with ``prb_delta`` 0.05, 0.1, 0.2: the ``1 − δ`` quantile of the sampled regret;
* ``rule="emsr-gap"``: the gap of expected minimum simple regrets and its threshold;
* the paired and pooled errors (``rules.paired_error``/``pooled_error``, as the criterion takes
  them) and Optuna's terminator (``stopping_rules.optuna_signals``).

The stop of every rule and knob then follows without refitting: a rule "bound < error" stops at
the first decision from ``min_trials`` on where it held for ``consecutive`` decisions in a row
(exactly what the criterion does, since the default screened bound gives the same decisions as
the exact one); ``prb`` stops where the quantile is <= the error. Signals are cached per run.

    python benchmarks/study_rules.py --runs 'benchmarks/results/precise/runs-*.json' --jobs 2 \\
        --out benchmarks/results/precise/study-rules.md
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402

_bench.single_threaded()

import numpy as np  # noqa: E402

import stopping_rules as sr  # noqa: E402

FROM_TRIAL = 20
PRB_DELTAS = (0.05, 0.1, 0.2, 0.3, 0.5)
ERROR_KNOBS: dict[str, tuple[str, int, str]] = {
    "cv": ("cv", 0, ""),
    "paired3": ("paired", 3, "median"),
    "paired5": ("paired", 5, "median"),
    "paired5min": ("paired", 5, "min"),
    "pooled3": ("pooled", 3, ""),
    "pooled5": ("pooled", 5, ""),
    "pooled10": ("pooled", 10, ""),
}
SIGNAL_VERSION = 4


# --------------------------------------------------------------------------- signals
def errors_at(run: dict[str, Any], t: int) -> dict[str, float]:
    """Every error knob after the first ``t`` trials (the criterion's ranking and formulas)."""
    from ray_autoterm.criterion.cv_error import cv_statistical_error
    from ray_autoterm.criterion.rules import paired_error, pooled_error

    folds = [tr["fold_losses"] for tr in run["trials"][:t]]
    losses = np.array([np.mean(f) for f in folds])
    ranked = [folds[i] for i in np.argsort(losses, kind="stable")]
    out = {}
    for name, (kind, m, combine) in ERROR_KNOBS.items():
        if kind == "cv":
            out[name] = cv_statistical_error(ranked[0])
        elif kind == "paired":
            out[name] = paired_error(ranked[0], ranked[1:1 + m], combine=combine)
        else:
            out[name] = pooled_error(ranked[:m])
    return out


def rule_signals(run: dict[str, Any], from_trial: int = FROM_TRIAL) -> dict[str, Any]:
    """Per decision ``t``: bounds, errors, PRB quantiles, gap, Optuna; seconds per rule.

    The bound rules are computed with the criterion's own functions and data selection, in
    one pass that shares the fits: the LCB is screened and minimised only where the screened
    bound is below the largest error of any knob (``stop_below``, as the criterion does for its
    own error), so every "bound < error" comparison is decided on the minimised bound. The
    ``prb`` samples are those of ``AutoTermCriterion(rule="prb")`` (the bound GP, candidates =
    the fitted points and the same Sobol points, same seed); the gap is the criterion itself.
    """
    import torch

    from ray_autoterm.criterion.cv_error import cv_statistical_error
    from ray_autoterm.criterion.regret import (
        regret_bound,
        regret_bound_beta,
        sobol_points,
        top_subset,
    )
    from ray_autoterm.criterion.rules import regret_quantile, regret_samples
    from ray_autoterm.criterion.terminator import AutoTermCriterion
    from ray_autoterm.gp import GPFitter, single_threaded_torch
    from ray_autoterm.history import History

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    space = sr.run_space(run)
    seed = int(run.get("seed", 0))
    fitter = GPFitter()
    gap = AutoTermCriterion(rule="emsr-gap", seed=seed, fitter=GPFitter())
    sobol = sobol_points(space.bounds, space.onehot_groups, 256, seed).numpy()
    X_all = space.encode_many([tr["config"] for tr in run["trials"]])
    folds = [tr["fold_losses"] for tr in run["trials"]]
    y_all = np.array([np.mean(f) for f in folds])
    var_all = np.array([cv_statistical_error(f) ** 2 for f in folds])
    history = History()
    names = ("paper", "cv-noise", "prb", "emsr-gap")
    out: dict[str, Any] = {"t": [], "errors": [], "seconds": {k: [] for k in names},
                           "gap_threshold": [], "exact": []}
    for k in ("paper", "cv-noise", "emsr-gap", *(f"prb{d}" for d in PRB_DELTAS)):
        out[k] = []
    argmins: dict[str, Any] = {"paper": None, "cv-noise": None}
    for t, tr in enumerate(run["trials"], 1):
        history.add(f"t{t:04d}", tr["config"], tr["fold_losses"])
        if t < from_trial:
            continue
        out["t"].append(t)
        errs = errors_at(run, t)
        out["errors"].append(errs)
        emax = max(errs.values())
        idx = top_subset(y_all[:t], 20, 0.5)
        X_fit, y_fit = X_all[:t][idx], y_all[:t][idx]
        beta = regret_bound_beta(len(space.params), len(idx))
        exact = []
        with single_threaded_torch():
            for name, yvar in (("paper", None), ("cv-noise", var_all[:t][idx])):
                start = time.perf_counter()
                try:
                    model = (fitter.fit(X_fit, y_fit, role="bound") if yvar is None
                             else fitter.fit(X_fit, y_fit, role="bound", yvar=yvar))
                    rb = regret_bound(model, X_fit, space.bounds, beta, space.onehot_groups,
                                      argmins[name], seed=seed, stop_below=emax)
                    argmins[name] = rb.argmin_lcb
                    out[name].append(rb.bound)
                    exact.append(rb.exact)
                except Exception:  # noqa: BLE001 - a failed fit never stops
                    out[name].append(None)
                out["seconds"][name].append(time.perf_counter() - start)
                if name == "paper":
                    start = time.perf_counter()
                    try:
                        samples = regret_samples(model, X_fit[int(np.argmin(y_fit))],
                                                 np.vstack([X_fit, sobol]), 128, seed)
                        for d in PRB_DELTAS:
                            out[f"prb{d}"].append(regret_quantile(samples, 1 - d))
                    except Exception:  # noqa: BLE001
                        for d in PRB_DELTAS:
                            out[f"prb{d}"].append(None)
                    out["seconds"]["prb"].append(time.perf_counter() - start)
        out["exact"].append(exact)
        d = gap.evaluate(history, space)
        out["emsr-gap"].append(d.regret_bound if d.fit_ok else None)
        out["gap_threshold"].append(d.statistical_error if d.fit_ok else None)
        out["seconds"]["emsr-gap"].append(d.wall_time_s)
    out["optuna"] = sr.optuna_signals(run, from_trial)
    out["version"] = SIGNAL_VERSION
    return out


def prb_patch(run: dict[str, Any], sig: dict[str, Any]) -> dict[str, Any]:
    """Add the ``prb`` quantiles of ``PRB_DELTAS`` a cached signal lacks: the same fits (the
    bound GP's fit sequence does not depend on the other rules) and the same samples."""
    import torch

    from ray_autoterm.criterion.regret import sobol_points, top_subset
    from ray_autoterm.criterion.rules import regret_quantile, regret_samples
    from ray_autoterm.gp import GPFitter, single_threaded_torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    space = sr.run_space(run)
    seed = int(run.get("seed", 0))
    fitter = GPFitter()
    sobol = sobol_points(space.bounds, space.onehot_groups, 256, seed).numpy()
    X_all = space.encode_many([tr["config"] for tr in run["trials"]])
    y_all = np.array([np.mean(tr["fold_losses"]) for tr in run["trials"]])
    missing = [d for d in PRB_DELTAS if f"prb{d}" not in sig]
    for d in missing:
        sig[f"prb{d}"] = []
    for t in sig["t"]:
        idx = top_subset(y_all[:t], 20, 0.5)
        X_fit, y_fit = X_all[:t][idx], y_all[:t][idx]
        with single_threaded_torch():
            try:
                model = fitter.fit(X_fit, y_fit, role="bound")
                samples = regret_samples(model, X_fit[int(np.argmin(y_fit))],
                                         np.vstack([X_fit, sobol]), 128, seed)
                for d in missing:
                    sig[f"prb{d}"].append(regret_quantile(samples, 1 - d))
            except Exception:  # noqa: BLE001
                for d in missing:
                    sig[f"prb{d}"].append(None)
    return sig


def light_signals(run: dict[str, Any], from_trial: int = FROM_TRIAL) -> dict[str, Any]:
    """``--light``: only the errors and the ``prb`` quantiles (no LCB, no gap, no Optuna)."""
    ts = list(range(from_trial, len(run["trials"]) + 1))
    sig = {"t": ts, "errors": [errors_at(run, t) for t in ts], "version": "light"}
    return prb_patch(run, sig)


def light_stops(run: dict[str, Any], sig: dict[str, Any],
                cache: dict[str, Any]) -> dict[str, int | None]:
    """``--light``: the prb knobs from ``sig``; the paper's rule (and its consecutive and
    ``min_trials`` knobs) and Optuna's terminator from ``stopping_rules.py``'s cached signals
    (its ``ours`` stop flags are exact: a screened bound only ever says "no stop")."""
    ts, errs = sig["t"], sig["errors"]
    stops: dict[str, int | None] = {}
    flags = cache["ours"]["stop"]
    for mt in (20, 30):
        for c in (1, 2, 3):
            suffix = ("" if c == 1 else f", {c} in a row") + ("" if mt == 20 else f", min {mt}")
            holds = [bool(flags.get(str(t), False)) for t in ts]
            stops[f"bound < cv{suffix}"] = first_stop(ts, holds, mt, c)
            for d in PRB_DELTAS:
                for e in ("cv", "pooled5"):
                    holds = [q is not None and q <= er[e]
                             for q, er in zip(sig[f"prb{d}"], errs, strict=False)]
                    stops[f"prb δ={d} ε={e}{suffix}"] = first_stop(ts, holds, mt, c)
    values = [tr["cv_mean"] for tr in run["trials"]]
    for i in sr.STAGNATION:
        stops[f"stagnation {i}"] = sr.stagnation_stop(values, i)
    if cache.get("optuna") is not None:
        stops["Optuna terminator"] = sr.flag_stop(cache["optuna"]["stop"])
    return stops


def _job(args: tuple[str, str, int]) -> tuple[str, float]:
    run_path, sig_path, from_trial = args
    start = time.time()
    run = json.loads(Path(run_path).read_text())
    cached = json.loads(Path(sig_path).read_text()) if Path(sig_path).exists() else None
    if sig_path.endswith(".light.json"):
        sig = cached if cached is not None else light_signals(run, from_trial)
    elif cached is not None and cached.get("version") == SIGNAL_VERSION:
        sig = prb_patch(run, cached)
    else:
        sig = rule_signals(run, from_trial)
    tmp = Path(sig_path + ".tmp")
    tmp.write_text(json.dumps(sig))
    tmp.replace(sig_path)
    return run["name"], time.time() - start


# --------------------------------------------------------------------------- rules offline
def first_stop(ts: Sequence[int], holds: Sequence[bool], min_trials: int,
               consecutive: int) -> int | None:
    """First ``t >= min_trials`` where ``holds`` was true at ``consecutive`` decisions in a row
    (counted from ``min_trials`` on, as the criterion counts them)."""
    run = 0
    for t, h in zip(ts, holds, strict=False):
        if t < min_trials:
            continue
        run = run + 1 if h else 0
        if h and run >= consecutive:
            return t
    return None


def _lt(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and a < b


def rule_stops(run: dict[str, Any], sig: dict[str, Any]) -> dict[str, int | None]:
    """Stop trial of every rule and knob, and of the baselines."""
    ts = sig["t"]
    errs = sig["errors"]
    stops: dict[str, int | None] = {}
    for mt in (20, 30):
        for c in (1, 2, 3):
            suffix = ("" if c == 1 else f", {c} in a row") + ("" if mt == 20 else f", min {mt}")
            for e in ERROR_KNOBS:
                holds = [_lt(b, er[e]) for b, er in zip(sig["paper"], errs, strict=False)]
                stops[f"bound < {e}{suffix}"] = first_stop(ts, holds, mt, c)
                holds = [_lt(b, er[e]) for b, er in zip(sig["cv-noise"], errs, strict=False)]
                stops[f"cv-noise bound < {e}{suffix}"] = first_stop(ts, holds, mt, c)
            for d in PRB_DELTAS:
                for e in ("cv", "pooled5"):
                    holds = [q is not None and q <= er[e]
                             for q, er in zip(sig[f"prb{d}"], errs, strict=False)]
                    stops[f"prb δ={d} ε={e}{suffix}"] = first_stop(ts, holds, mt, c)
            holds = [g is not None and th is not None and g <= th
                     for g, th in zip(sig["emsr-gap"], sig["gap_threshold"], strict=False)]
            stops[f"emsr-gap auto{suffix}"] = first_stop(ts, holds, mt, c)
            holds = [_lt(g, er["cv"]) for g, er in zip(sig["emsr-gap"], errs, strict=False)]
            stops[f"emsr-gap < cv{suffix}"] = first_stop(ts, holds, mt, c)
    values = [tr["cv_mean"] for tr in run["trials"]]
    for i in sr.STAGNATION:
        stops[f"stagnation {i}"] = sr.stagnation_stop(values, i)
    if sig.get("optuna") is not None:
        stops["Optuna terminator"] = sr.flag_stop(sig["optuna"]["stop"])
    return stops


def boot_ci(x: np.ndarray, rng: np.random.Generator, reps: int = 2000) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean over runs."""
    if len(x) == 0:
        return (math.nan, math.nan)
    means = x[rng.integers(0, len(x), (reps, len(x)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def table(rows: list[dict[str, Any]], names: Sequence[str], ref: str) -> list[dict[str, Any]]:
    """Per rule: RYC/RTC means with CIs, medians, share losing, worst run, paired differences."""
    rng = np.random.default_rng(0)
    by = {n: sorted((r for r in rows if r["rule"] == n), key=lambda r: r["run"]) for n in names}
    base = by[ref]
    out = []
    for n in names:
        rs = by[n]
        ryc = np.array([r["ryc"] for r in rs])
        rtc = np.array([r["rtc"] for r in rs])
        dryc = ryc - np.array([r["ryc"] for r in base])
        drtc = rtc - np.array([r["rtc"] for r in base])
        out.append({
            "rule": n, "n": len(rs), "ryc": float(ryc.mean()), "ryc_ci": boot_ci(ryc, rng),
            "ryc_med": float(np.median(ryc)), "rtc": float(rtc.mean()),
            "rtc_ci": boot_ci(rtc, rng), "rtc_med": float(np.median(rtc)),
            "lost": float(np.mean(ryc < -0.005)), "worst": float(ryc.min()),
            "fired": float(np.mean([r["stopped"] for r in rs])),
            "dryc": float(dryc.mean()), "dryc_ci": boot_ci(dryc, rng),
            "drtc": float(drtc.mean()), "drtc_ci": boot_ci(drtc, rng),
        })
    return out


def dominated(e: dict[str, Any], others: Sequence[dict[str, Any]]) -> list[str]:
    return [o["rule"] for o in others if o is not e and o["ryc"] >= e["ryc"]
            and o["rtc"] >= e["rtc"] and (o["ryc"] > e["ryc"] or o["rtc"] > e["rtc"])]


def md_table(entries: Sequence[dict[str, Any]]) -> str:
    head = ("| rule | fired | mean RYC [95% CI] | median RYC | mean RTC [95% CI] | median RTC | "
            "lost > 0.5% | worst RYC | ΔRYC vs paper [CI] | ΔRTC vs paper [CI] |")
    lines = [head, "|" + "---|" * 10]
    for e in entries:
        lines.append(
            f"| {e['rule']} | {e['fired']:.0%} | {e['ryc']:+.4f} [{e['ryc_ci'][0]:+.4f}, "
            f"{e['ryc_ci'][1]:+.4f}] | {e['ryc_med']:+.4f} | {e['rtc']:.3f} [{e['rtc_ci'][0]:.3f}, "
            f"{e['rtc_ci'][1]:.3f}] | {e['rtc_med']:.3f} | {e['lost']:.0%} | {e['worst']:+.4f} | "
            f"{e['dryc']:+.4f} [{e['dryc_ci'][0]:+.4f}, {e['dryc_ci'][1]:+.4f}] | "
            f"{e['drtc']:+.3f} [{e['drtc_ci'][0]:+.3f}, {e['drtc_ci'][1]:+.3f}] |")
    return "\n".join(lines)


def frontier(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules no other rule dominates on (mean RYC, mean RTC), by RTC."""
    return sorted((e for e in entries if not dominated(e, entries)), key=lambda e: e["rtc"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", action="append", required=True,
                        help="glob of run files (repeatable)")
    parser.add_argument("--signals", default=None,
                        help="folder for cached signals (default: study-signals/ beside --out)")
    parser.add_argument("--from-trial", type=int, default=FROM_TRIAL)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--json", default=None, help="also write the per-rule table as JSON")
    parser.add_argument("--rtc", choices=("cpu", "wall"), default="cpu",
                        help="RTC on the trials' CPU seconds (default: robust to other load on "
                             "the machine while recording) or their wall seconds")
    parser.add_argument("--light", action="store_true",
                        help="only the errors and prb quantiles; the paper's rule and Optuna from "
                             "stopping_rules.py's cached signals (results/signals beside the runs)")
    parser.add_argument("--notes", default=None,
                        help="a markdown file whose text goes under the title (the findings)")
    parser.add_argument("--show", action="append", default=[],
                        help="rules to list in the main table (default: a fixed selection)")
    args = parser.parse_args(argv)
    run_paths = sorted({p for g in args.runs for p in glob.glob(g)})
    if not run_paths:
        print(f"No run files match {args.runs}")
        return 1
    sig_dir = Path(args.signals) if args.signals else Path(args.out).parent / "study-signals"
    sig_dir.mkdir(parents=True, exist_ok=True)

    def sig_path(p: str) -> Path:
        tail = ".light.json" if args.light else ".json"
        return sig_dir / (Path(p).parent.name + "-" + Path(p).stem + tail)

    def cache_of(p: str) -> dict[str, Any]:
        path = Path(p).parent / "signals" / (Path(p).stem.replace("runs-", "signals-") + ".json")
        return json.loads(path.read_text())

    todo = []
    for p in run_paths:
        sp = sig_path(p)
        if args.light:
            if not sp.exists():
                todo.append((p, str(sp), args.from_trial))
            continue
        if sp.exists():
            cached = json.loads(sp.read_text())
            if cached.get("version") == SIGNAL_VERSION and all(
                    f"prb{d}" in cached for d in PRB_DELTAS):
                continue
        todo.append((p, str(sp), args.from_trial))
    print(f"{len(run_paths)} runs; signals to compute for {len(todo)}", flush=True)
    start = time.time()
    if args.jobs <= 1:
        results = map(_job, todo)
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=1)
        results = pool.imap_unordered(_job, todo)
    for i, (name, secs) in enumerate(results, 1):
        print(f"[{i}/{len(todo)}] {name}: {secs:.0f} s (elapsed {(time.time() - start) / 60:.1f} "
              "min)", flush=True)

    rows: list[dict[str, Any]] = []
    seconds: dict[str, list[float]] = {}
    for p in run_paths:
        run = json.loads(Path(p).read_text())
        sig = json.loads(sig_path(p).read_text())
        for k, v in sig.get("seconds", {}).items():
            seconds.setdefault(k, []).extend(v)
        if sig.get("optuna"):
            seconds.setdefault("optuna", []).extend(sig["optuna"]["seconds"].values())
        stops = light_stops(run, sig, cache_of(p)) if args.light else rule_stops(run, sig)
        for rule, stop in stops.items():
            row = {"rule": rule, "run": p, **sr.outcome(run, stop)}
            if args.rtc == "cpu":
                row["rtc"] = row["rtc_cpu"]
            rows.append(row)
    names = list(dict.fromkeys(r["rule"] for r in rows))
    entries = table(rows, names, ref="bound < cv")
    for e in entries:
        if e["rule"] == "bound < cv":
            e["rule"] = "paper (bound < cv)"
    shown = args.show or [
        "paper (bound < cv)", "Optuna terminator", "stagnation 10", "stagnation 30",
        "stagnation 50", "bound < paired5", "bound < paired5min", "bound < pooled5",
        "bound < pooled10", "cv-noise bound < cv", "prb δ=0.05 ε=cv", "prb δ=0.2 ε=cv",
        "emsr-gap auto", "emsr-gap < cv", "bound < cv, 2 in a row", "bound < cv, 3 in a row",
        "bound < pooled5, 2 in a row", "bound < pooled5, 3 in a row", "bound < cv, min 30",
        "bound < cv, 2 in a row, min 30", "bound < pooled5, 2 in a row, min 30",
    ]
    main_rows = [e for name in shown for e in entries if e["rule"] == name]
    target = [e for e in entries if e["ryc"] >= -0.005 and e["worst"] >= -0.03 and e["rtc"] >= 0.4]
    front = frontier(entries)
    timing = ", ".join(f"{k} {1000 * np.median(v):.0f} ms" for k, v in seconds.items() if v)
    timing += (" (paper/cv-noise: fit + bound, screened against the largest error; "
               "prb: sampling only)")
    runs = [json.loads(Path(p).read_text()) for p in run_paths]
    command = _bench.command_line("benchmarks/study_rules.py", argv)
    text = "\n".join([
        "# Stopping rules and their knobs, replayed", "",
        *([Path(args.notes).read_text().strip(), ""] if args.notes else []),
        f"Runs: {len(run_paths)} "
        f"({', '.join(sorted({r['name'].rsplit('-s', 1)[0] for r in runs}))}); "
        f"budgets {sorted({len(r['trials']) for r in runs})} trials; decisions after every trial "
        f"from {args.from_trial} on.", "",
        f"Command: `{command}`.", "",
        *sr._code_lines(run_paths), "",
        "RYC = (y_T − y_es)/max(y_T, y_es) of the incumbent's test loss; RTC = share of the "
        f"recorded trial time saved ({args.rtc} seconds). Intervals: 95% bootstrap over runs; "
        "Δ: paired difference to the paper's rule on the same runs. "
        "\"lost\": runs with RYC < −0.005.", "",
        "## Main table", "", md_table(main_rows), "",
        "## Rules meeting the target (mean RYC >= −0.005, worst >= −0.03, mean RTC >= 0.40)", "",
        md_table(target) if target else "None.", "",
        "## Frontier (mean RTC against mean RYC; no other rule better on both)", "",
        md_table(front), "",
        f"Median ms per decision in this replay: {timing}.", "",
        "## All rules and knobs", "", md_table(entries), "",
    ])
    Path(args.out).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps(entries, indent=1))
    print(text[:6000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
