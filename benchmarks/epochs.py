#!/usr/bin/env python
"""Epochs (multi-fidelity): the stopper beside ASHA, replayed on recorded learning curves.

Issue 15, item 3. A trial that reports every epoch and that ASHA may cut after epoch ``r < T``:
which value should such a trial bring to the stopping criterion? Three designs are compared:

* ``last``: the trial counts with its validation loss at epoch ``r``, as it is;
* ``shift``: its loss at ``r`` shifted by the improvement of the reference trial (the incumbent
  among the trials that reached ``T``) from ``r`` to ``T``
  (:func:`ray_autoterm.criterion.fidelity.curve_shift`, :func:`~ray_autoterm.criterion.
  fidelity.reference_curve`);
* ``out``: only the trials that reached ``T`` count.

**record** (``python benchmarks/epochs.py record``): per task and seed, one sample from a
scikit-learn generator split into 2,000 training rows, ONE validation split of 1,000 rows and a
test set of 50,000 rows (same distribution); a random search of ``--configs`` scikit-learn MLPs
(one hidden layer; width, ``alpha``, ``learning_rate_init``, ``batch_size``, log-uniform; inputs
standardised, and the target for regression), each trained with ``partial_fit`` for ``T = 16``
epochs. Per epoch: the validation loss (MSE, or log loss) with the mean and standard error of
the per-example validation losses (``sd/sqrt(n)``: the holdout's error), the test loss on the
50,000 rows, and the CPU seconds of the epoch's training and of its validation scoring (the
test scoring is evaluation only, not counted). One JSON file per run under
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
* ``ASHA + stop (last | shift | out)``: the same with the criterion evaluated after each trial
  ended (cut or not), its records built by the design.

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

from ray_autoterm.criterion.error_evaluators import BaseErrorEvaluator  # noqa: E402
from ray_autoterm.history import TrialRecord  # noqa: E402
from ray_autoterm.space import NumericParam, SearchSpace  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "epochs"
REPORT = Path(__file__).resolve().parent / "results" / "epochs.md"
EPOCHS = 16
N_TRAIN, N_VAL, N_TEST = 2000, 1000, 50_000
CONFIGS = 100
SEEDS = (0, 1, 2)
EPS = 1e-15

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
    for _ in range(EPOCHS):
        c0 = time.process_time()
        if regression:
            model.partial_fit(data["X"], y)
        else:
            model.partial_fit(data["X"], y, classes=np.array([0, 1]))
        c1 = time.process_time()
        lv = example_losses(model, data, data["Xv"], data["yv"])
        c2 = time.process_time()
        lt = example_losses(model, data, data["Xt"], data["yt"])
        ok = np.all(np.isfinite(lv))
        out["val"].append(float(lv.mean()) if ok else math.inf)
        out["val_se"].append(float(lv.std(ddof=1) / math.sqrt(len(lv))) if ok else math.inf)
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
           "epochs": EPOCHS, "n_train": N_TRAIN, "n_val": N_VAL, "n_test": N_TEST,
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
    args = parser.parse_args(argv)
    args.command = "python benchmarks/epochs.py " + " ".join(argv if argv is not None
                                                             else sys.argv[1:])
    if args.command_name == "record":
        record(args)


if __name__ == "__main__":
    main()
