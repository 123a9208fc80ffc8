#!/usr/bin/env python
"""One decision at cluster scale: time, memory and the capped bound against the exact one.

Synthetic 5-fold CV objective (a noisy quadratic on ``[0, 1]^d``, ``d = 6`` by default, as in
``overhead.py``), trials in completion order. Five tables:

* **Cost.** For each n, in a fresh process: a :class:`History` of n trials, a fresh
  :class:`AutoTermCriterion` evaluated on it (*cold*: the GP fitted from scratch), then on n + 1
  trials (*warm*: the stopper's next decision), then on n + 2 with a new incumbent (*enter*).
  Wall and CPU seconds, the process's peak resident memory, the fit-set size. The same with
  the cap off (``regret.MAX_FIT = None``, the exact GP on the whole best half, as before) for
  n up to ``--exact-max``: the baseline of the ratios.
* **Accuracy.** For each n of ``--acc-ns``: the exact bound of Eq. 8 (the LCB minimised) from
  the GP on the whole best half, against the same from GPs on ``MAX_FIT`` points chosen four
  ways: *best + space-filling* (what the library does), *best only* (the ``MAX_FIT`` lowest
  losses), *random* (a uniform subset of the best half), and *hyperparameters on the cap,
  conditioned on all* (the cap's hyperparameters, the GP conditioned on the whole best half).
  Relative error ``(bound - exact) / exact`` in %, > 0 is conservative (a later stop), and the
  seconds each took.
* **Stop trial on replays.** The recorded runs of ``quality.py`` (100 trials each) replayed
  through the criterion after every trial, exact and with the cap forced down to
  ``--replay-cap`` (the default cap never engages below 1,002 trials).
* **The synthetic stream** (``--stream-n``): the criterion every ``--stream-every`` trials past
  the cap, capped and exact (up to ``--exact-max``): bounds side by side, first stop of each.
* **Memory of the history and the decision log.** The traced allocation of a history of n
  trials (configs, folds), its pickle, and the size of one decision's JSON line at each n
  (constant: the log grows linearly).

    python benchmarks/scale_decisions.py                          # ~10 min on 2 cores
    python benchmarks/scale_decisions.py --ns 1000 3000 --acc-ns 1500 --exact-max 1000  # ~2 min
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import pickle
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (environment, repository on sys.path)

_bench.single_threaded()

import numpy as np  # noqa: E402
import torch  # noqa: E402

FOLDS = 5
FOLD_NOISE = 0.05
OPTIMUM = 0.3


def make_trials(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n x d`` configs on the unit cube and ``n x FOLDS`` fold losses (a noisy quadratic)."""
    rng = np.random.default_rng(10_000 * d + seed)
    X = rng.random((n, d))
    f = ((X - OPTIMUM) ** 2).sum(1)
    return X, f[:, None] + FOLD_NOISE * rng.standard_normal((n, FOLDS))


def make_history(X: np.ndarray, folds: np.ndarray) -> Any:
    from ray_autoterm.history import History

    history = History()
    for i in range(len(X)):
        history.add(f"t{i:05d}", {f"x{j}": float(v) for j, v in enumerate(X[i])},
                    [float(v) for v in folds[i]])
    return history


def make_space(d: int) -> Any:
    from ray_autoterm.space import NumericParam, SearchSpace

    return SearchSpace([NumericParam((f"x{j}",), 0.0, 1.0) for j in range(d)])


def rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- cost (child)
def cost_child(n: int, d: int, seed: int, capped: bool) -> dict[str, Any]:
    """Cold decision on n trials, warm on n + 1, in a fresh process (peak RSS is per process)."""
    import ray_autoterm.criterion.regret as regret
    from ray_autoterm.criterion.terminator import AutoTermCriterion

    if not capped:
        regret.MAX_FIT = None
    X, folds = make_trials(n + 1, d, seed)
    history = make_history(X[:n], folds[:n])
    space = make_space(d)
    rss0 = rss_mb()
    crit = AutoTermCriterion()
    out: dict[str, Any] = {"n": n, "capped": capped, "rss_before_mb": rss0}
    for label in ("cold", "warm", "enter"):
        if label == "warm":  # the next trial of the stream (enters the fit set or not)
            history.add(f"t{n:05d}", {f"x{j}": float(v) for j, v in enumerate(X[n])},
                        [float(v) for v in folds[n]])
        if label == "enter":  # a new incumbent: the GP must be conditioned on new data
            history.add("best", {f"x{j}": OPTIMUM for j in range(d)},
                        (folds[n] - folds[n].mean() - 0.1).tolist())
        c0, w0 = time.process_time(), time.perf_counter()
        dec = crit.evaluate(history, space)
        out[label] = {"wall": time.perf_counter() - w0, "cpu": time.process_time() - c0,
                      "num_fit": dec.num_fit, "bound": dec.regret_bound,
                      "exact": dec.bound_exact, "error": dec.statistical_error,
                      "fit_ok": dec.fit_ok}
    out["rss_peak_mb"] = rss_mb()
    out["refits"] = crit.fitter.num_refits
    return out


def run_child(n: int, d: int, seed: int, capped: bool, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", json.dumps([n, d, seed, capped])]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"n": n, "capped": capped, "timeout": timeout}
    except subprocess.CalledProcessError as exc:
        return {"n": n, "capped": capped, "failed": exc.stderr[-500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- accuracy
def accuracy(n: int, d: int, seed: int) -> dict[str, Any]:
    """The exact bound on the whole best half against bounds from capped fit sets."""
    from ray_autoterm.criterion import regret
    from ray_autoterm.gp import fit_gp, hyperparameters
    from ray_autoterm.space import SearchSpace

    X, folds = make_trials(n, d, seed)
    y = folds.mean(1)
    space: SearchSpace = make_space(d)
    cap = regret.MAX_FIT or 500
    half = regret.top_subset(y, 20, 0.5, X, max_size=None)
    rng = np.random.default_rng(seed)
    subsets = {
        "exact": half,
        "best + space-filling": regret.top_subset(y, 20, 0.5, X, max_size=cap),
        "best only": half[:cap],
        "random": rng.choice(half, size=min(cap, len(half)), replace=False),
    }

    def bound(model: Any, idx: np.ndarray) -> float:
        beta = regret.regret_bound_beta(d, len(idx))
        return regret.regret_bound(model, X[idx], space.bounds, beta, seed=seed).bound

    out: dict[str, Any] = {"n": n, "n_half": len(half)}
    for name, idx in subsets.items():
        t0 = time.perf_counter()
        model = fit_gp(X[idx], y[idx])
        out[name] = {"bound": bound(model, idx), "s": time.perf_counter() - t0}
        if name == "best + space-filling":
            warm = hyperparameters(model)
            t0 = time.perf_counter()
            full = fit_gp(X[half], y[half], warm_start=warm, refit=False)
            out["hyperparameters on the cap, conditioned on all"] = {
                "bound": bound(full, half), "s": time.perf_counter() - t0}
    return out


# --------------------------------------------------------------------------- replays
def regret_cap() -> int | None:
    from ray_autoterm.criterion.regret import MAX_FIT

    return MAX_FIT


def replay(path: str, cap: int | None) -> int | None:
    """First trial count at which the criterion (evaluated after every trial) stops on a
    recorded run (``quality.py``'s ``runs-*.json``), with ``MAX_FIT = cap``."""
    import ray_autoterm.criterion.regret as regret
    from ray_autoterm.criterion.terminator import AutoTermCriterion
    from ray_autoterm.history import History

    trials = json.loads(Path(path).read_text())["trials"]
    saved, regret.MAX_FIT = regret.MAX_FIT, cap
    try:
        crit, history = AutoTermCriterion(), History()
        for i, trial in enumerate(trials):
            history.add(str(i), trial["config"], trial["fold_losses"])
            if i + 1 >= crit.min_trials and crit.evaluate(history).should_stop:
                return i + 1
        return None
    finally:
        regret.MAX_FIT = saved


def stream_replay(n: int, every: int, start: int, d: int, seed: int,
                  cap: int | None, refit_growth: float = 0.0) -> list[dict[str, Any]]:
    """The criterion (``exact_bound=True``) every ``every`` trials from ``start`` to ``n`` on the
    synthetic stream, with ``MAX_FIT = cap``: the bound, ε and the verdict at each.

    By default (``refit_growth=0``) the hyperparameters are refitted (warm-started) at every
    checkpoint: a stopper deciding after every trial refits them every 50 decisions on a capped
    fit set, so over ``every`` = 250 new trials it would have refitted too. ``0.1`` is the
    shipped fitter counting only these sparse decisions (stale hyperparameters)."""
    import ray_autoterm.criterion.regret as regret
    from ray_autoterm.criterion.terminator import AutoTermCriterion
    from ray_autoterm.gp import GPFitter

    X, folds = make_trials(n, d, seed)
    space = make_space(d)
    saved, regret.MAX_FIT = regret.MAX_FIT, cap
    rows = []
    try:
        crit = AutoTermCriterion(exact_bound=True, fitter=GPFitter(refit_growth=refit_growth))
        history = make_history(X[:start - every], folds[:start - every])
        for t in range(start, n + 1, every):
            for i in range(t - every, t):
                history.add(f"t{i:05d}", {f"x{j}": float(v) for j, v in enumerate(X[i])},
                            [float(v) for v in folds[i]])
            c0 = time.process_time()
            dec = crit.evaluate(history, space)
            rows.append({"t": t, "bound": dec.regret_bound, "error": dec.statistical_error,
                         "stop": dec.should_stop, "cpu": time.process_time() - c0})
    finally:
        regret.MAX_FIT = saved
    return rows


# --------------------------------------------------------------------------- memory
def memory(n: int, d: int, seed: int) -> dict[str, Any]:
    from ray_autoterm.criterion.decision import Decision
    from ray_autoterm.criterion.terminator import AutoTermCriterion

    X, folds = make_trials(n, d, seed)
    tracemalloc.start()
    history = make_history(X, folds)
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    crit = AutoTermCriterion()
    dec = crit.evaluate(history, make_space(d))
    line = json.dumps(dec.to_dict())
    assert Decision.from_dict(json.loads(line)) == dec
    # n decisions as a stopper keeps them (one per completed trial at most): each with its own
    # reason and fold list; the incumbent's config is the history's own dict, as in a real one.
    tracemalloc.start()
    decisions = [dataclasses.replace(dec, num_trials=i, reason=f"{dec.reason} {i}",
                                     incumbent_fold_scores=list(dec.incumbent_fold_scores or []))
                 for i in range(n)]
    kept, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del decisions
    return {"n": n, "history_mb": traced / 2**20,
            "history_pickle_mb": len(pickle.dumps(history)) / 2**20,
            "decisions_mb": kept / 2**20, "decision_json_bytes": len(line)}


# --------------------------------------------------------------------------- report
def _ok(r: dict[str, Any] | None) -> bool:
    return r is not None and "cold" in r


def _cost_cells(r: dict[str, Any] | None) -> list[str]:
    """n_fit, cold, warm, enter, peak RSS of one cost run (or why there is none)."""
    if r is None:
        return ["—"] * 5
    if not _ok(r):
        why = f"> {r['timeout']:.0f} s" if "timeout" in r else "failed"
        return ["—", why, "—", "—", "—"]
    times = [f"{r[k]['wall']:.2f} ({r[k]['cpu']:.2f})" for k in ("cold", "warm", "enter")]
    return [str(r["cold"]["num_fit"]), *times, f"{r['rss_peak_mb']:.0f}"]


def render(cost: list[dict[str, Any]], acc: list[dict[str, Any]], mem: list[dict[str, Any]],
           args: argparse.Namespace, wall: float,
           replays: list[dict[str, Any]] | None = None,
           stream: dict[str, list[dict[str, Any]]] | None = None) -> str:
    from ray_autoterm.criterion.regret import MAX_FIT

    out = ["# One decision at cluster scale\n"]
    out.append(
        f"`python benchmarks/scale_decisions.py {' '.join(args.argv)}` — {os.cpu_count()} cores "
        f"(shared), torch {torch.__version__}, one thread; d = {args.dim}, {FOLDS} folds, "
        f"cap `MAX_FIT` = {MAX_FIT}; total wall time {wall:.0f} s. Code: {args.code}.\n")
    if cost:
        out.append("## Cost of one decision (fresh process per row)\n")
        out.append(
            "Wall s (CPU s). *cold*: a fresh criterion on n trials; *warm*: the same criterion "
            "on n + 1 trials (the stream's next trial: a cached GP when it is not among the "
            "best); *enter*: then on n + 2, the last a new incumbent (the GP conditioned on new "
            "data, the LCB minimised again; no hyperparameter refit, as between the fitter's "
            "10% refits). *exact*: the cap off (the GP on the whole best half), measured "
            "in the same run; ratios are capped / exact. Peak RSS of the whole process "
            "(Python, torch, the history, the GP).\n")
        out.append("| n | n_fit | cold | warm | enter | peak RSS MB | exact n_fit | exact cold | "
                   "exact warm | exact enter | exact RSS MB | cold ratio | warm ratio | "
                   "enter ratio |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        by_n: dict[int, dict[bool, dict[str, Any]]] = {}
        for r in cost:
            by_n.setdefault(r["n"], {})[r["capped"]] = r
        for n in sorted(by_n):
            c, e = by_n[n].get(True), by_n[n].get(False)
            ratios = [f"{c[k]['cpu'] / e[k]['cpu']:.2f}" if _ok(c) and _ok(e) else "—"
                      for k in ("cold", "warm", "enter")]
            out.append(f"| {n} | {' | '.join(_cost_cells(c))} | {' | '.join(_cost_cells(e))} | "
                       f"{' | '.join(ratios)} |")
    if acc:
        names = [k for k in acc[0] if isinstance(acc[0][k], dict) and k != "exact"]
        out.append("\n## The capped bound against the exact one\n")
        out.append("Exact bound of Eq. 8 (LCB minimised, no screening) from a cold fit on each "
                   "fit set; relative error against the GP on the whole best half, in % (> 0: "
                   "larger bound, a later stop); seconds for fit + bound in parentheses.\n")
        out.append("| n | best half | exact bound (s) | " + " | ".join(names) + " |")
        out.append("|---|---|---|" + "---|" * len(names))
        for r in acc:
            ex = r["exact"]["bound"]
            cells = [f"{100 * (r[k]['bound'] - ex) / ex:+.1f}% ({r[k]['s']:.1f})" for k in names]
            out.append(f"| {r['n']} | {r['n_half']} | {ex:.4f} ({r['exact']['s']:.1f}) | "
                       + " | ".join(cells) + " |")
    if replays:
        same = sum(r["exact"] == r["capped"] for r in replays)
        diffs = [r["capped"] - r["exact"] for r in replays
                 if r["exact"] is not None and r["capped"] is not None]
        out.append("\n## Stop trial on recorded runs, the cap forced low\n")
        out.append(
            f"The recorded runs stop within their 100-200 trials, where the default cap "
            f"({MAX_FIT}) never engages (their stop trials are unchanged: "
            f"`tests/test_scale.py`). To see what a cap does to the stop, the same replays "
            f"(the criterion after every trial) with `MAX_FIT = {args.replay_cap}`, which "
            f"engages from n = {2 * args.replay_cap + 2}: the same stop trial in {same} of "
            f"{len(replays)} runs; capped − exact over the runs where both stop: "
            + (f"mean {np.mean(diffs):+.1f}, min {min(diffs):+d}, max {max(diffs):+d}."
               if diffs else "none.") + "\n")
        out.append("| run | exact stop | capped stop |")
        out.append("|---|---|---|")
        for r in replays:
            out.append(f"| {r['run']} | {r['exact'] or 'never'} | {r['capped'] or 'never'} |")
    if stream:
        capped, exact = stream["capped"], {r["t"]: r for r in stream.get("exact", [])}
        first = {k: next((r["t"] for r in v if r["stop"]), None) for k, v in stream.items()}
        out.append("\n## The synthetic stream replayed: bound and stop beyond the cap\n")
        out.append(
            f"The criterion (`exact_bound=True`, `GPFitter(refit_growth="
            f"{args.stream_refit_growth:g})`: 0 = hyperparameters refitted at each, warm-started) "
            f"every {args.stream_every} trials from "
            f"{args.stream_start} to {args.stream_n} on the cost table's stream, capped and (up "
            f"to {args.exact_max}) exact: first stop capped "
            f"{first['capped'] or 'never'}, exact {first.get('exact') or 'never'} (within "
            f"{min(args.exact_max, args.stream_n)} trials). CPU s per decision in parentheses.\n")
        out.append("| t | capped bound | ε | exact bound | capped / exact − 1 |")
        out.append("|---|---|---|---|---|")
        for r in capped:
            e = exact.get(r["t"])
            rel = f"{100 * (r['bound'] / e['bound'] - 1):+.1f}%" if e else "—"
            eb = f"{e['bound']:.4f} ({e['cpu']:.1f})" if e else "—"
            out.append(f"| {r['t']} | {r['bound']:.4f} ({r['cpu']:.1f}) | {r['error']:.4f} | "
                       f"{eb} | {rel} |")
    if mem:
        out.append("\n## Memory of the history and the decision log\n")
        out.append("Traced allocations (`tracemalloc`) of a `History` of n trials (configs, 5 "
                   "folds) and of n `Decision`s as the stopper keeps them (one per completed "
                   "trial at most); the log appends one JSON line per decision.\n")
        out.append("| n | history (traced MB) | history pickle MB | n decisions (traced MB) | "
                   "one decision's JSON line (bytes) | log of n decisions (MB) |")
        out.append("|---|---|---|---|---|---|")
        for r in mem:
            out.append(f"| {r['n']} | {r['history_mb']:.1f} | {r['history_pickle_mb']:.2f} | "
                       f"{r['decisions_mb']:.1f} | {r['decision_json_bytes']} | "
                       f"{r['n'] * (r['decision_json_bytes'] + 1) / 2**20:.1f} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--ns", type=int, nargs="*", default=[500, 1000, 2000, 3000, 5000, 10_000])
    p.add_argument("--exact-max", type=int, default=3000,
                   help="largest n also run with the cap off (the baseline)")
    p.add_argument("--acc-ns", type=int, nargs="*", default=[1500, 2000, 3000])
    p.add_argument("--mem-ns", type=int, nargs="*", default=[1000, 10_000])
    p.add_argument("--replay-runs", default=str(Path(__file__).parent / "results" / "runs-*.json"),
                   help="recorded runs to replay (a glob; empty: none)")
    p.add_argument("--replay-cap", type=int, default=20)
    p.add_argument("--stream-n", type=int, default=0,
                   help="replay the synthetic stream up to this many trials (0: not)")
    p.add_argument("--stream-every", type=int, default=250)
    p.add_argument("--stream-start", type=int, default=1250)
    p.add_argument("--stream-refit-growth", type=float, default=0.0,
                   help="the replay's GPFitter(refit_growth=...): 0 refits at every checkpoint")
    p.add_argument("--dim", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=300.0, help="per child process (s)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "scale_decisions.md"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.child:
        n, d, seed, capped = json.loads(args.child)
        print(json.dumps(cost_child(n, d, seed, capped)))
        return 0
    args.argv = sys.argv[1:] if argv is None else argv
    args.code = _bench.describe(_bench.provenance())
    t0 = time.perf_counter()
    cost: list[dict[str, Any]] = []
    for n in args.ns:
        for capped in ([True, False] if n <= args.exact_max else [True]):
            r = run_child(n, args.dim, args.seed, capped, args.timeout)
            cost.append(r)
            print(json.dumps(r), flush=True)
    acc = []
    for n in args.acc_ns:
        acc.append(accuracy(n, args.dim, args.seed))
        print(json.dumps(acc[-1]), flush=True)
    replays = []
    for path in sorted(glob.glob(args.replay_runs)) if args.replay_runs else []:
        replays.append({"run": Path(path).stem, "exact": replay(path, None),
                        "capped": replay(path, args.replay_cap)})
        print(json.dumps(replays[-1]), flush=True)
    stream: dict[str, list[dict[str, Any]]] = {}
    if args.stream_n:
        stream["capped"] = stream_replay(args.stream_n, args.stream_every, args.stream_start,
                                         args.dim, args.seed, regret_cap(),
                                         args.stream_refit_growth)
        print(json.dumps(stream["capped"]), flush=True)
        stream["exact"] = stream_replay(min(args.exact_max, args.stream_n), args.stream_every,
                                        args.stream_start, args.dim, args.seed, None,
                                        args.stream_refit_growth)
        print(json.dumps(stream["exact"]), flush=True)
    mem = [memory(n, args.dim, args.seed) for n in args.mem_ns]
    _bench.write_report(render(cost, acc, mem, args, time.perf_counter() - t0, replays,
                               stream), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
