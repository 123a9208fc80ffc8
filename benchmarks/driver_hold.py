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

``--tune N`` adds a real Tune run: N no-op trials (each reports its 5 folds at once),
``--concurrency`` at a time, on a local ``ray.cluster_utils.Cluster`` (``--nodes`` x
``--cpus-per-node`` logical CPUs), with a no-op stopper and with ours (``--n 0``: only that).

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


class HeldMixin:
    """Times what Tune's driver spends inside ``__call__`` and ``stop_all`` (a Tune run)."""

    held = 0.0
    calls = 0

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        t0 = time.perf_counter()
        try:
            return super().__call__(trial_id, result)  # type: ignore[misc]
        finally:
            self.held += time.perf_counter() - t0
            self.calls += 1

    def stop_all(self) -> bool:
        t0 = time.perf_counter()
        try:
            return super().stop_all()  # type: ignore[misc]
        finally:
            self.held += time.perf_counter() - t0


class HeldNoOp(HeldMixin, NoOpStopper):
    pass


class HeldOurs(HeldMixin, AutoTermStopper):
    pass


def trainable(config: dict[str, Any]) -> None:
    """A no-op trial: 5 fold losses of the quadratic at once (noise seeded by the config)."""
    from ray_autoterm import report_cv_scores

    x = np.array([v for k, v in sorted(config.items()) if k.startswith("x")])
    rng = np.random.default_rng(abs(hash(tuple(x.round(12)))) % 2**32)
    f = float(((x - OPTIMUM) ** 2).sum())
    report_cv_scores((f + config["noise"] * rng.standard_normal(FOLDS)).tolist(), mode="min")


def tune_runs(args: argparse.Namespace) -> dict[str, Any]:
    """``--tune N``: N no-op trials on a local multi-node cluster, a no-op stopper then ours."""
    import ray

    cluster = _bench.start_cluster(args.nodes, args.cpus_per_node)
    out: dict[str, Any] = {}
    try:
        for arm in ("no-op", "ours"):
            storage = tempfile.mkdtemp()
            space = {**param_space(args.dim), "noise": args.fold_noise}
            stopper: Any = HeldNoOp() if arm == "no-op" else HeldOurs(
                param_space=param_space(args.dim), max_lag=args.max_lag,
                duty_cycle=args.duty_cycle, log_dir=storage, seed=args.seed)
            callbacks = [] if arm == "no-op" else [stopper.callback()]
            tuner = tune.Tuner(
                trainable, param_space=space,
                tune_config=tune.TuneConfig(num_samples=args.tune, reuse_actors=True,
                                            max_concurrent_trials=args.concurrency),
                run_config=tune.RunConfig(stop=stopper, callbacks=callbacks,
                                          storage_path=storage, name=arm, verbose=0))
            print(f"Tune, {arm} ...", flush=True)
            start = time.perf_counter()
            grid = tuner.fit()
            wall = time.perf_counter() - start
            res = {"wall": wall, "held": stopper.held, "calls": stopper.calls,
                   "trials": len(grid)}
            if arm == "ours":
                res.update(stopper_numbers(stopper, storage))
            out[arm] = res
            print(json.dumps(res), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    return out


def render_tune(out: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [f"\n## A Tune run: {args.tune} no-op trials, {args.concurrency} at a time, on a "
             f"local {args.nodes}-node cluster ({args.cpus_per_node} CPUs each)\n"]
    lines.append("*held share*: time inside the stopper's `__call__` + `stop_all` over "
                 "`Tuner.fit`'s wall time (Tune's own loop is the bottleneck here).\n")
    lines.append("| arm | trials | fit wall s | results/s | held s | held share | decisions | "
                 "worker holds | fired on |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for arm, r in out.items():
        lines.append(f"| {arm} | {r['trials']} | {r['wall']:.1f} | {r['trials'] / r['wall']:.1f} "
                     f"| {r['held']:.2f} | {100 * r['held'] / r['wall']:.2f}% | "
                     f"{r.get('decisions', '—')} | {r.get('holds', '—')} | "
                     f"{r.get('fired_num_trials') or '—'} |")
    return "\n".join(lines) + "\n"


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
    return AutoTermStopper(param_space=param_space(args.dim), mode="min", background=background,
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
    stopper._settle(timeout=120)
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
    p.add_argument("--tune", type=int, default=0,
                   help="also run this many no-op trials through Tune on a local cluster")
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--cpus-per-node", type=int, default=36)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "driver_hold.md"))
    args = p.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    args.code = _bench.describe(_bench.provenance())
    t0 = time.perf_counter()
    out = run(args) if args.n else {}
    print(json.dumps(out, default=str))
    text = render(out, args, time.perf_counter() - t0) if out else "# Driver hold\n"
    if args.tune:
        text += render_tune(tune_runs(args), args)
    _bench.write_report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
