#!/usr/bin/env python
"""How long the stopper holds Tune's driver when results arrive faster than decisions.

Tune hands every result to ``Stopper.__call__(trial_id, result)`` and asks ``stop_all()`` once a
loop step, both on its one driver thread: while either runs, no other result is processed. This
script plays that driver without Ray: a stream of ``--n`` completed trials (random configs of a
``--dim``-D quadratic, 5 CV fold losses each, one final result a trial with ``"config"``,
``"cv_scores"`` and ``"done": True``) is fed to the stopper from one thread at ``--rate`` results
per second (result ``i`` is due at ``i / rate`` s; a late one is sent at once), with
``stop_all()`` after every result. The stream ends when ``stop_all()`` says so or after ``--n``.

Arms, in one process, on the same stream:

* ``no-op``: a ``ray.tune.Stopper`` that never stops (the baseline: the feeding loop's own cost);
* ``ours``: ``AutoTermStopper(param_space=..., max_lag=..., duty_cycle=...)`` as shipped
  (background worker);
* ``sync``: ``AutoTermStopper(background=False)``, until it fires (or after ``--sync-max``
  trials): the synchronous rule's stop trial ``s``, and its held share.

Reported per arm: the share of wall time spent inside ``__call__`` and ``stop_all`` (Tune held),
the longest single call, how often the worker held the caller (``max_lag``), the decisions made,
the trial count at the stop, and the stop lag in trials against ``sync`` (the trials completed
when ``stop_all()`` first returned ``True``, minus ``s``; and the firing decision's own count
minus ``s``). Each arm feeds for ``--time-limit`` seconds at most. ``--fold-noise`` sets the
CV noise: with the defaults (d = 6, noise 0.05) random search does not fire within hundreds of
trials, so the hold is measured as the history grows; ``--dim 2 --fold-noise 0.1`` fires after
some 190 trials (a stop lag to measure).

    python benchmarks/driver_hold.py --n 10000 --rate 300                 # ~25 min
    python benchmarks/driver_hold.py --n 600 --rate 300 --dim 2 --fold-noise 0.1  # ~2 min
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (environment, repository on sys.path)

_bench.single_threaded()  # BLAS on one thread, as the library runs its GP work anyway

import numpy as np  # noqa: E402
from ray import tune  # noqa: E402

from ray_autoterm import AutoTermStopper  # noqa: E402

FOLDS = 5
OPTIMUM = 0.3


class NoOpStopper(tune.Stopper):
    """Never stops: the cost of the feeding loop itself."""

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return False


def make_stream(n: int, d: int, noise: float, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """``n`` final results of random-search trials on a noisy quadratic, in completion order."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    f = ((X - OPTIMUM) ** 2).sum(1)
    folds = f[:, None] + noise * rng.standard_normal((n, FOLDS))
    return [(f"t{i:05d}", {"config": {f"x{j}": float(v) for j, v in enumerate(X[i])},
                           "cv_scores": [float(v) for v in folds[i]], "done": True,
                           "training_iteration": 1})
            for i in range(n)]


def param_space(d: int) -> dict[str, Any]:
    return {f"x{j}": tune.uniform(0.0, 1.0) for j in range(d)}


def feed(stopper: Any, stream: list[tuple[str, dict[str, Any]]], rate: float | None,
         progress: str = "", time_limit: float = float("inf")) -> dict[str, Any]:
    """Play Tune's driver: each result to ``stopper(trial_id, result)``, then ``stop_all()``.

    Returns the wall time, the time inside the stopper's calls, the longest call, and the number
    of results fed when ``stop_all()`` first returned ``True`` (``None``: never). Feeding ends
    there, after the stream, or once ``time_limit`` seconds have passed.
    """
    inside, longest, stopped_at = 0.0, 0.0, None
    calls: list[float] = []
    start = time.perf_counter()
    for i, (trial_id, result) in enumerate(stream):
        if rate is not None:
            wait = start + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        t0 = time.perf_counter()
        stopper(trial_id, dict(result))
        stop = stopper.stop_all()
        dt = time.perf_counter() - t0
        inside += dt
        calls.append(dt)
        longest = max(longest, dt)
        if progress and (i + 1) % 1000 == 0:
            print(f"  {progress}: {i + 1} results, {time.perf_counter() - start:.0f} s, "
                  f"held {inside:.1f} s", flush=True)
        if stop:
            stopped_at = i + 1
            break
        if time.perf_counter() - start > time_limit:
            break
    wall = time.perf_counter() - start
    return {"wall": wall, "inside": inside, "longest": longest, "stopped_at": stopped_at,
            "fed": len(calls), "p99": float(np.quantile(calls, 0.99)) if calls else 0.0,
            "median": statistics.median(calls) if calls else 0.0}


def ours(args: argparse.Namespace, background: bool, log_dir: str) -> AutoTermStopper:
    return AutoTermStopper(param_space=param_space(args.dim), background=background,
                           max_lag=args.max_lag, duty_cycle=args.duty_cycle, log_dir=log_dir,
                           report_progress=True, seed=args.seed)


def stopper_numbers(stopper: AutoTermStopper, log_dir: str) -> dict[str, Any]:
    worker = getattr(stopper, "_worker", None)
    log = Path(log_dir, "autoterm_decisions.jsonl")
    fired = stopper.fired
    return {"decisions": len(stopper.decisions),
            "holds": getattr(worker, "holds", None),
            "fired_num_trials": None if fired is None else fired.num_trials,
            "decision_s": sum(d.wall_time_s for d in stopper.decisions),
            "log_bytes": log.stat().st_size if log.exists() else 0,
            "last_num_trials": stopper.decisions[-1].num_trials if stopper.decisions else 0}


def run(args: argparse.Namespace) -> dict[str, Any]:
    stream = make_stream(args.n, args.dim, args.fold_noise, args.seed)
    out: dict[str, Any] = {}
    # Warm-up: imports, torch's first calls (a user's driver has done those by trial 20).
    warm = ours(args, False, tempfile.mkdtemp())
    feed(warm, make_stream(25, args.dim, 0.05, args.seed + 1), None)

    print("no-op stopper ...", flush=True)
    out["no-op"] = feed(NoOpStopper(), stream, args.rate, time_limit=args.time_limit)

    print("ours (background) ...", flush=True)
    log_dir = tempfile.mkdtemp()
    stopper = ours(args, True, log_dir)
    res = feed(stopper, stream, args.rate, progress="ours", time_limit=args.time_limit)
    stopper.wait_for_decision(timeout=120)
    res.update(stopper_numbers(stopper, log_dir))
    out["ours"] = res

    print("sync (background=False) ...", flush=True)
    log_dir = tempfile.mkdtemp()
    sync = ours(args, False, log_dir)
    res = feed(sync, stream[:args.sync_max], args.rate, progress="sync",
               time_limit=args.time_limit)
    res.update(stopper_numbers(sync, log_dir))
    out["sync"] = res
    return out


def render(out: dict[str, Any], args: argparse.Namespace, wall: float) -> str:
    s = out["sync"]["fired_num_trials"]
    lines = ["# Driver hold: the stopper on Tune's result path\n"]
    lines.append(
        f"`python benchmarks/driver_hold.py {' '.join(args.argv)}` — {os.cpu_count()} cores "
        f"(shared, load {os.getloadavg()[0]:.1f} at the end); {args.n:,} trials at "
        f"{args.rate:g} results/s, d = {args.dim}, {FOLDS} folds, fold noise {args.fold_noise}; "
        f"`max_lag={args.max_lag}`, `duty_cycle={args.duty_cycle}`; total {wall:.0f} s. "
        f"Code: {args.code}.\n")
    lines.append("*held*: time inside `__call__` + `stop_all()` over the arm's wall time; "
                 "*held / no-op*: against the no-op stopper's share on the same stream. "
                 "*stop at*: results fed when `stop_all()` first said `True`; *fired on*: the "
                 "firing decision's trial count; lags against *sync*'s stop trial s.\n")
    lines.append("| arm | results fed | wall s | held s | held share | held / no-op | longest "
                 "call ms | p99 ms | worker holds | decisions | last decision on | stop at | "
                 "fired on | lag (stop at − s) | log bytes / decision |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = out["no-op"]["inside"] / out["no-op"]["wall"]
    for arm in ("no-op", "ours", "sync"):
        r = out[arm]
        share = r["inside"] / r["wall"]
        lag = (f"{r['stopped_at'] - s:+d}" if s is not None and r.get("stopped_at") is not None
               and arm != "sync" else "—")
        per = (f"{r['log_bytes'] / r['decisions']:.0f}" if r.get("decisions") else "—")
        lines.append(
            f"| {arm} | {r['fed']} | {r['wall']:.1f} | {r['inside']:.2f} | {100 * share:.2f}% | "
            f"{share / base if base > 0 else float('nan'):.1f} | {1e3 * r['longest']:.0f} | "
            f"{1e3 * r['p99']:.1f} | {r.get('holds', '—')} | {r.get('decisions', '—')} | "
            f"{r.get('last_num_trials', '—')} | {r['stopped_at'] or 'never'} | "
            f"{r.get('fired_num_trials') or '—'} | {lag} | {per} |")
    if s is None:
        lines.append(f"\nThe synchronous rule did not fire within {out['sync']['fed']} trials: "
                     "no stop lag to report (raise `--fold-noise` for an earlier stop).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="trials in the stream")
    p.add_argument("--rate", type=float, default=300.0, help="results per second")
    p.add_argument("--dim", type=int, default=6)
    p.add_argument("--fold-noise", type=float, default=0.05)
    p.add_argument("--max-lag", type=int, default=4)
    p.add_argument("--duty-cycle", type=float, default=0.25)
    p.add_argument("--sync-max", type=int, default=2000,
                   help="the synchronous arm stops after this many trials if it has not fired")
    p.add_argument("--time-limit", type=float, default=600.0,
                   help="seconds of feeding per arm at most (the table says how many were fed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "driver_hold.md"))
    args = p.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    args.code = _bench.describe(_bench.provenance())
    t0 = time.perf_counter()
    out = run(args)
    print(json.dumps(out, default=str))
    _bench.write_report(render(out, args, time.perf_counter() - t0), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
