#!/usr/bin/env python
"""How far the real stop lags the synchronous rule: trial durations x concurrency x searchers.

Every run is a Tune experiment on a local multi-node ``ray.cluster_utils.Cluster`` (3 nodes x
12 logical CPUs by default, so 32 concurrent trials fit on a small machine), stopped by
``AutoTermStopper`` with its defaults (background worker, ``min_trials=20``), with one of three
searchers: Tune's default (``BasicVariantGenerator``, random search), ``OptunaSearch(metric=
"cv_mean", mode="min")``, or a linked ``AutoTermSearcher`` (``AutoTermStopper(searcher=...)``).
Concurrency is ``TuneConfig(max_concurrent_trials=c)`` (``max_concurrent`` of the default
searcher), ``reuse_actors=True``. The trial sleeps ``duration`` seconds and reports 5 fold
losses of a 2-parameter quadratic with a fold effect (``report_cv_scores``); the rule fires
after some 20-55 trials of random search. Each run is a fresh driver process joined to the
cluster, as a user's script is: its imports and first GP fit are cold.

**The lag, defined.** The trials of a run, in the order they completed (the stopper's
history), are replayed synchronously through the same criterion (``AutoTermCriterion`` with the
stopper's settings, evaluated after every completed trial):

* *synchronous stop* ``s``: the first ``t`` at which the replay fires (Eq. 10);
* *fired at*: the firing decision's ``num_trials`` in the real run (``stopper.fired``), and
  *completed at end*: the trials with folds when ``Tuner.fit`` returned;
* *lag (trials)* = fired at - ``s`` (and completed at end - ``s``);
* *lag (s)* = the wall time from the completion of trial ``s`` (its result reaching the driver,
  seen by a ``tune.Callback``) to the first moment ``stop_all()`` returned ``True``. For a run
  that never fired, the lag is at least (end of ``fit`` - completion of trial ``s``), shown
  as ``>= ...``.

Only the public API is used (``AutoTermStopper``, ``AutoTermSearcher``, ``report_cv_scores``;
``stop_all`` and a linked searcher's ``suggest`` are timed in subclasses), so the benchmark
measures any version of the stopper. The replay is a copy of the stopper's criterion with a cold
GP fitter, evaluated at every trial as a ``background=False`` stopper would; a background run
refits the GP's hyperparameters at other trial counts (and a linked searcher shares its
fitter), so near the stop the two can disagree by a few trials either way. Each run records,
for the real decisions after the synchronous stop, whether the replay fires at the same trial
count (a "no" in the real run where the replay says stop is that variation, not a delay). The
seconds include Tune's own polling of ``stop_all`` (once per loop step, after it asks the
searcher for a trial) and are inflated by whatever else the machine runs.

    python benchmarks/lag.py                 # the grid below, without (5 s, 1): ~35 min on a
                                             # shared 2-core machine
    python benchmarks/lag.py --quick         # durations 0.05, 0.5 s x concurrency 1, 32
    python benchmarks/lag.py --durations 5 --concurrency 1 --samples 40   # the skipped cell

Grid: durations 0.05 / 0.5 / 5 s x concurrency 1 / 4 / 32 x the three searchers, 80 samples a
run. The cell (5 s, concurrency 1) is left out unless named with ``--durations/--concurrency``
or ``--all``: it takes ~5 s per trial in sequence, so 3 runs would need at least 8 minutes just
to reach the synchronous stop, and with one trial at a time whose duration dwarfs a decision
(~0.1-1 s), there is no lag to measure beyond a decision's duration.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (environment, repository on sys.path)

os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

import numpy as np  # noqa: E402
import ray  # noqa: E402
from ray import tune  # noqa: E402
from ray.tune.search.basic_variant import BasicVariantGenerator  # noqa: E402

# What a user's script imports (the replay imports the rest after the run).
from ray_autoterm import AutoTermSearcher, AutoTermStopper, report_cv_scores  # noqa: E402

NOISE = 0.04  # the fold effect's standard deviation: the rule fires after ~20-55 random trials
FOLD_EFFECT = NOISE * np.array([-2.0, -1.0, 0.0, 1.0, 2.0]) / np.sqrt(2.0)
SEARCHERS = ("default", "optuna", "linked")
LABELS = {"default": "default (random)", "optuna": "OptunaSearch", "linked": "AutoTermSearcher"}


# --------------------------------------------------------------------------- objective
def folds(config: dict[str, Any]) -> list[float]:
    """5 fold losses: ``(a-0.3)² + (b-0.7)²`` + a fold effect shared by all configs + a small
    per-config noise (seeded by the config, so a config always gets the same folds)."""
    seed = zlib.crc32(repr((round(config["a"], 12), round(config["b"], 12))).encode())
    own = (NOISE / 6) * np.random.default_rng(seed).standard_normal(5)
    loss = (config["a"] - 0.3) ** 2 + (config["b"] - 0.7) ** 2
    return [float(v) for v in loss + FOLD_EFFECT + own]


def trainable(config: dict[str, Any]) -> None:
    time.sleep(config["duration"])
    report_cv_scores(folds(config), mode="min")


def param_space(duration: float) -> dict[str, Any]:
    return {"a": tune.uniform(0.0, 1.0), "b": tune.uniform(0.0, 1.0), "duration": duration}


# --------------------------------------------------------------------------- instrumentation
class CompletionClock(tune.Callback):
    """Driver time at which each trial's fold result arrived (the stopper sees it then too)."""

    def __init__(self) -> None:
        self.done_at: dict[str, float] = {}

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        if "cv_scores" in result and trial.trial_id not in self.done_at:
            self.done_at[trial.trial_id] = time.time()


class TimedStopper(AutoTermStopper):
    """``AutoTermStopper`` that notes when ``stop_all()`` first returned ``True``."""

    stop_time: float | None = None

    def stop_all(self) -> bool:
        out = super().stop_all()
        if out and self.stop_time is None:
            self.stop_time = time.time()
        return out


class TimedSearcher(AutoTermSearcher):
    """``AutoTermSearcher`` that notes when each ``suggest`` ran (Tune calls it on its own
    thread, once per loop step, before it checks ``stop_all()``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[float, float]] = []

    def suggest(self, trial_id: str) -> Any:
        start = time.time()
        try:
            return super().suggest(trial_id)
        finally:
            self.calls.append((start, time.time()))


def replay_criterion(stopper: AutoTermStopper) -> Any:
    """The stopper's criterion with all its settings, but a cold GP fitter and no caches: what a
    fresh ``background=False`` stopper would evaluate."""
    from ray_autoterm.gp import GPFitter

    criterion = pickle.loads(pickle.dumps(stopper.criterion))  # drops the cached torch model
    criterion.fitter = GPFitter()
    for cache in ("_last_argmin", "_last_bound"):
        if hasattr(criterion.improvement_evaluator, cache):
            setattr(criterion.improvement_evaluator, cache, None)
    return criterion


def synchronous_stop(stopper: AutoTermStopper, records: list, space: Any,
                     check: list[int]) -> tuple[int | None, dict[int, bool]]:
    """First ``t`` at which the criterion fires on the first ``t`` records (completion order),
    and, continuing past it, what the replay says at each ``t`` in ``check`` (the trial counts
    of the real run's later decisions): a real decision that did not fire where the replay
    does shows the criterion's own variation (a GP refitted at other points), not a delay."""
    criterion = replay_criterion(stopper)
    usable = [r for r in records if criterion.usable(r)]
    sync = None
    for t in range(1, len(usable) + 1):
        if criterion.evaluate(usable[:t], space).should_stop:
            sync = t
            break
    later = {}
    if sync is not None:
        for t in sorted(set(check)):
            if sync < t <= len(usable):
                later[t] = bool(criterion.evaluate(usable[:t], space).should_stop)
    return sync, later


# --------------------------------------------------------------------------- one run
def run_once(spec: dict[str, Any]) -> dict[str, Any]:
    """One experiment, ``spec`` = duration, concurrency, searcher, samples, seed, run_cap,
    storage, name; returns its row of the table (the lag and what it is made of)."""
    duration, concurrency, searcher = spec["duration"], spec["concurrency"], spec["searcher"]
    args = argparse.Namespace(**spec)
    space = param_space(duration)
    search_alg: Any
    if searcher == "linked":
        search_alg = TimedSearcher(space, seed=args.seed)
        stopper = TimedStopper(searcher=search_alg)
    else:
        stopper = TimedStopper(param_space=space)
        if searcher == "optuna":
            from ray.tune.search.optuna import OptunaSearch

            search_alg = OptunaSearch(metric="cv_mean", mode="min", seed=args.seed)
        else:
            # Tune's default searcher, seeded; it is not a ``Searcher``, so it takes the
            # concurrency itself (``max_concurrent_trials`` would be ignored, with a warning).
            search_alg = BasicVariantGenerator(random_state=args.seed, max_concurrent=concurrency)
    clock = CompletionClock()
    callbacks: list[tune.Callback] = [clock]
    # Versions that feed the stopper from a Tune ``Callback`` too: pass it, the supported way
    # (``stop=stopper`` alone attaches it as well).
    if hasattr(stopper, "callback"):
        callbacks.append(stopper.callback())
    tuner = tune.Tuner(
        trainable,
        # The linked searcher holds the space already (Tune refuses it twice).
        param_space=None if searcher == "linked" else space,
        tune_config=tune.TuneConfig(search_alg=search_alg, num_samples=args.samples,
                                    max_concurrent_trials=None if searcher == "default"
                                    else concurrency, reuse_actors=True,
                                    time_budget_s=args.run_cap),
        run_config=tune.RunConfig(stop=stopper, callbacks=callbacks, storage_path=args.storage,
                                  name=args.name, verbose=0),
    )
    load0 = os.getloadavg()[0]
    start = time.time()
    tuner.fit()
    end = time.time()
    # What a user sees when fit() returns (a background worker may still be busy: not waited).
    decisions = list(stopper.decisions)
    fired = stopper.fired
    records = list(stopper.history.completed())
    stop_time = stopper.stop_time

    from ray_autoterm.space import SearchSpace

    stopper._settle(timeout=30)  # let the worker finish before the criterion is copied
    check = [d.num_trials for d in decisions if fired is None or d.num_trials <= fired.num_trials]
    sync, later = synchronous_stop(stopper, records, SearchSpace.from_param_space(space), check)
    out: dict[str, Any] = {
        "duration": duration, "concurrency": concurrency, "searcher": searcher,
        "samples": args.samples, "wall_s": end - start, "load": (load0 + os.getloadavg()[0]) / 2,
        "sync_stop": sync, "fired_at": None if fired is None else fired.num_trials,
        "completed_at_end": len(records), "num_decisions": len(decisions),
        "decision_ns": [d.num_trials for d in decisions],
        "decision_wall_s": [round(d.wall_time_s, 3) for d in decisions],
        "capped": stop_time is None and end - start >= args.run_cap - 1,
        "stopper_callback": len(callbacks) > 1,
        # The real decisions after the synchronous stop that did not fire, and whether the
        # replay fires at the same trial counts.
        "replay_at_later_decisions": {str(t): v for t, v in later.items()},
    }
    done_at = [clock.done_at.get(r.trial_id) for r in records]
    # The trials in completion order (their folds are ``folds(config)``), to redo the replay.
    out["trials"] = [[r.config["a"], r.config["b"], None if t is None else round(t - start, 3)]
                     for r, t in zip(records, done_at, strict=True)]
    if isinstance(search_alg, TimedSearcher):
        calls = list(search_alg.calls)
        out["suggest_s"] = {"count": len(calls), "total": sum(b - a for a, b in calls),
                            "max": max((b - a for a, b in calls), default=0.0)}
        if fired is not None:
            # The proposal Tune was computing when the stopper fired: Tune checks stop_all()
            # only once it returns.
            busy = [b - fired.timestamp for a, b in calls if a <= fired.timestamp < b]
            out["suggest_after_fire_s"] = busy[0] if busy else 0.0
    if stop_time is not None:
        out["completed_at_stop_all"] = sum(1 for t in done_at if t is not None and t <= stop_time)
    if sync is not None:
        out["lag_trials"] = None if fired is None else fired.num_trials - sync
        out["lag_trials_end"] = len(records) - sync
        t_sync = done_at[sync - 1]
        if t_sync is not None:
            if stop_time is not None:
                out["lag_s"] = stop_time - t_sync
                out["decision_lag_s"] = fired.timestamp - t_sync if fired is not None else None
            else:
                out["lag_s_at_least"] = end - t_sync
    return out


# --------------------------------------------------------------------------- report
def cell(r: dict[str, Any]) -> list[str]:
    def n(v: Any) -> str:
        return "—" if v is None else str(v)

    if "failed" in r:
        return [f"{r['duration']:g}", str(r["concurrency"]), LABELS[r["searcher"]],
                f"run failed ({r['failed']})", *["—"] * 10]
    sync = r["sync_stop"]
    fired = r["fired_at"]
    fired_s = str(fired) if fired is not None else (
        "never" + (" (time cap)" if r["capped"] else ""))
    decided = "—" if r.get("decision_lag_s") is None else f"{r['decision_lag_s']:.1f}"
    later = r.get("replay_at_later_decisions")
    later_s = "—" if not later else f"{sum(later.values())}/{len(later)}"
    if sync is None:
        lag_t, lag_s = "sync never fired", "—"
    else:
        lag_t = f"{n(r.get('lag_trials'))} (end: {r['lag_trials_end']:+d})"
        if "lag_s" in r:
            lag_s = f"{r['lag_s']:.1f}"
        elif "lag_s_at_least" in r:
            lag_s = f">= {r['lag_s_at_least']:.1f} (no stop)"
        else:
            lag_s = "—"
    return [f"{r['duration']:g}", str(r["concurrency"]), LABELS[r["searcher"]], n(sync),
            fired_s, n(r.get("completed_at_stop_all")), str(r["completed_at_end"]), lag_t,
            decided, lag_s, later_s, str(r["num_decisions"]), f"{r['wall_s']:.0f}",
            f"{r['load']:.1f}"]


def render(data: dict[str, Any]) -> str:
    """The report, from what ``main`` saves as JSON (``--render`` redoes it from the file)."""
    args = argparse.Namespace(**data["args"])
    runs = data["runs"]
    wall = data.get("total_wall_s")
    out = ["# Lag of the stop behind the synchronous rule\n"]
    out.append(
        f"`{data['command']}` — {data.get('machine', '?')}, shared with other jobs; "
        f"{data.get('cluster', '?')}; ray {data.get('ray', '?')}; trial = sleep *duration* + "
        f"`report_cv_scores` of a 2-parameter quadratic with a fold effect (5 folds); "
        f"`AutoTermStopper()` defaults (background worker, `min_trials=20`); "
        f"{args.samples} samples a run, `reuse_actors=True`, seed {args.seed}, "
        f"per-run cap {args.run_cap:g} s; each run a fresh driver process. "
        + (f"Total wall time {wall:.0f} s. " if wall else "")
        + f"Code: {data['code']}.\n")
    out.append(
        "*sync stop*: the first t at which the criterion, evaluated after every completed trial "
        "on the run's own trials in completion order, fires. *fired at*: the firing decision's "
        "trial count. *at stop_all*: trials completed when `stop_all()` first returned True. "
        "*at end*: trials completed when `fit()` returned. *lag (trials)*: fired at − sync "
        "(end: at end − sync). *decided (s)*: from the completion of the sync-th trial to the "
        "firing decision. *lag (s)*: from the completion of the sync-th trial to `stop_all()` "
        "turning True; *no stop*: Tune ended by running out of samples, the lag is at least "
        "the time to the end of `fit()`. *decisions*: decisions made by the time `fit()` "
        "returned. *replay stops at later decisions*: of the real run's decisions after the "
        "sync stop that did not fire (and the firing one), at how many trial counts the replay "
        "fires (a real decision that did not fire where the replay does is the criterion's "
        "own variation, e.g. a GP refitted at other points, not a delay). Seconds are "
        "inflated by the other jobs on this machine (load avg column: the 1-minute load "
        "average, on 2 cores).\n")
    head = ["duration s", "concurrency", "searcher", "sync stop", "fired at", "at stop_all",
            "at end", "lag (trials)", "decided (s)", "lag (s)", "replay stops at later "
            "decisions", "decisions", "run s", "load avg"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for r in runs:
        out.append("| " + " | ".join(cell(r)) + " |")
    lags = [r["lag_trials"] for r in runs if r.get("lag_trials") is not None]
    missed = [r for r in runs if r.get("sync_stop") is not None and r.get("fired_at") is None]
    if lags:
        out.append(f"\nLag in trials over the {len(lags)} runs that fired: max {max(lags)}, "
                   f"mean {sum(lags) / len(lags):.1f}; runs whose synchronous rule fired but "
                   f"the real run did not: {len(missed)}.")
    if getattr(args, "skipped", None):
        out.append(f"\nNot run: {', '.join(args.skipped)} (see the script's docstring).")
    return "\n".join(out) + "\n"


def compare(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """Side by side: sync stop -> fired at (lag in trials; lag in s) of two sets of runs."""
    def key(r: dict[str, Any]) -> tuple[float, int, str]:
        return (r["duration"], r["concurrency"], r["searcher"])

    def short(r: dict[str, Any] | None) -> str:
        if r is None:
            return "not run"
        if "failed" in r:
            return "failed"
        sync, fired = r["sync_stop"], r["fired_at"]
        stop = "no stop" if r.get("completed_at_stop_all") is None else ""
        if sync is None:
            return f"sync never fired; fired at {fired}"
        lag_s = (f"{r['lag_s']:.1f} s" if "lag_s" in r
                 else f">= {r['lag_s_at_least']:.1f} s" if "lag_s_at_least" in r else "—")
        lag_t = "—" if r.get("lag_trials") is None else f"{r['lag_trials']:+d}"
        return (f"{sync} → {fired if fired is not None else 'never'}"
                f"{' (' + stop + ')' if stop else ''}: **{lag_t}**, {lag_s}")

    b = {key(r): r for r in before}
    a = {key(r): r for r in after}
    rows = ["| duration s | concurrency | searcher | before: sync → fired: lag, lag s | "
            "decisions | after: sync → fired: lag, lag s | decisions |",
            "|---|---|---|---|---|---|---|"]
    for k in sorted(set(a) | set(b), key=lambda k: (k[0], k[1], SEARCHERS.index(k[2]))):
        rb, ra = b.get(k), a.get(k)
        rows.append(f"| {k[0]:g} | {k[1]} | {LABELS[k[2]]} | {short(rb)} | "
                    f"{rb.get('num_decisions', '—') if rb else '—'} | {short(ra)} | "
                    f"{ra.get('num_decisions', '—') if ra else '—'} |")
    return "\n".join(rows) + "\n"


def run_child(spec: dict[str, Any], address: str) -> dict[str, Any]:
    """Run one experiment in a fresh driver process joined to the cluster, as a user's script
    would (cold imports and a cold first GP fit included)."""
    out = Path(spec["storage"]) / f"{spec['name']}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec),
           "--address", address, "--child-out", str(out)]
    try:
        proc = subprocess.run(cmd, timeout=spec["run_cap"] + 180)
        failed = f"exit status {proc.returncode}" if proc.returncode else None
    except subprocess.TimeoutExpired:
        failed = "timed out"
    if failed is None and out.exists():
        return json.loads(out.read_text())
    return {**{k: spec[k] for k in ("duration", "concurrency", "searcher", "samples")},
            "failed": failed or "no result written"}


def child_main(args: argparse.Namespace) -> int:
    ray.init(address=args.address, log_to_driver=False)
    try:
        result = run_once(json.loads(args.child))
    finally:
        ray.shutdown()
    Path(args.child_out).write_text(json.dumps(result, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--address", default=None, help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true",
                   help="durations 0.05, 0.5 x concurrency 1, 32, 60 samples")
    p.add_argument("--durations", default=None, help="comma list of seconds (0.05,0.5,5)")
    p.add_argument("--concurrency", default=None, help="comma list (1,4,32)")
    p.add_argument("--searchers", default=",".join(SEARCHERS), help="default,optuna,linked")
    p.add_argument("--all", action="store_true", help="include the (5 s, concurrency 1) cell")
    p.add_argument("--samples", type=int, default=None, help="num_samples per run (80)")
    p.add_argument("--run-cap", type=float, default=300.0,
                   help="TuneConfig(time_budget_s) of each run, a guard against a run that "
                        "never stops")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--cpus-per-node", type=int, default=12)
    p.add_argument("--code", default=None,
                   help="describe the code in the report (default: this checkout's commit); "
                        "for a snapshot made with `git archive`, e.g. 'commit 44bd03a'")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "lag.md"))
    p.add_argument("--render", default=None, metavar="JSON",
                   help="only redo the report from a saved lag.json (to --out)")
    p.add_argument("--compare", nargs=2, default=None, metavar=("BEFORE", "AFTER"),
                   help="print two saved sets of runs side by side (comma lists of JSON files)")
    args = p.parse_args(argv)
    if args.child:
        return child_main(args)
    if args.compare:
        sets = [[r for f in arg.split(",") for r in json.loads(Path(f).read_text())["runs"]]
                for arg in args.compare]
        print(compare(*sets))
        return 0
    if args.render:
        _bench.write_report(render(json.loads(Path(args.render).read_text())), args.out)
        return 0
    explicit = args.durations is not None or args.concurrency is not None
    durations = [float(v) for v in (args.durations or ("0.05,0.5" if args.quick
                                                       else "0.05,0.5,5")).split(",")]
    concs = [int(v) for v in (args.concurrency or ("1,32" if args.quick else "1,4,32")).split(",")]
    searchers = [s.strip() for s in args.searchers.split(",") if s.strip()]
    for s in searchers:
        if s not in SEARCHERS:
            p.error(f"--searchers: {s!r} is not one of {', '.join(SEARCHERS)}")
    args.samples = args.samples or (60 if args.quick else 80)
    cells = [(d, c) for d in durations for c in concs]
    args.skipped = []
    if not (explicit or args.all) and (5.0, 1) in cells:
        cells.remove((5.0, 1))
        args.skipped.append("duration 5 s at concurrency 1")
    # The code as it was when the run started.
    args.code = args.code or _bench.describe(_bench.provenance())
    command = "python benchmarks/lag.py" + (" " + shlex.join(sys.argv[1:]) if argv is None
                                            and sys.argv[1:] else "")

    t0 = time.perf_counter()
    cluster = _bench.start_cluster(args.nodes, args.cpus_per_node)
    cluster_desc = (f"`ray.cluster_utils.Cluster` with {args.nodes} nodes x "
                    f"{args.cpus_per_node} logical CPUs")
    storage = tempfile.mkdtemp(prefix="autoterm_lag_")
    runs: list[dict[str, Any]] = []
    data = {"code": args.code, "command": command, "args": vars(args), "runs": runs,
            "cluster": cluster_desc, "ray": ray.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    raw_path = Path(args.out).with_suffix(".json")
    try:
        for d, c in cells:
            for s in searchers:
                spec = {"duration": d, "concurrency": c, "searcher": s, "samples": args.samples,
                        "seed": args.seed, "run_cap": args.run_cap, "storage": storage,
                        "name": f"d{d:g}-c{c}-{s}"}
                r = run_child(spec, cluster.address)
                runs.append(r)
                print(" | ".join(cell(r)), flush=True)
                data["total_wall_s"] = time.perf_counter() - t0
                raw_path.parent.mkdir(parents=True, exist_ok=True)
                raw_path.write_text(json.dumps(data, indent=1, default=str))
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(storage, ignore_errors=True)
    _bench.write_report(render(data), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
