#!/usr/bin/env python
"""Fold-level replay of recorded HPO runs: how much fold pruning saves, and what it costs.

Input: the full-budget runs of ``benchmarks/quality.py`` (``benchmarks/results/runs-*.json``, or
the runs given with ``--runs``): every trial's config, fold losses, CV time and held-out test
loss, in the order the search ran them. Each run is replayed trial by trial and fold by fold
(sequentially, as recorded): after each fold ``j < k`` of a trial a pruning rule may stop it; a
stopped trial costs its proposal time plus ``j/k`` of its CV time (the recorded per-fold
times, ``fold_time_s``, where a run has them) and ``j`` fold evaluations. The configs are the
recorded ones (a replay cannot show how a searcher would have proposed differently after a
pruned trial).

Rules:

* ``none``: every fold runs;
* ``FoldPruner c``: :class:`ray_autoterm.criterion.pruning.FoldPruner` at confidence ``c`` (the
  rule :class:`ray_autoterm.FoldPruningScheduler` applies; the scheduler's own test checks that
  both decide the same);
* ``ASHA rf r``: the real ``ray.tune.schedulers.AsyncHyperBandScheduler`` (one bracket,
  ``grace_period=1``, ``max_t=k``, reduction factor ``r``), fed one result per fold with the mean
  of the folds so far as its metric and the fold count as its time;
* ``median from fold g``: the real ``ray.tune.schedulers.MedianStoppingRule``
  (``grace_period=g``, ``min_samples_required=3``) fed each fold's loss (its running mean of them
  is the partial CV mean it compares with the median).

The schedulers get a small stand-in for Tune's ``Trial`` (they only key on it and read
``trial_id``). Each rule is replayed alone and with the stopper: ``AutoTermCriterion`` (paper
defaults, ``seed`` of the run) evaluated after each trial from trial 20 on, as in
``stopping_rules.py``; pruned trials either stay out of its history (``out``) or enter it with
the missing folds imputed from the incumbent's (``in``; they then count in ``t``).

Reported per arm (means over runs): fold evaluations and trial time (proposal + CV, wall seconds
as recorded) saved against no pruning and no stopper; final incumbent unchanged (without the
stopper: the same trial as without pruning); RYC ``(y_T − y_es)/max(y_T, y_es)`` of the test loss
of the incumbent where the arm ended against the full run's (0 is best).

    python benchmarks/pruning.py --jobs 2

``--cluster`` instead runs real Tune experiments on the local 3-node cluster of the tests
(``tests/cluster_utils.py``: 3 nodes x 2 CPUs on this machine): a random forest on scikit-learn's
breast-cancer data, 5 folds streamed as parallel Ray tasks (``stream=True``), a linked
``AutoTermSearcher``/``AutoTermStopper`` with and without ``FoldPruningScheduler`` (same seed):
wall time, folds evaluated, trials, and the incumbent's CV loss.

    python benchmarks/pruning.py --cluster --out benchmarks/results/pruning-cluster.md
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (environment, repository on sys.path)
from _bench import describe, provenance  # noqa: E402

_bench.single_threaded()

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FROM_TRIAL = 20
CONFIDENCES = (0.95,)
DEFAULT_CONFIDENCE = 0.95
MIN_TRIALS = 10
ASHA_RF = (2, 3)
MEDIAN_GRACE = (1, 2)


# --------------------------------------------------------------------------- rules
class _TrialStandIn:
    """What Ray's schedulers use of a Trial in this replay: a hashable key with ``trial_id``."""

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id

    def __repr__(self) -> str:
        return self.trial_id


class _NoLiveTrials:
    """The controller the median rule asks for live trials (none are pending in a replay)."""

    def get_live_trials(self) -> list[Any]:
        return []


class Rule:
    """A pruning rule driven one fold at a time: ``fold(...)`` says whether to stop."""

    def start(self, trial_id: str) -> None:
        pass

    def fold(self, trial_id: str, folds: list[float], history: Any) -> bool:
        return False

    def complete(self, trial_id: str, folds: list[float]) -> None:
        pass


class PrunerRule(Rule):
    def __init__(self, confidence: float, min_trials: int = MIN_TRIALS, **kwargs: Any) -> None:
        from ray_autoterm.criterion.pruning import FoldPruner

        self.pruner = FoldPruner(confidence=confidence, min_trials=min_trials, **kwargs)

    def fold(self, trial_id: str, folds: list[float], history: Any) -> bool:
        return self.pruner.should_prune(folds, history, trial_id)


class AshaRule(Rule):
    def __init__(self, k: int, rf: int) -> None:
        from ray.tune.schedulers import AsyncHyperBandScheduler

        self.sched = AsyncHyperBandScheduler(
            time_attr="fold", metric="partial_mean", mode="min", max_t=k, grace_period=1,
            reduction_factor=rf, brackets=1,
        )
        self.trials: dict[str, _TrialStandIn] = {}

    def start(self, trial_id: str) -> None:
        self.trials[trial_id] = _TrialStandIn(trial_id)
        self.sched.on_trial_add(None, self.trials[trial_id])

    def fold(self, trial_id: str, folds: list[float], history: Any) -> bool:
        from ray.tune.schedulers import TrialScheduler

        res = {"fold": len(folds), "partial_mean": float(np.mean(folds))}
        trial = self.trials[trial_id]
        stop = self.sched.on_trial_result(None, trial, res) == TrialScheduler.STOP
        if stop:
            self.sched.on_trial_remove(None, trial)
        return stop

    def complete(self, trial_id: str, folds: list[float]) -> None:
        res = {"fold": len(folds), "partial_mean": float(np.mean(folds))}
        self.sched.on_trial_complete(None, self.trials[trial_id], res)


class MedianRule(Rule):
    def __init__(self, grace: int) -> None:
        from ray.tune.schedulers import MedianStoppingRule

        self.sched = MedianStoppingRule(
            time_attr="fold", metric="fold_loss", mode="min", grace_period=grace,
            min_samples_required=3, hard_stop=True,
        )
        self.trials: dict[str, _TrialStandIn] = {}
        self.controller = _NoLiveTrials()

    def start(self, trial_id: str) -> None:
        self.trials[trial_id] = _TrialStandIn(trial_id)

    def fold(self, trial_id: str, folds: list[float], history: Any) -> bool:
        from ray.tune.schedulers import TrialScheduler

        res = {"fold": len(folds), "fold_loss": float(folds[-1])}
        decision = self.sched.on_trial_result(self.controller, self.trials[trial_id], res)
        return decision == TrialScheduler.STOP

    def complete(self, trial_id: str, folds: list[float]) -> None:
        res = {"fold": len(folds), "fold_loss": float(folds[-1])}
        self.sched.on_trial_complete(self.controller, self.trials[trial_id], res)


def rule_factories(k: int, confidences: tuple[float, ...],
                   own_se: bool = False) -> dict[str, Callable[[], Rule]]:
    rules: dict[str, Callable[[], Rule]] = {"none": Rule}
    for c in confidences:
        rules[f"FoldPruner {c}"] = lambda c=c: PrunerRule(c)
    if own_se:
        for c in confidences:
            # The rule as issue 12 measured it: the trial's own differences once 2 folds are in,
            # pooled over all completed trials before that.
            rules[f"FoldPruner {c}, own se"] = lambda c=c: PrunerRule(
                c, prior_dof=0, pool_fraction=1.0)
    for rf in ASHA_RF:
        rules[f"ASHA rf {rf}"] = lambda rf=rf: AshaRule(k, rf)
    for g in MEDIAN_GRACE:
        rules[f"median from fold {g}"] = lambda g=g: MedianRule(g)
    return rules


# --------------------------------------------------------------------------- replay
def fold_times(trial: dict[str, Any], k: int) -> list[float]:
    """Per-fold CV seconds: recorded ones if the run has them, else the CV time split evenly."""
    for key in ("fold_time_s", "fold_times_s"):
        if trial.get(key) and len(trial[key]) == k:
            return [float(v) for v in trial[key]]
    return [float(trial["time_cv_s"]) / k] * k


def replay(run: dict[str, Any], rule: Rule, stopper: str | None,
           criterion: Any = None, space: Any = None) -> dict[str, Any]:
    """Replay one run with ``rule`` and, if ``stopper`` is ``"out"``/``"in"``, the criterion.

    Returns the folds and seconds spent, where the run ended (``es`` trials started), the
    incumbent's index and test loss, and the pruned count.
    """
    from ray_autoterm.criterion.pruning import FoldPruner, impute_folds, reference_records
    from ray_autoterm.history import History

    trials = run["trials"]
    k = len(trials[0]["fold_losses"])
    history = History()
    ref = FoldPruner(min_trials=1)  # only for its incumbent
    folds_run = 0
    seconds = 0.0
    pruned = 0
    es = len(trials)
    for t, tr in enumerate(trials, 1):
        tid = f"t{t:04d}"
        rule.start(tid)
        seconds += float(tr["time_propose_s"])
        times = fold_times(tr, k)
        folds: list[float] = []
        stopped = False
        for j, loss in enumerate(tr["fold_losses"], 1):
            folds.append(float(loss))
            folds_run += 1
            seconds += times[j - 1]
            if j < k and rule.fold(tid, folds, history):
                stopped = True
                break
        if stopped:
            pruned += 1
            refs = reference_records(history)
            if stopper == "in" and refs:
                full = impute_folds(folds, ref.incumbent(refs))
                history.mark_pruned(tid, tr["config"], full, range(len(folds)), complete=True)
            else:
                history.mark_pruned(tid, tr["config"], folds, range(len(folds)), complete=False)
        else:
            rule.complete(tid, folds)
            history.add(tid, tr["config"], folds)
        if stopper and t >= FROM_TRIAL and criterion.evaluate(history, space).should_stop:
            es = t
            break
    done = [i for i in range(es) if f"t{i + 1:04d}" in history
            and not history[f"t{i + 1:04d}"].pruned]
    inc = min(done, key=lambda i: (trials[i]["cv_mean"], i))
    return {"folds": folds_run, "seconds": seconds, "es": es, "pruned": pruned,
            "incumbent": inc, "test_loss": float(trials[inc]["test_loss"])}


def ryc(y_T: float, y_es: float) -> float:
    denom = max(y_T, y_es)
    return 0.0 if denom == 0 else (y_T - y_es) / denom


def run_arms(run: dict[str, Any], confidences: tuple[float, ...],
             with_stopper: bool, own_se: bool = False) -> dict[str, Any]:
    """Every arm of one run."""
    import torch

    from ray_autoterm.criterion.terminator import AutoTermCriterion
    from stopping_rules import run_space

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    k = len(run["trials"][0]["fold_losses"])
    space = run_space(run) if with_stopper else None
    out: dict[str, Any] = {"name": run["name"], "k": k, "T": len(run["trials"]), "arms": {}}
    for name, make in rule_factories(k, confidences, own_se).items():
        modes: list[str | None] = [None]
        if with_stopper:
            modes += ["out"] if name == "none" else ["out", "in"]
        for mode in modes:
            start = time.perf_counter()
            crit = AutoTermCriterion(seed=int(run.get("seed", 0))) if mode else None
            res = replay(run, make(), mode, crit, space)
            res["replay_s"] = time.perf_counter() - start
            out["arms"][f"{name} | {mode or '-'}"] = res
    return out


def _job(args: tuple[str, tuple[float, ...], bool, bool]) -> dict[str, Any]:
    path, confidences, with_stopper, own_se = args
    start = time.time()
    res = run_arms(json.loads(Path(path).read_text()), confidences, with_stopper, own_se)
    print(f"  {res['name']}: {time.time() - start:.0f} s", flush=True)
    return res


# --------------------------------------------------------------------------- the table
def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per arm: savings against ``none | -``, incumbent kept, RYC."""
    rows = []
    arms = list(results[0]["arms"])
    for arm in arms:
        saved_f, saved_s, kept, rycs, pruned, es = [], [], [], [], [], []
        for r in results:
            base = r["arms"]["none | -"]
            a = r["arms"][arm]
            saved_f.append(1 - a["folds"] / base["folds"])
            saved_s.append(1 - a["seconds"] / base["seconds"])
            kept.append(a["incumbent"] == base["incumbent"])
            rycs.append(ryc(base["test_loss"], a["test_loss"]))
            pruned.append(a["pruned"])
            es.append(a["es"])
        rows.append({"arm": arm, "folds_saved": float(np.mean(saved_f)),
                     "time_saved": float(np.mean(saved_s)), "kept": int(sum(kept)),
                     "n": len(results), "ryc_mean": float(np.mean(rycs)),
                     "ryc_worst": float(np.min(rycs)), "pruned": float(np.mean(pruned)),
                     "es": float(np.mean(es))})
    return rows


def ratio(results: list[dict[str, Any]], arm: str, against: str, key: str) -> float:
    """Total ``key`` (folds or seconds) of ``against`` over that of ``arm``, summed over runs."""
    a = sum(r["arms"][arm][key] for r in results)
    b = sum(r["arms"][against][key] for r in results)
    return b / a if a else math.nan


def paired_table(results: list[dict[str, Any]]) -> list[str]:
    """Each scheduler with the stopper (imputed, ``in``) against the stopper alone and the
    scheduler alone, paired per run: mean differences with 95% percentile-bootstrap intervals
    (``stopping_rules.bootstrap_ci``: scipy, 2,000 resamples, fixed seed)."""
    from stopping_rules import bootstrap_ci

    def interval(values: list[float], fmt: str) -> str:
        lo, hi = bootstrap_ci(values)
        return f"{fmt.format(float(np.mean(values)))} [{fmt.format(lo)}, {fmt.format(hi)}]"

    lines = [
        "",
        "Paired per run (mean over runs, 95% bootstrap interval): compute the scheduler + stopper "
        "saves against the stopper alone (`none | out`) and against the scheduler alone "
        "(fixed budget), and the RYC difference against the stopper alone (> 0: better).",
        "",
        "| scheduler + stopper (imputed) | trial time saved vs stopper alone | vs scheduler alone "
        "| fold evaluations saved vs stopper alone | ΔRYC vs stopper alone | worst ΔRYC |",
        "|---|---|---|---|---|---|",
    ]
    for arm in results[0]["arms"]:
        rule, mode = arm.split(" | ")
        if mode != "in" or rule == "none":
            continue
        t_stop, t_sched, f_stop, d_ryc = [], [], [], []
        for r in results:
            base, a = r["arms"]["none | -"], r["arms"][arm]
            stop, sched = r["arms"]["none | out"], r["arms"][f"{rule} | -"]
            t_stop.append(1 - a["seconds"] / stop["seconds"])
            t_sched.append(1 - a["seconds"] / sched["seconds"])
            f_stop.append(1 - a["folds"] / stop["folds"])
            d_ryc.append(ryc(base["test_loss"], a["test_loss"])
                         - ryc(base["test_loss"], stop["test_loss"]))
        lines.append(
            f"| {rule} | {interval(t_stop, '{:.1%}')} | {interval(t_sched, '{:.1%}')} | "
            f"{interval(f_stop, '{:.1%}')} | {interval(d_ryc, '{:+.4f}')} | {min(d_ryc):+.4f} |"
        )
    return lines


def render(results: list[dict[str, Any]], args: argparse.Namespace, info: dict[str, Any],
           elapsed: float) -> str:
    rows = summarise(results)
    n = len(results)
    lines = [
        "# Fold pruning: fold-level replay of recorded runs",
        "",
        f"Made by `{args.command}` ({describe(info)}), {n} runs "
        f"({results[0]['T']} trials, {results[0]['k']} folds each), {elapsed / 60:.1f} min.",
        "",
        "Savings are means over runs against no pruning and no stopper; *incumbent kept*: the run "
        "ended with the same incumbent trial as that baseline; RYC of the incumbent's test loss "
        "(0 is best, negative is worse). Stopper column: `-` none, `out` pruned trials left out "
        "of the criterion, `in` pruned trials entered with imputed folds (counted in t).",
        "",
        "| rule | stopper | fold evaluations saved | trial time saved | incumbent kept "
        "| mean / worst RYC | pruned trials | trials started |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        rule, mode = row["arm"].split(" | ")
        lines.append(
            f"| {rule} | {mode} | {row['folds_saved']:.1%} | {row['time_saved']:.1%} "
            f"| {row['kept']}/{row['n']} | {row['ryc_mean']:.4f} / {row['ryc_worst']:.3f} "
            f"| {row['pruned']:.1f} | {row['es']:.1f} |"
        )
    default = f"FoldPruner {args.default}"
    if any(r["arm"] == f"{default} | out" for r in rows):
        lines += ["", "Compute of the stopper alone over compute of stopper + pruning "
                  "(totals over runs; > 1: the pair is cheaper):", ""]
        alone = next(r for r in rows if r["arm"] == "none | out")
        lines.append("| pruning | pruned trials in the criterion | fold evaluations | trial time "
                     f"| mean RYC (stopper alone: {alone['ryc_mean']:.4f}) | trials started "
                     f"(stopper alone: {alone['es']:.1f}) |")
        lines.append("|---|---|---|---|---|---|")
        for row in rows:
            rule, mode = row["arm"].split(" | ")
            if mode == "-" or rule == "none":
                continue
            lines.append(
                f"| {rule} | {mode} | {ratio(results, row['arm'], 'none | out', 'folds'):.2f}x "
                f"| {ratio(results, row['arm'], 'none | out', 'seconds'):.2f}x "
                f"| {row['ryc_mean']:.4f} | {row['es']:.1f} |"
            )
        lines += paired_table(results)
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- real cluster run
RF_SPACE_DOC = "max_features U(0.05, 1), min_samples_split 2..20, min_samples_leaf 1..20"


def _rf_trainable(config: dict[str, Any]) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from ray_autoterm import cross_validate_and_report

    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=50, n_jobs=1, random_state=0, **config)
    cross_validate_and_report(model, X, y, cv=5, scoring="neg_log_loss", seed=0, stream=True,
                              parallel=True, num_cpus_per_fold=0.5)


def cluster_run(args: argparse.Namespace) -> str:
    """Both arms on the 3-node test cluster; returns the rendered table."""
    sys.path.insert(0, str(_bench.ROOT / "tests"))
    from ray import tune

    import cluster_utils as cu
    from ray_autoterm import AutoTermSearcher, AutoTermStopper, FoldPruningScheduler

    space = {"max_features": tune.uniform(0.05, 1.0), "min_samples_split": tune.randint(2, 21),
             "min_samples_leaf": tune.randint(1, 21)}
    rows = []
    cluster = cu.start_cluster()
    try:
        for pruning in (False, True):
            searcher = AutoTermSearcher(space, seed=args.seed, num_restarts=2, raw_samples=64)
            stopper = AutoTermStopper(searcher=searcher, num_restarts=2, raw_samples=64)
            scheduler = FoldPruningScheduler(stopper=stopper) if pruning else None
            trainable = tune.with_resources(_rf_trainable, tune.PlacementGroupFactory(
                [{"CPU": 0.5}] + [{"CPU": 0.5}] * 5, strategy="SPREAD"))
            start = time.time()
            grid = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                            num_samples=args.budget, reuse_actors=True),
                run_config=tune.RunConfig(stop=stopper, verbose=0,
                                          storage_path=tempfile.mkdtemp(prefix="pruning-")),
            ).fit()
            wall = time.time() - start
            folds = sum(len(r.metrics_dataframe) for r in grid if r.metrics_dataframe is not None)
            done = [r for r in stopper.history.completed() if not r.pruned]
            best = min(done, key=lambda r: r.value)
            rows.append({"arm": "stopper + FoldPruningScheduler" if pruning else "stopper alone",
                         "trials": len(grid), "folds": folds, "wall_s": wall,
                         "pruned": scheduler.num_pruned if scheduler else 0,
                         "stopped": stopper.fired is not None, "best": best.value})
    finally:
        cu.stop_cluster(cluster)
    lines = [
        "# Fold pruning on the local 3-node cluster (real Tune runs)", "",
        f"Made by `{args.command}` ({describe(provenance())}). Random forest (50 trees) on "
        f"breast cancer, 5-fold log loss streamed as parallel Ray tasks (0.5 CPU each), space "
        f"{RF_SPACE_DOC}; AutoTermSearcher seed {args.seed}, budget {args.budget}; 3 nodes x 2 "
        "CPUs, all on one (shared) machine.", "",
        "| arm | trials | pruned | folds evaluated | wall time | stopped by the criterion "
        "| incumbent CV log loss |", "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['arm']} | {r['trials']} | {r['pruned']} | {r['folds']} "
                     f"| {r['wall_s']:.0f} s | {'yes' if r['stopped'] else 'no'} "
                     f"| {r['best']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default=str(RESULTS / "runs-*.json"),
                        help="glob of recorded runs (default: the quality benchmark's)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--confidence", type=float, nargs="+", default=list(CONFIDENCES))
    parser.add_argument("--default", type=float, default=DEFAULT_CONFIDENCE,
                        help="the confidence compared in the stopper table")
    parser.add_argument("--no-stopper", action="store_true", help="pruning-only arms")
    parser.add_argument("--own-se", action="store_true",
                        help="also the rule as issue 12 measured it (own se from 2 folds)")
    parser.add_argument("--cluster", action="store_true",
                        help="real Tune runs on the local 3-node cluster instead of the replay")
    parser.add_argument("--budget", type=int, default=60, help="trials per arm (--cluster)")
    parser.add_argument("--seed", type=int, default=0, help="searcher seed (--cluster)")
    parser.add_argument("--render", metavar="RAW_JSON",
                        help="only render the table again from a run's raw results")
    parser.add_argument("--limit", type=int, default=0, help="first N runs only (smoke test)")
    parser.add_argument("--out", default=str(RESULTS / "pruning.md"))
    args = parser.parse_args(argv)
    args.command = "python benchmarks/pruning.py " + " ".join(argv if argv is not None
                                                              else sys.argv[1:])
    if args.cluster:
        _bench.write_report(cluster_run(args), args.out)
        return
    if args.render:
        raw = json.loads(Path(args.render).read_text())
        args.command = raw["command"]
        text = render(raw["runs"], args, raw["provenance"], raw.get("elapsed_s", math.nan))
        _bench.write_report(text, args.out)
        return
    paths = sorted(glob.glob(args.runs))
    if args.limit:
        paths = paths[: args.limit]
    if not paths:
        parser.error(f"--runs {args.runs!r} matches no file")
    info = provenance()
    start = time.time()
    jobs = [(p, tuple(args.confidence), not args.no_stopper, args.own_se) for p in paths]
    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.map(_job, jobs, chunksize=1)
    else:
        results = [_job(j) for j in jobs]
    elapsed = time.time() - start
    raw = Path(args.out).with_suffix(".json")
    raw.write_text(json.dumps({"command": args.command, "provenance": info,
                               "elapsed_s": elapsed, "runs": results}))
    _bench.write_report(render(results, args, info, elapsed), args.out)


if __name__ == "__main__":
    main()
