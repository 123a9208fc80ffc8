#!/usr/bin/env python
"""Many cheap trials at high concurrency on a local multi-node Ray cluster.

Runs the same Tune experiment (random search, ``reuse_actors=True``, ``verbose=0``) several
times in one process on a ``ray.cluster_utils.Cluster`` (3 nodes x 12 logical CPUs by default,
so 32 concurrent trials fit on a 2-core machine):

* ``stopper``  with ``AutoTermStopper()`` as shipped, made never to stop (where it fires, the
               benchmark notes the trial and un-fires it), so it does all the GP work
               (hyperparameters refitted after 10% new data, the warm GP
               conditioned in between; the LCB screened while the bound is above the error;
               the worker thread capped at ``duty_cycle=0.25``); past the would-be stop the
               bound is mostly below the error and every decision minimises the LCB exactly,
               so the run's later part is the stopper's most expensive regime;
* ``eager``    the first release's behaviour, for reference: a hyperparameter refit and an exact
               LCB minimisation at every decision, and a worker that evaluates again as soon as
               a trial completes (``refit_growth=0, exact_bound=True, duty_cycle=1.0``);
* ``none``     without a stopper;
* ``real``     (``--real``) with the default stopper (``min_trials=20``), to see when it fires.

The arms run in ABBA order (none, stopper, eager, eager, stopper, none per ``--rounds``)
so that drift in the machine's load cancels. Reported: Tune's result throughput (results per
second, between the first and the last result seen by a callback in the driver) and the total
time for each run; the stopper's decision latency (from a trial's final result arriving at the
stopper to the first decision that includes it); the GP fit time and decision time against the
number of observations; the time the stopper's synchronous ``__call__`` costs the driver per result.

    python benchmarks/scale.py                       # 1,000 trials, 32 at a time
    python benchmarks/scale.py --quick               # 200 trials, 8 at a time
    python benchmarks/scale.py --trials 1000 --concurrency 32 --rounds 2 --real
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (environment, repository on sys.path)

os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

import numpy as np  # noqa: E402
import ray  # noqa: E402
from ray import tune  # noqa: E402

from ray_autoterm import AutoTermStopper, report_cv_scores  # noqa: E402
from ray_autoterm.gp import GPFitter  # noqa: E402

DIM = 4
OPTIMUM = 0.3
FOLD_NOISE = 0.05


def trainable(config: dict[str, Any]) -> None:
    """A trivial trial: sleep a few ms, report 5 noisy fold losses of a quadratic."""
    time.sleep(config["sleep_s"])
    x = np.array([config[f"x{j}"] for j in range(config["dim"])])
    f = float(((x - OPTIMUM) ** 2).sum())
    rng = np.random.default_rng(int(x[0] * 1e9) % (2**32))
    report_cv_scores([f + FOLD_NOISE * float(e) for e in rng.standard_normal(5)], mode="min")


def param_space(dim: int, sleep_s: float) -> dict[str, Any]:
    space: dict[str, Any] = {f"x{j}": tune.uniform(0.0, 1.0) for j in range(dim)}
    space.update(sleep_s=sleep_s, dim=dim)
    return space


# --------------------------------------------------------------------------- instrumentation
class ResultClock(tune.Callback):
    """Driver-side arrival time of every result (Tune's result throughput)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        self.times.append(time.perf_counter())


class _MLLCounter:
    count = 0
    _installed = False

    @classmethod
    def install(cls) -> None:
        if cls._installed:
            return
        from gpytorch.mlls import ExactMarginalLogLikelihood

        original = ExactMarginalLogLikelihood.forward

        def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
            cls.count += 1
            return original(self, *args, **kwargs)

        ExactMarginalLogLikelihood.forward = forward
        cls._installed = True


class TimedFitter(GPFitter):
    """Records (n_fit, wall s, thread CPU s, MLL evaluations) of every model computed; a model
    conditioned on new data without a hyperparameter refit has 0 MLL evaluations."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log: list[tuple[int, float, float, int]] = []

    def fit(self, X: np.ndarray, y: np.ndarray, role: str = "bound") -> Any:
        before, evals = self.num_fits, _MLLCounter.count
        w, c = time.perf_counter(), time.thread_time()
        model = super().fit(X, y, role=role)
        if self.num_fits > before:
            self.log.append((len(y), time.perf_counter() - w, time.thread_time() - c,
                             _MLLCounter.count - evals))
        return model


class TimedStopper(AutoTermStopper):
    """AutoTermStopper that records when each trial's fold list arrived and its own call cost."""

    def __init__(self, *args: Any, fitter: GPFitter | None = None, never_fire: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.never_fire = never_fire
        self.would_fire: int | None = None
        self.arrival: dict[str, float] = {}
        self.call_s: list[float] = []
        self.fits_by_n: list[tuple[int, int, float, float, int]] = []  # n, n_fit, wall, cpu, evals
        fitter = fitter or TimedFitter()
        self._state.fitter = fitter
        self.criterion.fitter = fitter

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        t0 = time.perf_counter()
        now = time.time()
        out = super().__call__(trial_id, result)
        if trial_id not in self.arrival and trial_id in self._state.history \
                and self._state.history[trial_id].complete:
            self.arrival[trial_id] = now
        self.call_s.append(time.perf_counter() - t0)
        return out

    def stop_all(self) -> bool:
        # Never-firing arms: Tune may ask between the worker's fire and its un-fire below.
        return False if self.never_fire else super().stop_all()

    def _decide(self, count: int | None = None) -> Any:
        k = len(self.criterion.fitter.log)
        decision = super()._decide(count)
        if self.never_fire and self._state.fired is not None:
            # Keep going: note where it would have stopped, and un-fire. After that point the
            # bound is mostly below the error, so every decision minimises the LCB exactly:
            # the later part of the run is the stopper's most expensive regime.
            self.would_fire = self.would_fire or decision.num_trials
            self._state.fired = None
            self._running_at_fire = None
        for fit in self.criterion.fitter.log[k:]:
            self.fits_by_n.append((decision.num_trials, *fit))
        return decision


# --------------------------------------------------------------------------- one run
class NoopStopper(tune.stopper.Stopper):
    """A stopper that never stops and does nothing: Tune's path with a stopper, at no cost."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return False


LABELS = {"none": "none", "noop": "a no-op Stopper (returns False)",
          "stopper": "AutoTermStopper as shipped, never stops",
          "eager": "first release: refit + exact LCB every decision, no duty cap",
          "real": "AutoTermStopper (default min_trials=20)"}
STOPPER_ARMS = ("stopper", "eager")


def run_once(kind: str, args: argparse.Namespace, storage: str, index: int) -> dict[str, Any]:
    space = param_space(args.dim, args.sleep_ms / 1000.0)
    log_dir = os.path.join(storage, f"log{index}")
    stopper: tune.stopper.Stopper | None = None
    if kind == "stopper":
        stopper = TimedStopper(param_space=space, never_fire=True, log_dir=log_dir)
    elif kind == "eager":
        stopper = TimedStopper(param_space=space, never_fire=True, log_dir=log_dir,
                               fitter=TimedFitter(refit_growth=0), duty_cycle=1.0,
                               exact_bound=True)
    elif kind == "noop":
        stopper = NoopStopper()
    elif kind == "real":
        stopper = TimedStopper(param_space=space, log_dir=log_dir)
    clock = ResultClock()
    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(num_samples=args.trials,
                                    max_concurrent_trials=args.concurrency, reuse_actors=True),
        run_config=tune.RunConfig(stop=stopper, callbacks=[clock], storage_path=storage,
                                  name=f"{kind}{index}", verbose=0),
    )
    load0 = os.getloadavg()[0]
    cpu0, w0 = time.process_time(), time.perf_counter()
    grid = tuner.fit()
    wall = time.perf_counter() - w0
    cpu = time.process_time() - cpu0
    out: dict[str, Any] = {"kind": kind, "index": index, "wall": wall, "driver_cpu": cpu,
                           "load": (load0 + os.getloadavg()[0]) / 2}
    t = np.array(clock.times)
    out["results"] = len(t)
    out["trials"] = sum(1 for r in grid if r.metrics and "cv_scores" in r.metrics)
    out["errors"] = sum(1 for r in grid if r.error is not None)
    span = t[-1] - t[0] if len(t) > 1 else float("nan")
    out["throughput"] = (len(t) - 1) / span if len(t) > 1 else float("nan")
    q = max(len(t) // 4, 2)
    out["throughput_last_q"] = (q - 1) / (t[-1] - t[-q]) if len(t) >= 2 * q else float("nan")
    if isinstance(stopper, TimedStopper):
        stopper._settle(timeout=300)
        out.update(stopper_stats(stopper))
        if out["errors"]:
            print(f"  {out['errors']} trial errors", flush=True)
    return out


def stopper_stats(stopper: TimedStopper) -> dict[str, Any]:
    decisions = list(stopper.decisions)
    hist = stopper.history
    # A decision with num_trials = k includes the records of completion order 1..k.
    order = {r.trial_id: r.order for r in hist.completed()}
    stamps = np.array([d.timestamp for d in decisions])
    counts = np.array([d.num_trials for d in decisions])
    latency: list[tuple[int, float]] = []
    for tid, arrived in stopper.arrival.items():
        k = order.get(tid)
        covering = stamps[counts >= k] if k is not None else []
        if len(covering):
            latency.append((k, float(covering.min() - arrived)))
    with_bound = [d for d in decisions if d.regret_bound is not None]
    return {
        "decisions": decisions,
        "num_decisions": len(decisions),
        "num_with_bound": len(with_bound),
        "max_n": max((d.num_trials for d in decisions), default=0),
        "fits": list(stopper.fits_by_n),
        "num_refits": stopper.criterion.fitter.num_refits,
        "num_screened": sum(not d.bound_exact for d in decisions),
        "latency": latency,
        "call_ms": 1e3 * float(np.mean(stopper.call_s)) if stopper.call_s else float("nan"),
        "call_ms_p99": 1e3 * float(np.percentile(stopper.call_s, 99)) if stopper.call_s
        else float("nan"),
        "fired": None if stopper.fired is None else stopper.fired.num_trials,
        "would_fire": stopper.would_fire,
    }


# --------------------------------------------------------------------------- report
BUCKETS = [(3, 19), (20, 49), (50, 99), (100, 199), (200, 399), (400, 699), (700, 1000)]


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


def mean(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.mean(r[key] for r in runs)


def render(runs: list[dict[str, Any]], args: argparse.Namespace, wall: float,
           cluster_desc: str) -> str:
    ms = lambda s: f"{1e3 * s:.0f}"  # noqa: E731
    out = ["# Scale: many cheap trials at high concurrency on a local multi-node cluster\n"]
    out.append(
        f"`python benchmarks/scale.py{' --quick' if args.quick else ''} --trials {args.trials} "
        f"--concurrency {args.concurrency}{' --real' if args.real else ''}` — "
        f"{platform.machine()}, {os.cpu_count()} real cores shared with other jobs; "
        f"{cluster_desc}; ray {ray.__version__}; trial = sleep {args.sleep_ms:g} ms + "
        f"`report_cv_scores` of a noisy {args.dim}-D quadratic (5 folds, one result per trial); "
        f"Tune's random search, `reuse_actors=True`, `verbose=0`. Total wall time {wall:.0f} s. "
        f"Code: {args.code}.\n")
    out.append("## Tune's throughput with and without the stopper (same process, ABBA order)\n")
    out.append("*results/s*: results seen by a driver callback, first to last. *driver CPU*: "
               "CPU seconds of the driver process during `Tuner.fit` (Tune's loop plus the "
               "stopper's worker thread). "
               "*load avg*: the machine's 1-min load average (2 cores; other jobs share them).\n")
    out.append("| run | stopper | trials | results/s | results/s, last quarter | total s | "
               "driver CPU s | load avg | decisions (with bound) | GP refits |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        dec = (f"{r['num_decisions']} ({r['num_with_bound']})" if "num_decisions" in r else "—")
        refits = r.get("num_refits", "—")
        out.append(f"| {r['index']} | {LABELS[r['kind']]} | {r['trials']} | "
                   f"{r['throughput']:.1f} | {r['throughput_last_q']:.1f} | {r['wall']:.1f} | "
                   f"{r['driver_cpu']:.1f} | {r['load']:.1f} | {dec} | {refits} |")
    base = [r for r in runs if r["kind"] == "none"]
    if base:
        tb, wb = mean(base, "throughput"), mean(base, "wall")
        qb, cb = mean(base, "throughput_last_q"), mean(base, "driver_cpu")
        spread = [r["throughput"] for r in base]
        noise = 100 * (max(spread) - min(spread)) / statistics.mean(spread)
        out.append("")
        out.append("| stopper (mean of its runs) | results/s (vs none) | last quarter (vs none) | "
                   "total s (vs none) | extra driver CPU, ms per result | ≤5% loss of "
                   "results/s? |")
        out.append("|---|---|---|---|---|---|")
        out.append(f"| none | {tb:.1f} | {qb:.1f} | {wb:.1f} | — | — |")
        for kind in ("noop", *STOPPER_ARMS):
            a = [r for r in runs if r["kind"] == kind]
            if not a:
                continue
            ta, wa, qa, ca = (mean(a, "throughput"), mean(a, "wall"),
                              mean(a, "throughput_last_q"), mean(a, "driver_cpu"))
            red = 100 * (1 - ta / tb)
            extra = 1e3 * (ca - cb) / max(mean(a, "results"), 1)
            # A loss is only resolved when it exceeds the baseline's own run-to-run spread.
            if red <= 5:
                verdict = ("**yes**" if noise <= 5
                           else f"not resolved (yes on the means; spread {noise:.0f}%)")
            else:
                verdict = "**no**" if red > noise else f"not resolved (spread {noise:.0f}%)"
            out.append(f"| {LABELS[kind]} | {ta:.1f} ({-red:+.1f}%) | {qa:.1f} "
                       f"({100 * (qa / qb - 1):+.1f}%) | {wa:.1f} ({100 * (wa / wb - 1):+.1f}%) "
                       f"| {extra:.0f} | {verdict} |")
        out.append(
            f"\nRun-to-run spread of the no-stopper throughput: {noise:.0f}% of its mean (other "
            f"jobs share the machine); differences within that are not resolved.")
        blocks = sorted({r["block"] for r in runs if r.get("block", -1) >= 0})
        if len(blocks) > 1:
            out.append("\nPer ABBA block (each arm's mean results/s in the block over the "
                       "no-stopper mean in the same block; median [min, max] over "
                       f"{len(blocks)} blocks):")
            for kind in ("noop", *STOPPER_ARMS):
                ratios = []
                for blk in blocks:
                    arm = [r["throughput"] for r in runs if r.get("block") == blk
                           and r["kind"] == kind]
                    ref = [r["throughput"] for r in runs if r.get("block") == blk
                           and r["kind"] == "none"]
                    if arm and ref:
                        ratios.append(statistics.mean(arm) / statistics.mean(ref))
                if ratios:
                    out.append(f"- {LABELS[kind]}: {100 * (statistics.median(ratios) - 1):+.1f}% "
                               f"[{100 * (min(ratios) - 1):+.1f}%, "
                               f"{100 * (max(ratios) - 1):+.1f}%]")
    for kind in STOPPER_ARMS:
        stop_runs = [r for r in runs if r["kind"] == kind]
        if not stop_runs:
            continue
        lat_all = [v for r in stop_runs for _, v in r["latency"]]
        out.append(f"\n## Decision latency and GP cost against n — {LABELS[kind]}\n")
        out.append(
            "Runs pooled. *latency*: from a trial's fold list reaching the stopper's "
            "`__call__` to the timestamp of the first decision that includes it (the worker "
            "coalesces bursts: a trial waits for the decision in progress, then its own). "
            "*fit*: `GPFitter.fit` wall time in the worker thread (thread CPU in parentheses; "
            "a GP conditioned on new data without a hyperparameter refit counts as a fit with 0 "
            "MLL evals); "
            "*decision*: `Decision.wall_time_s`. n = completed trials; n_fit = the best half, "
            "at least 20.\n")
        out.append("| n | decisions | median n_fit | fit ms, median (CPU) | fit ms, max | "
                   "MLL evals, median | decision ms, median | decision ms, max | "
                   "latency ms, median | latency ms, p95 |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        decisions = [d for r in stop_runs for d in r["decisions"]]
        fits = [f for r in stop_runs for f in r["fits"]]
        lat = [x for r in stop_runs for x in r["latency"]]
        for lo, hi in BUCKETS:
            ds = [d for d in decisions if lo <= d.num_trials <= hi]
            if not ds:
                continue
            fl = [f for f in fits if lo <= f[0] <= hi]
            ls = [v for k, v in lat if lo <= k <= hi]
            nf = statistics.median(d.num_fit or 0 for d in ds)
            fit_w, fit_c = [f[2] for f in fl], [f[3] for f in fl]
            out.append(
                f"| {lo}–{hi} | {len(ds)} | {nf:.0f} | {ms(pct(fit_w, 50))} "
                f"({ms(pct(fit_c, 50))}) | {ms(max(fit_w, default=math.nan))} | "
                f"{pct([f[4] for f in fl], 50):.0f} | "
                f"{ms(pct([d.wall_time_s for d in ds], 50))} | "
                f"{ms(max(d.wall_time_s for d in ds))} | {ms(pct(ls, 50))} | "
                f"{ms(pct(ls, 95))} |")
        out.append(
            f"\nAll trials: latency median {ms(pct(lat_all, 50))} ms, p95 "
            f"{ms(pct(lat_all, 95))} ms, max {ms(max(lat_all, default=math.nan))} ms. The "
            f"stopper's synchronous `__call__` costs the driver {mean(stop_runs, 'call_ms'):.2f} "
            f"ms per result (p99 {mean(stop_runs, 'call_ms_p99'):.2f} ms). Every decision from "
            f"3 trials on computed the GP bound: "
            f"{all(r['num_with_bound'] >= r['num_decisions'] - 2 for r in stop_runs)}; "
            f"largest n decided on: {max(r['max_n'] for r in stop_runs)}; hyperparameter refits "
            f"per run: {', '.join(str(r['num_refits']) for r in stop_runs)}; the criterion "
            f"would have stopped at trial "
            f"{', '.join(str(r['would_fire']) for r in stop_runs)}; decisions with a "
            f"screened (lower-estimate) bound per run: "
            f"{', '.join(str(r['num_screened']) for r in stop_runs)}.")
    for r in (r for r in runs if r["kind"] == "real"):
        out.append(
            "\nDefault stopper (`min_trials=20`): "
            + (f"fired after {r['fired']} trials; the experiment ended with {r['trials']} trials "
               f"run in {r['wall']:.1f} s (budget {args.trials})."
               if r["fired"] else f"did not fire within {args.trials} trials.")
        )
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=None, help="trials per run (1000)")
    p.add_argument("--concurrency", type=int, default=None, help="concurrent trials (32)")
    p.add_argument("--quick", action="store_true", help="200 trials, 8 concurrent, 1 round")
    p.add_argument("--rounds", type=int, default=None,
                   help="ABBA rounds (default 1: none, stopper, eager, eager, stopper, none)")
    p.add_argument("--real", action="store_true", help="also run the default stopper once")
    p.add_argument("--arms", default="none,noop,stopper,eager",
                   help="comma list of none, noop (a Stopper that does nothing), stopper (as "
                        "shipped), eager (the first release's refit + exact bound at every "
                        "decision, no duty cap)")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--cpus-per-node", type=int, default=12)
    p.add_argument("--sleep-ms", type=float, default=5.0)
    p.add_argument("--dim", type=int, default=DIM)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "scale.md"))
    args = p.parse_args(argv)
    if args.quick:
        args.trials = args.trials or 200
        args.concurrency = args.concurrency or 8
    args.trials = args.trials or 1000
    args.concurrency = args.concurrency or 32
    args.rounds = args.rounds or 1
    args.code = _bench.describe(_bench.provenance())  # the code as it was when the run started
    _MLLCounter.install()

    t0 = time.perf_counter()
    cluster = _bench.start_cluster(args.nodes, args.cpus_per_node)
    cluster_desc = (f"`ray.cluster_utils.Cluster` with {args.nodes} nodes x "
                    f"{args.cpus_per_node} logical CPUs, {args.concurrency} trials at a time")
    storage = tempfile.mkdtemp(prefix="autoterm_scale_")
    runs: list[dict[str, Any]] = []
    try:
        # A short warm-up run: worker start-up, imports, first-call costs on both sides.
        warm = argparse.Namespace(**{**vars(args),
                                     "trials": min(args.trials, 2 * args.concurrency)})
        run_once("stopper", warm, storage, 0)
        order = []
        arms = [a.strip() for a in args.arms.split(",") if a.strip()]
        for _ in range(args.rounds):
            order += arms + arms[::-1]
        if args.real:
            order.append("real")
        for i, kind in enumerate(order, start=1):
            r = run_once(kind, args, storage, i)
            r["block"] = (i - 1) // (2 * len(arms)) if kind != "real" else -1
            runs.append(r)
            extra = (f", {r['num_decisions']} decisions, latency median "
                     f"{1e3 * pct([v for _, v in r['latency']], 50):.0f} ms"
                     if "num_decisions" in r else "")
            print(f"run {i} {kind:8s}: {r['trials']} trials, {r['throughput']:.1f} results/s, "
                  f"{r['wall']:.1f} s{extra}", flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(storage, ignore_errors=True)
    text = render(runs, args, time.perf_counter() - t0, cluster_desc)
    raw = [{k: v for k, v in r.items() if k not in ("decisions", "fits", "latency")}
           for r in runs]
    Path(args.out).with_suffix(".json").write_text(json.dumps(
        {"code": args.code, "args": {k: v for k, v in vars(args).items()}, "runs": raw},
        indent=1, default=str))
    _bench.write_report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
