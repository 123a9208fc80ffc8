#!/usr/bin/env python
"""Epochs (multi-fidelity): the stopper beside ASHA, replayed on recorded learning curves.

Issue 15, item 3. A trial that reports every epoch and that ASHA may cut after epoch ``r < T``:
which value should such a trial bring to the stopping criterion? Five designs are compared:

* ``last``: the trial counts with its validation loss at epoch ``r``, as it is;
* ``shift``: its loss at ``r`` shifted by the improvement of the reference trial (the incumbent
  among the trials that reached ``T``) from ``r`` to ``T``
  (:func:`ray_autoterm.criterion.fidelity.curve_shift`, :func:`~ray_autoterm.criterion.
  fidelity.reference_curve`);
* ``out``: only the trials that reached ``T`` count;
* ``rung``: every trial at the highest epoch ``r*`` that at least ``min_trials`` trials reached
  (the GP on a comparable fidelity below ``T``; trials cut before ``r*`` shifted to it as in
  ``shift``, the reference being the incumbent at ``r*``); the error is then the SE at ``r*``;
* ``rung-out``: only the trials that reached ``r*``, at ``r*`` (none imputed).

**record** (``python benchmarks/epochs.py record``): per task and seed, one sample from a
scikit-learn generator split into 2,000 training rows, ONE validation split of 1,000 rows and a
test set of 50,000 rows (same distribution); a random search of ``--configs`` scikit-learn MLPs
(one hidden layer; width, ``alpha``, ``learning_rate_init``, ``batch_size``, log-uniform; inputs
standardised, and the target for regression), each trained with ``partial_fit`` for ``T = 16``
epochs. Per epoch: the validation loss (MSE, or log loss) with the mean and standard error of
the per-example validation losses (``sd/sqrt(n)``: the holdout's error) and the CPU seconds of
the epoch's training and of its validation scoring; the test loss on the 50,000 rows at epochs
4, 8 and 16 (``test_at``; evaluation only, not counted: every arm's answer is a trial trained
to the end). One JSON file per run under
``benchmarks/results/epochs/``; existing files are kept unless ``--force``.

**replay** (``python benchmarks/epochs.py replay``): per run, the configs in their recorded
order, one at a time (concurrency 1), arms:

* ``FIFO``: every config to ``T`` (the baseline, the full budget);
* ``FIFO + stop``: the same, :class:`ray_autoterm.criterion.terminator.AutoTermCriterion`
  evaluated after each trial (from ``--min-trials`` trials on) on the epoch-``T`` losses;
* ``ASHA``: the real ``ray.tune.schedulers.ASHAScheduler`` (``time_attr="epoch"``,
  ``max_t=T``, ``grace_period=1``, ``reduction_factor=--rf``) fed each config's recorded curve
  epoch by epoch (a small stand-in for Tune's ``Trial``, as ``benchmarks/pruning.py``); a
  ``STOP`` before ``T`` cuts the trial there; all configs are run (the fixed budget);
* ``ASHA + stop (<design>)``: the same with the criterion evaluated after each
  trial ended (cut or not), its records built by the design.

The criterion has one value per trial (the validation loss), so its error is not Eq. 9's: the
benchmark passes a custom :class:`~ray_autoterm.criterion.error_evaluators.BaseErrorEvaluator`
(:class:`HoldoutErrorEvaluator`) returning the recorded standard error of the criterion's
incumbent at the epoch its value comes from (the holdout's error ``sd/sqrt(n_val)``). The rest
is the paper's rule (``AutoTermCriterion(seed=run seed)``: GP on the best half, β/5, δ 0.1), one
criterion object per arm and run (warm-started fits, as in the stopper).

Reported per arm: epochs trained (compute), CPU seconds (training + validation of the epochs
run), configs started, and the test loss of the final incumbent: the trial with the lowest
validation loss at ``T`` among the trials the arm trained to ``T`` (for every arm; a cut trial is
never the answer). RYC ``= (y_T − y_es)/max(y_T, y_es)`` against ``FIFO`` of the same run (0 is
the baseline's answer, negative is worse); means with percentile-bootstrap 95% intervals over
runs (2,000 resamples, seed 0) and the worst run.

    nice -n 10 python benchmarks/epochs.py record --jobs 2
    nice -n 10 python benchmarks/epochs.py replay --jobs 2
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
import _bench  # noqa: E402  (environment, repository on sys.path)
from _bench import describe, provenance  # noqa: E402

_bench.single_threaded()

import numpy as np  # noqa: E402

from ray_autoterm.criterion.error_evaluators import (  # noqa: E402
    BaseErrorEvaluator,
    losses_for_minimisation,
)
from ray_autoterm.history import TrialRecord  # noqa: E402
from ray_autoterm.space import NumericParam, SearchSpace  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "epochs"
REPORT = Path(__file__).resolve().parent / "results" / "epochs.md"
EPOCHS = 16
N_TRAIN, N_VAL, N_TEST = 2000, 1000, 50_000
CONFIGS = 100
SEEDS = (0, 1, 2)
EPS = 1e-15
# The epochs whose test loss is recorded (scoring 50,000 rows costs more than an epoch): every
# arm's answer is a trial trained to ``EPOCHS``; 4 and 8 are kept for context.
TEST_AT = (4, 8, EPOCHS)

PARAMS: list[NumericParam] = [
    NumericParam(("hidden",), 8, 128, log=True, integer=True),
    NumericParam(("alpha",), 1e-6, 1.0, log=True),
    NumericParam(("learning_rate_init",), 1e-4, 0.03, log=True),
    NumericParam(("batch_size",), 16, 256, log=True, integer=True),
]

# name: (kind, generator, keywords, note)
TASKS: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "friedman1": ("regression", "make_friedman1", {"n_features": 10, "noise": 1.0},
                  "make_friedman1, 10 features (5 informative), noise 1.0; MSE"),
    "binary": ("classification", "make_classification",
               {"n_features": 20, "n_informative": 5, "n_redundant": 5, "flip_y": 0.1},
               "make_classification, 2 classes, 20 features (5 informative, 5 redundant), "
               "flip_y 0.1; log loss"),
}


def space() -> SearchSpace:
    """The MLP search space (the criterion's GP works in its unit cube)."""
    return SearchSpace(PARAMS)


# --------------------------------------------------------------------------- record
def load(task: str, seed: int) -> dict[str, Any]:
    """One sample of ``N_TRAIN + N_VAL + N_TEST`` rows, split in that order, inputs scaled."""
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    kind, fn, kw, _ = TASKS[task]
    X, y = getattr(datasets, fn)(n_samples=N_TRAIN + N_VAL + N_TEST, random_state=seed, **kw)
    scaler = StandardScaler().fit(X[:N_TRAIN])
    X = scaler.transform(X)
    a, b = N_TRAIN, N_TRAIN + N_VAL
    data = {"kind": kind, "X": X[:a], "y": y[:a], "Xv": X[a:b], "yv": y[a:b],
            "Xt": X[b:], "yt": y[b:]}
    if kind == "regression":
        data["y_mean"], data["y_sd"] = float(y[:a].mean()), float(y[:a].std())
    return data


def example_losses(model: Any, data: dict[str, Any], X: np.ndarray,
                   y: np.ndarray) -> np.ndarray:
    """Per-example losses: squared error (original units), or ``−log p(y)``."""
    if data["kind"] == "regression":
        pred = model.predict(X) * data["y_sd"] + data["y_mean"]
        return np.asarray((pred - y) ** 2, dtype=float)
    proba = model.predict_proba(X)
    p = np.clip(proba[np.arange(len(y)), y.astype(int)], EPS, 1.0)
    return np.asarray(-np.log(p), dtype=float)


def curve(config: dict[str, Any], data: dict[str, Any], seed: int) -> dict[str, Any]:
    """Train one config epoch by epoch (``partial_fit``); its per-epoch losses and seconds."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    kw = {"hidden_layer_sizes": (int(config["hidden"]),), "alpha": float(config["alpha"]),
          "learning_rate_init": float(config["learning_rate_init"]),
          "batch_size": int(config["batch_size"]), "random_state": seed}
    regression = data["kind"] == "regression"
    model = MLPRegressor(**kw) if regression else MLPClassifier(**kw)
    y = (data["y"] - data["y_mean"]) / data["y_sd"] if regression else data["y"]
    out: dict[str, list[float]] = {k: [] for k in ("val", "val_se", "test", "fit_s", "val_s")}
    for epoch in range(EPOCHS):
        c0 = time.process_time()
        if regression:
            model.partial_fit(data["X"], y)
        else:
            model.partial_fit(data["X"], y, classes=np.array([0, 1]))
        c1 = time.process_time()
        lv = example_losses(model, data, data["Xv"], data["yv"])
        c2 = time.process_time()
        ok = np.all(np.isfinite(lv))
        out["val"].append(float(lv.mean()) if ok else math.inf)
        out["val_se"].append(float(lv.std(ddof=1) / math.sqrt(len(lv))) if ok else math.inf)
        if epoch + 1 in TEST_AT:
            lt = example_losses(model, data, data["Xt"], data["yt"])
            out["test"].append(float(lt.mean()) if np.all(np.isfinite(lt)) else math.inf)
        out["fit_s"].append(c1 - c0)
        out["val_s"].append(c2 - c1)
    return {k: [_round(v) for v in vals] for k, vals in out.items()}


def _round(v: float) -> float:
    return float(f"{v:.7g}") if math.isfinite(v) else v


def record_run(task: str, seed: int, configs: int, out_dir: Path) -> dict[str, Any]:
    """A random search of ``configs`` MLPs on one task and seed; written to ``out_dir``."""
    warnings.filterwarnings("ignore")
    data = load(task, seed)
    sp = space()
    rng = np.random.default_rng(10_000 + seed)
    trials = []
    start = time.process_time()
    for i in range(configs):
        config = sp.decode(rng.random(sp.dim))
        trials.append({"config": config, **curve(config, data, seed * 1000 + i)})
    run = {"name": f"{task}-s{seed}", "task": task, "note": TASKS[task][3], "seed": seed,
           "epochs": EPOCHS, "test_at": list(TEST_AT), "n_train": N_TRAIN, "n_val": N_VAL,
           "n_test": N_TEST,
           "space": [{"name": p.path[0], "low": p.low, "high": p.high, "log": p.log,
                      "integer": p.integer} for p in PARAMS],
           "record_cpu_s": time.process_time() - start, "provenance": provenance(),
           "trials": trials}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"run-{task}-s{seed}.json").write_text(json.dumps(run))
    return run


def _record_job(args: tuple[str, int, int, str]) -> tuple[str, float, dict[str, Any], str | None]:
    task, seed, configs, out_dir = args
    start = time.time()
    try:
        run = record_run(task, seed, configs, Path(out_dir))
    except Exception as exc:  # noqa: BLE001  (reported, the other runs go on)
        return f"{task}-s{seed}", time.time() - start, {}, repr(exc)
    best = min(t["val"][-1] for t in run["trials"])
    return run["name"], time.time() - start, {"cpu": run["record_cpu_s"], "best": best}, None


def record(args: argparse.Namespace) -> None:
    out = Path(args.out_dir)
    jobs = [(t, s, args.configs, str(out)) for s in args.seeds for t in args.tasks
            if args.force or not (out / f"run-{t}-s{s}.json").exists()]
    print(f"{len(jobs)} runs to record", flush=True)
    _bench.run_jobs(_record_job, jobs, args.jobs,
                    lambda r: f"{r['cpu']:.0f} CPU s, best val loss {r['best']:.4f}")


# --------------------------------------------------------------------------- replay
DESIGNS = ("last", "shift", "out", "rung", "rung-out")
BIG = 1e10  # a diverged epoch's loss, for ASHA (the criterion skips non-finite values)


class HoldoutErrorEvaluator(BaseErrorEvaluator):
    """``ε`` = the recorded standard error of the incumbent's holdout loss, ``sd/sqrt(n_val)``.

    The records carry one value each (the validation loss), so Eq. 9's fold spread does not
    exist; the replay sets :attr:`se` (trial id → standard error of the per-example validation
    losses at the epoch the record's value comes from) before each evaluation.

    Example:
        >>> ev = HoldoutErrorEvaluator()
        >>> ev.se = {"a": 0.02, "b": 0.03}
        >>> ev.evaluate([TrialRecord("a", {}, [0.5]), TrialRecord("b", {}, [0.4])], "min")
        0.03
    """

    source = "holdout"
    description = "incumbent's holdout standard error"
    min_folds = 1

    def __init__(self) -> None:
        self.se: dict[str, float] = {}

    def evaluate(self, records: Sequence[TrialRecord], mode: str) -> float:
        inc = records[int(np.argmin(losses_for_minimisation(records, mode)))]
        return self.se[inc.trial_id]


class _TrialStandIn:
    """What Ray's ASHA uses of a Trial in this replay: a hashable key with ``trial_id``."""

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id

    def __repr__(self) -> str:
        return self.trial_id


def arms(rfs: Sequence[int]) -> list[str]:
    """The arm names, in table order."""
    out = ["FIFO", "FIFO + stop"]
    for rf in rfs:
        out += [f"ASHA rf {rf}"] + [f"ASHA rf {rf} + stop ({d})" for d in DESIGNS]
    return out


def _arm(name: str) -> tuple[int | None, str | None, bool]:
    """``(rf or None, design or None, stop)`` of an arm name."""
    rf = int(name.split()[2]) if name.startswith("ASHA") else None
    design = name[name.index("(") + 1:-1] if "(" in name else None
    return rf, design, name.endswith("stop") or design is not None


def criterion_records(trials: list[dict[str, Any]], reached: list[int], design: str | None,
                      full: int, min_trials: int = 20
                      ) -> tuple[list[TrialRecord], dict[str, float]]:
    """The criterion's records (one value each) and their standard errors, by ``design``.

    ``reached[j]`` is the last epoch trial ``j`` ran; ``design`` ``None`` (FIFO) or ``"last"``
    take each trial's loss at its last epoch, ``"out"`` only the trials that reached ``full``,
    ``"shift"`` the cut trials' losses shifted by the reference's (the incumbent among the
    trials that reached ``full``) improvement from their epoch to ``full``; a cut trial with no
    reference yet is left out. ``"rung"`` takes every trial at the highest epoch ``r*`` that at
    least ``min_trials`` trials reached (those cut before ``r*`` shifted to it, as ``"shift"``
    with ``r*`` as the full fidelity); ``"rung-out"`` only the trials that reached ``r*``, at
    ``r*``.
    """
    from ray_autoterm.criterion.fidelity import curve_shift, reference_curve

    if design in ("rung", "rung-out"):
        # The highest epoch that at least ``min_trials`` trials reached: the trials at it.
        full = max(e for e in range(1, full + 1)
                   if e == 1 or sum(r >= e for r in reached) >= min_trials)
        design = "shift" if design == "rung" else "out"
    curves = {f"t{j:03d}": {e: [trials[j]["val"][e - 1]] for e in range(1, full + 1)}
              for j, r in enumerate(reached) if r >= full}
    recs, se = [], {}
    for j, r in enumerate(reached):
        tid = f"t{j:03d}"
        r = min(r, full)
        value = trials[j]["val"][r - 1]
        if r < full and design == "out":
            continue
        if r < full and design == "shift":
            ref = reference_curve(curves, full=full, at=r)
            if ref is None:
                continue
            value = curve_shift([value], ref[1], ref[2])[0]
        recs.append(TrialRecord(tid, trials[j]["config"], [value], order=j))
        se[tid] = trials[j]["val_se"][r - 1]
    return recs, se


def replay(run: dict[str, Any], arm: str, min_trials: int) -> dict[str, Any]:
    """One arm on one run: epochs and CPU seconds spent, configs started, the answer."""
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    from ray_autoterm.criterion.terminator import AutoTermCriterion

    rf, design, stop = _arm(arm)
    trials, full = run["trials"], int(run["epochs"])
    sched = (ASHAScheduler(time_attr="epoch", metric="val_loss", mode="min", max_t=full,
                           grace_period=1, reduction_factor=rf) if rf else None)
    err = HoldoutErrorEvaluator()
    crit = (AutoTermCriterion(seed=int(run["seed"]), min_trials=min_trials,
                              error_evaluator=err) if stop else None)
    sp = space()
    reached: list[int] = []
    epochs, cpu, es, decisions, decide_s = 0, 0.0, len(trials), 0, 0.0
    last: dict[str, Any] = {}
    for j, tr in enumerate(trials):
        r = full
        if sched is not None:
            trial = _TrialStandIn(f"t{j:03d}")
            sched.on_trial_add(None, trial)
            for e in range(1, full + 1):
                v = tr["val"][e - 1]
                res = {"epoch": e, "val_loss": v if math.isfinite(v) else BIG}
                if sched.on_trial_result(None, trial, res) == TrialScheduler.STOP:
                    r = e
                    break
            sched.on_trial_complete(None, trial, res)  # as Tune does after a STOP
        reached.append(r)
        epochs += r
        cpu += sum(tr["fit_s"][:r]) + sum(tr["val_s"][:r])
        if crit is None:
            continue
        recs, err.se = criterion_records(trials, reached, design, full, min_trials)
        recs = [rec for rec in recs if crit.usable(rec)]
        if len(recs) < min_trials:
            continue
        c0 = time.process_time()
        d = crit.evaluate(recs, sp)
        decide_s += time.process_time() - c0
        decisions += 1
        last = {"bound": d.regret_bound, "error": d.statistical_error, "t": d.num_trials}
        if d.should_stop:
            es = j + 1
            break
    done = [j for j, r in enumerate(reached) if r == full and math.isfinite(trials[j]["val"][-1])]
    inc = min(done, key=lambda j: (trials[j]["val"][-1], j))
    return {"epochs": epochs, "cpu_s": cpu, "es": es, "fired": es < len(trials),
            "cut": sum(r < full for r in reached), "full": len(done), "incumbent": inc,
            "test_loss": trials[inc]["test"][-1], "val_loss": trials[inc]["val"][-1],
            "decisions": decisions, "decide_cpu_s": decide_s, "last_decision": last}


def ryc(y_full: float, y_es: float) -> float:
    """``(y_T − y_es)/max(y_T, y_es)``: 0 is the baseline's answer, negative is worse."""
    denom = max(y_full, y_es)
    return 0.0 if denom == 0 else (y_full - y_es) / denom


def replay_run(path: str, rfs: Sequence[int], min_trials: int) -> dict[str, Any]:
    """Every arm on one recorded run."""
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    run = json.loads(Path(path).read_text())
    out: dict[str, Any] = {"name": run["name"], "task": run["task"], "seed": run["seed"],
                           "configs": len(run["trials"]), "epochs": run["epochs"], "arms": {}}
    for arm in arms(rfs):
        out["arms"][arm] = replay(run, arm, min_trials)
    base = out["arms"]["FIFO"]["test_loss"]
    for res in out["arms"].values():
        res["ryc"] = ryc(base, res["test_loss"])
    return out


def _replay_job(args: tuple[str, tuple[int, ...], int]) -> tuple[str, float, dict[str, Any],
                                                                  str | None]:
    path, rfs, min_trials = args
    start = time.time()
    try:
        res = replay_run(path, rfs, min_trials)
    except Exception as exc:  # noqa: BLE001  (reported, the other runs go on)
        return Path(path).stem, time.time() - start, {}, repr(exc)
    return res["name"], time.time() - start, res, None


def bootstrap(values: Sequence[float], reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap 95% interval of the mean over runs."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(reps, len(x)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _ci(values: Sequence[float], fmt: str) -> str:
    lo, hi = bootstrap(values)
    return f"{format(float(np.mean(values)), fmt)} [{format(lo, fmt)}, {format(hi, fmt)}]"


def _ratio(arm_runs: Sequence[dict[str, Any]]) -> str:
    """Median over runs of the regret bound over ε at each run's last decision (``-`` if none)."""
    ratios = [x["last_decision"]["bound"] / x["last_decision"]["error"] for x in arm_runs
              if x["last_decision"].get("bound") is not None and x["last_decision"]["error"]]
    return f"{np.median(ratios):.2f} ({len(ratios)} runs)" if ratios else "-"


def render(results: list[dict[str, Any]], info: dict[str, Any], command: str, rfs: Sequence[int],
           min_trials: int, elapsed: float) -> str:
    """The markdown report: the arms' table, the savings of the stopper, per-task means."""
    n = len(results)
    budget = results[0]["configs"] * results[0]["epochs"]
    tasks = sorted({r["task"] for r in results})
    lines = [
        "# Epochs (multi-fidelity): the stopper beside ASHA, on recorded learning curves", "",
        f"Made by `{command}` ({describe(info)}), {n} runs ({', '.join(tasks)}; seeds "
        f"{', '.join(str(s) for s in sorted({r['seed'] for r in results}))}), "
        f"{results[0]['configs']} random-search MLP configs of {results[0]['epochs']} epochs "
        f"each (full budget {budget} epochs), criterion from {min_trials} trials, "
        f"replay {elapsed / 60:.1f} min.", "",
        "Answer of every arm: the trial with the lowest validation loss at the last epoch among "
        "the trials it trained to the end; its loss on 50,000 test rows. RYC against FIFO (full "
        "budget) of the same run, 0 is the same answer, negative is worse. Means over runs with "
        "95% bootstrap intervals; *lost > 0.5%*: share of runs with RYC < −0.005.", "",
        "| arm | fired | epochs trained (% of FIFO) | CPU s | configs started | mean RYC "
        "| lost > 0.5% | worst RYC | bound/ε, last decision (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    names = list(results[0]["arms"])
    for arm in names:
        a = [r["arms"][arm] for r in results]
        share = [x["epochs"] / budget for x in a]
        rycs = [x["ryc"] for x in a]
        worst = int(np.argmin(rycs))
        fired = sum(x["fired"] for x in a) if _arm(arm)[2] else "-"
        lines.append(
            f"| {arm} | {fired}{'/' + str(n) if fired != '-' else ''} | {_ci(share, '.1%')} "
            f"| {np.mean([x['cpu_s'] for x in a]):.1f} | {np.mean([x['es'] for x in a]):.1f} "
            f"| {_ci(rycs, '+.4f')} | {np.mean([v < -0.005 for v in rycs]):.0%} "
            f"| {rycs[worst]:+.4f} ({results[worst]['name']}) | {_ratio(a)} |")
    lines += ["", "Compute of the stopper under ASHA, paired per run: the share of epochs "
              "ASHA + stop saves against ASHA alone (fixed budget) and against FIFO + stop "
              "(mean over runs [95% interval]; ratio of totals), and the paired RYC difference.",
              "",
              "| arm | epochs saved vs ASHA | vs FIFO + stop | total FIFO + stop / arm "
              "| ΔRYC vs ASHA | ΔRYC vs FIFO + stop |", "|---|---|---|---|---|---|"]
    for rf in rfs:
        for d in DESIGNS:
            arm = f"ASHA rf {rf} + stop ({d})"
            a = [r["arms"][arm] for r in results]
            asha = [r["arms"][f"ASHA rf {rf}"] for r in results]
            fs = [r["arms"]["FIFO + stop"] for r in results]
            s_asha = [1 - x["epochs"] / y["epochs"] for x, y in zip(a, asha, strict=True)]
            s_fs = [1 - x["epochs"] / y["epochs"] for x, y in zip(a, fs, strict=True)]
            total = sum(y["epochs"] for y in fs) / sum(x["epochs"] for x in a)
            d_asha = [x["ryc"] - y["ryc"] for x, y in zip(a, asha, strict=True)]
            d_fs = [x["ryc"] - y["ryc"] for x, y in zip(a, fs, strict=True)]
            lines.append(f"| {arm} | {_ci(s_asha, '.1%')} | {_ci(s_fs, '.1%')} | {total:.2f}x "
                         f"| {_ci(d_asha, '+.4f')} | {_ci(d_fs, '+.4f')} |")
    lines += ["", "Per task (mean epochs as % of FIFO / mean RYC / worst RYC):", "",
              "| arm | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    for arm in names:
        cells = []
        for task in tasks:
            a = [r["arms"][arm] for r in results if r["task"] == task]
            cells.append(f"{np.mean([x['epochs'] for x in a]) / budget:.1%} / "
                         f"{np.mean([x['ryc'] for x in a]):+.4f} / "
                         f"{min(x['ryc'] for x in a):+.4f}")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += ["", "Per run (configs started / epochs trained / RYC):", "",
              "| run | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for r in results:
        lines.append(f"| {r['name']} | " + " | ".join(
            f"{r['arms'][a]['es']} / {r['arms'][a]['epochs']} / {r['arms'][a]['ryc']:+.3f}"
            for a in names) + " |")
    lines.append("")
    return "\n".join(lines)


def merge(args: argparse.Namespace) -> None:
    """Render one report from the raw results of several replays (same arms and settings)."""
    raws = [json.loads(Path(p).read_text()) for p in args.merge]
    results = sorted((r for raw in raws for r in raw["runs"]), key=lambda r: (r["task"], r["seed"]))
    command = " and ".join(f"`{raw['command']}`" for raw in raws).strip("`")
    info = raws[0]["provenance"]
    elapsed = sum(raw["elapsed_s"] for raw in raws)
    raw_out = Path(args.out).with_suffix(".json")
    raw_out.write_text(json.dumps({"command": command, "provenance": info, "elapsed_s": elapsed,
                                   "rf": raws[0]["rf"], "min_trials": raws[0]["min_trials"],
                                   "runs": results}, indent=0))
    _bench.write_report(render(results, info, command, raws[0]["rf"], raws[0]["min_trials"],
                               elapsed), args.out)


def replay_all(args: argparse.Namespace) -> None:
    if args.merge:
        merge(args)
        return
    paths = sorted(glob.glob(args.runs))
    if not paths:
        raise SystemExit(f"--runs {args.runs!r} matches no file")
    info = provenance()
    start = time.time()
    jobs = [(p, tuple(args.rf), args.min_trials) for p in paths]
    results: list[dict[str, Any]] = []

    def line(res: dict[str, Any]) -> str:
        results.append(res)
        return ", ".join(f"{k}: {v['es']}/{v['ryc']:+.3f}" for k, v in res["arms"].items()
                         if _arm(k)[2])

    failed = _bench.run_jobs(_replay_job, jobs, args.jobs, line)
    if failed:
        raise SystemExit(f"{failed} runs failed")
    results.sort(key=lambda r: (r["task"], r["seed"]))
    elapsed = time.time() - start
    raw = Path(args.out).with_suffix(".json")
    raw.write_text(json.dumps({"command": args.command, "provenance": info, "elapsed_s": elapsed,
                               "rf": args.rf, "min_trials": args.min_trials,
                               "runs": results}, indent=0))
    _bench.write_report(render(results, info, args.command, args.rf, args.min_trials, elapsed),
                        args.out)


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command_name", required=True)
    rec = sub.add_parser("record", help="record learning curves")
    rec.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    rec.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    rec.add_argument("--configs", type=int, default=CONFIGS)
    rec.add_argument("--jobs", type=int, default=1)
    rec.add_argument("--force", action="store_true", help="record runs whose file exists")
    rec.add_argument("--out-dir", default=str(RESULTS))
    rep = sub.add_parser("replay", help="replay the arms on the recorded runs")
    rep.add_argument("--runs", default=str(RESULTS / "run-*.json"))
    rep.add_argument("--rf", nargs="+", type=int, default=[3], help="ASHA reduction factors")
    rep.add_argument("--min-trials", type=int, default=20)
    rep.add_argument("--jobs", type=int, default=1)
    rep.add_argument("--out", default=str(REPORT))
    rep.add_argument("--merge", nargs="+", metavar="RAW_JSON",
                     help="only render one report from these replays' raw results")
    args = parser.parse_args(argv)
    args.command = "python benchmarks/epochs.py " + " ".join(argv if argv is not None
                                                             else sys.argv[1:])
    if args.command_name == "record":
        record(args)
    else:
        replay_all(args)


if __name__ == "__main__":
    main()
