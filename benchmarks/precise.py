#!/usr/bin/env python
"""Full-budget HPO runs whose test loss is measured precisely, to replay stopping rules on.

``benchmarks/quality.py`` scores stop points on test sets of 30-360 rows: there a 1% loss of
accuracy is invisible (the test loss's own noise is tens of percent). Here each task draws ONE
sample from a scikit-learn generator (``make_friedman1/2/3``, ``make_regression``,
``make_classification`` with label noise and redundant features, ``make_hastie_10_2``) with its
seed, and splits it into a modest training part (``--n-train``, 1,000 rows by default: 5-fold CV
of a trial costs well under a second) and a LARGE test set (``--n-test``, 50,000 rows) from the
same distribution. The HPO sees only the training part.

Losses are continuous: mean squared error for regression, log loss for classification (the
classification error rate is recorded beside it, on the folds and on the test set).

Models: XGBoost (the paper's 9 hyperparameters, 50 trees), random forest (the paper's 3, 50
trees), and an MLP (scikit-learn's, standardised inputs, early stopping; alpha,
learning_rate_init and the hidden-layer width). One thread each.

Searchers: ``random`` (uniform in the encoded space), ``tpe`` (Optuna's ``TPESampler`` driven by
ask/tell, 10 random start-up trials) and ``gp`` (:func:`ray_autoterm.bo.propose`: 10
scrambled-Sobol points, then a GP and qLogNoisyEI, as ``benchmarks/quality.py``).

Every trial records its config, its k fold losses (in the CV split order, the same for all trials
of a run), per-fold wall and CPU seconds, the proposal's wall and CPU seconds, ``time_s`` /
``cpu_s`` (proposal + CV: the HPO's cost), and the test loss (and test error) of the config refitted
on the whole training part (evaluation only, not counted in the HPO's time). Floats are rounded to
7 significant digits. One file per run:
``benchmarks/results/precise/runs-<data>-<model>-<searcher>-s<seed>.json``; existing files are
kept (the benchmark resumes) unless ``--force``.

    nice -n 10 python benchmarks/precise.py --jobs 2
    python benchmarks/precise.py --tasks friedman1-xgboost --searchers random --seeds 0 \
        --budget 10 --out /tmp/precise-try
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (environment, repository on sys.path)
from _bench import describe, provenance  # noqa: E402

_bench.single_threaded()

import numpy as np  # noqa: E402

from quality import RF_N_ESTIMATORS, SPACES, XGB_N_ESTIMATORS  # noqa: E402
from ray_autoterm.space import NumericParam, SearchSpace  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "precise"
N_TRAIN = 1000
N_TEST = 50_000
SEARCHERS = ("random", "tpe", "gp")
MLP_MAX_ITER = 200

MODEL_SPACES: dict[str, list[NumericParam]] = {
    "xgboost": SPACES["xgboost"],
    "random_forest": SPACES["random_forest"],
    "mlp": [
        NumericParam(("alpha",), 1e-6, 10.0, log=True),
        NumericParam(("learning_rate_init",), 1e-4, 0.1, log=True),
        NumericParam(("hidden",), 4, 256, log=True, integer=True),
    ],
}


@dataclasses.dataclass(frozen=True)
class Data:
    """A generator: ``make(n, seed) -> (X, y)``; ``kind`` is "regression" or "classification"."""

    kind: str
    make: Callable[[int, int], tuple[np.ndarray, np.ndarray]]
    note: str


def _gen(fn_name: str, **kw: Any) -> Callable[[int, int], tuple[np.ndarray, np.ndarray]]:
    def make(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        from sklearn import datasets

        X, y = getattr(datasets, fn_name)(n_samples=n, random_state=seed, **kw)
        if fn_name == "make_hastie_10_2":
            y = (y > 0).astype(int)
        return X, y
    return make


# Noise levels: Friedman's (1991) signal-to-noise of about 3:1 for friedman2/3; the
# classification tasks carry label noise (flip_y) and redundant (linear-combination) features.
DATA: dict[str, Data] = {
    "friedman1": Data("regression", _gen("make_friedman1", n_features=10, noise=1.0),
                      "make_friedman1, 10 features (5 informative), noise 1.0"),
    "friedman2": Data("regression", _gen("make_friedman2", noise=125.0),
                      "make_friedman2, noise 125 (SNR about 3)"),
    "friedman3": Data("regression", _gen("make_friedman3", noise=0.1),
                      "make_friedman3, noise 0.1 (SNR about 3)"),
    "linear": Data("regression", _gen("make_regression", n_features=20, n_informative=10,
                                      noise=30.0),
                   "make_regression, 20 features (10 informative), noise 30"),
    "binary": Data("classification", _gen("make_classification", n_features=20,
                                          n_informative=5, n_redundant=5, flip_y=0.1),
                   "make_classification, 2 classes, 20 features (5 informative, 5 redundant), "
                   "flip_y 0.1"),
    "multiclass": Data("classification", _gen("make_classification", n_classes=3,
                                              n_features=15, n_informative=6, n_redundant=4,
                                              flip_y=0.05),
                       "make_classification, 3 classes, 15 features (6 informative, 4 "
                       "redundant), flip_y 0.05"),
    "hastie": Data("classification", _gen("make_hastie_10_2"),
                   "make_hastie_10_2 (10 features, y = sum x_i^2 > 9.34)"),
}

# A task is a data generator and a model.
TASKS: tuple[str, ...] = (
    "friedman1-xgboost",
    "friedman2-xgboost",
    "linear-xgboost",
    "binary-xgboost",
    "hastie-xgboost",
    "friedman1-random_forest",
    "binary-random_forest",
    "multiclass-xgboost",
    "friedman3-mlp",
    "multiclass-mlp",
)


def split_task(task: str) -> tuple[str, str]:
    """``"friedman1-xgboost"`` → ``("friedman1", "xgboost")`` (checked)."""
    data, _, model = task.partition("-")
    if data not in DATA or model not in MODEL_SPACES:
        raise ValueError(f"Unknown task {task!r}: expected DATA-MODEL with DATA in {sorted(DATA)} "
                         f"and MODEL in {sorted(MODEL_SPACES)}.")
    return data, model


def make_model(model: str, kind: str, config: dict[str, Any], seed: int) -> Any:
    """A fresh estimator for ``config`` (one thread; the model's own randomness seeded)."""
    clf = kind == "classification"
    if model == "xgboost":
        import xgboost

        cls = xgboost.XGBClassifier if clf else xgboost.XGBRegressor
        return cls(n_estimators=XGB_N_ESTIMATORS, nthread=1, verbosity=0, random_state=seed,
                   **config)
    if model == "random_forest":
        from sklearn import ensemble

        cls = ensemble.RandomForestClassifier if clf else ensemble.RandomForestRegressor
        return cls(n_estimators=RF_N_ESTIMATORS, n_jobs=1, random_state=seed, **config)
    if model == "mlp":
        from sklearn import neural_network
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        cls = neural_network.MLPClassifier if clf else neural_network.MLPRegressor
        net = cls(hidden_layer_sizes=(int(config["hidden"]),), alpha=config["alpha"],
                  learning_rate_init=config["learning_rate_init"], early_stopping=True,
                  max_iter=MLP_MAX_ITER, random_state=seed)
        if clf:
            return make_pipeline(StandardScaler(), net)
        from sklearn.compose import TransformedTargetRegressor

        return TransformedTargetRegressor(make_pipeline(StandardScaler(), net),
                                          transformer=StandardScaler())
    raise ValueError(f"Unknown model {model!r}; choose from {sorted(MODEL_SPACES)}.")


def losses(est: Any, kind: str, X: np.ndarray, y: np.ndarray,
           labels: np.ndarray | None) -> tuple[float, float | None]:
    """(loss, error rate or None) of a fitted model: MSE, or log loss and classification error."""
    if kind == "regression":
        pred = est.predict(X)
        return float(np.mean((pred - y) ** 2)), None
    from sklearn.metrics import log_loss

    proba = est.predict_proba(X)
    pred = labels[np.argmax(proba, axis=1)]
    return float(log_loss(y, proba, labels=labels)), float(np.mean(pred != y))


def load_task(task: str, seed: int, folds: int, n_train: int = N_TRAIN,
              n_test: int = N_TEST) -> dict[str, Any]:
    """One sample of ``n_train + n_test`` rows (seeded), split, and the CV folds of train."""
    from sklearn.model_selection import KFold, StratifiedKFold

    data_name, model = split_task(task)
    d = DATA[data_name]
    X, y = d.make(n_train + n_test, seed)
    X_tr, y_tr, X_te, y_te = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    clf = d.kind == "classification"
    splitter = (StratifiedKFold if clf else KFold)(n_splits=folds, shuffle=True,
                                                   random_state=seed)
    return {"kind": d.kind, "model": model, "data": data_name, "X_train": X_tr,
            "y_train": y_tr, "X_test": X_te, "y_test": y_te,
            "labels": np.unique(y) if clf else None,
            "splits": list(splitter.split(X_tr, y_tr))}


def evaluate(config: dict[str, Any], data: dict[str, Any], seed: int) -> dict[str, Any]:
    """k-fold CV on train (per-fold loss, error, wall and CPU seconds), then the test loss."""
    from sklearn.base import clone

    kind, labels = data["kind"], data["labels"]
    est = make_model(data["model"], kind, config, seed)
    X, y = data["X_train"], data["y_train"]
    fold_losses, fold_errors, fold_time, fold_cpu = [], [], [], []
    for tr, va in data["splits"]:
        t0, c0 = time.perf_counter(), time.process_time()
        m = clone(est).fit(X[tr], y[tr])
        loss, err = losses(m, kind, X[va], y[va], labels)
        fold_time.append(time.perf_counter() - t0)
        fold_cpu.append(time.process_time() - c0)
        fold_losses.append(loss)
        fold_errors.append(err)
    t0 = time.perf_counter()
    m = clone(est).fit(X, y)
    test_loss, test_error = losses(m, kind, data["X_test"], data["y_test"], labels)
    out = {"fold_losses": fold_losses, "cv_mean": float(np.mean(fold_losses)),
           "fold_time_s": fold_time, "fold_cpu_s": fold_cpu,
           "time_cv_s": float(sum(fold_time)), "cpu_cv_s": float(sum(fold_cpu)),
           "test_loss": test_loss, "time_test_s": time.perf_counter() - t0}
    if kind == "classification":
        out["fold_errors"] = fold_errors
        out["cv_error"] = float(np.mean(fold_errors))
        out["test_error"] = test_error
    return out


# --------------------------------------------------------------------------- searchers
class RandomSearch:
    """Uniform in the encoded space (log scale where marked)."""

    def __init__(self, space: SearchSpace, seed: int):
        self.space, self.rng = space, np.random.default_rng(seed)

    def ask(self) -> dict[str, Any]:
        return self.space.decode(self.rng.random(self.space.dim))

    def tell(self, config: dict[str, Any], loss: float) -> None:
        pass


class TPESearch:
    """Optuna's TPESampler through ask/tell (10 random start-up trials, Optuna's defaults)."""

    def __init__(self, space: SearchSpace, params: list[NumericParam], seed: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self.dists = {}
        for p in params:
            cls = (optuna.distributions.IntDistribution if p.integer
                   else optuna.distributions.FloatDistribution)
            cast = int if p.integer else float
            self.dists[p.path[0]] = cls(cast(p.low), cast(p.high), log=p.log)
        self.study = optuna.create_study(
            direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
        self._trial: Any = None

    def ask(self) -> dict[str, Any]:
        self._trial = self.study.ask(self.dists)
        return dict(self._trial.params)

    def tell(self, config: dict[str, Any], loss: float) -> None:
        self.study.tell(self._trial, loss)


class GPSearch:
    """:func:`ray_autoterm.bo.propose` with one GPFitter per run (as ``quality.py``)."""

    def __init__(self, space: SearchSpace, seed: int, num_restarts: int = 4,
                 raw_samples: int = 128, num_initial: int = 10):
        from ray_autoterm.gp import GPFitter

        self.space, self.seed, self.fitter = space, seed, GPFitter()
        self.kw = {"num_initial": num_initial, "num_restarts": num_restarts,
                   "raw_samples": raw_samples}
        self.X = np.zeros((0, space.dim))
        self.y = np.zeros(0)

    def ask(self) -> dict[str, Any]:
        from ray_autoterm.bo import propose

        x = propose(self.space, self.X, self.y, fitter=self.fitter, seed=self.seed,
                    design_index=len(self.y), **self.kw)
        return self.space.decode(x)

    def tell(self, config: dict[str, Any], loss: float) -> None:
        self.X = np.vstack([self.X, self.space.encode(config)])
        self.y = np.append(self.y, loss)


def make_searcher(name: str, model: str, seed: int) -> Any:
    space = SearchSpace(MODEL_SPACES[model])
    if name == "random":
        return RandomSearch(space, seed)
    if name == "tpe":
        return TPESearch(space, MODEL_SPACES[model], seed)
    if name == "gp":
        return GPSearch(space, seed)
    raise ValueError(f"Unknown searcher {name!r}; choose from {SEARCHERS}.")


# --------------------------------------------------------------------------- one run
def run_name(task: str, searcher: str, seed: int) -> str:
    return f"runs-{task}-{searcher}-s{seed}"


def round_floats(obj: Any, digits: int = 7) -> Any:
    """``obj`` with every float rounded to ``digits`` significant digits (smaller files)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, digits) for v in obj]
    return obj


def run_one(task: str, searcher: str, seed: int, budget: int, folds: int,
            n_train: int = N_TRAIN, n_test: int = N_TEST) -> dict[str, Any]:
    """One full-budget HPO run; returns the run record (also what is saved as JSON)."""
    import torch

    torch.set_num_threads(1)
    data = load_task(task, seed, folds, n_train, n_test)
    search = make_searcher(searcher, data["model"], seed)
    trials: list[dict[str, Any]] = []
    start = time.perf_counter()
    for t in range(budget):
        t0, c0 = time.perf_counter(), time.process_time()
        config = search.ask()
        t_prop, c_prop = time.perf_counter() - t0, time.process_time() - c0
        res = evaluate(config, data, seed)
        search.tell(config, res["cv_mean"])
        trials.append({"index": t, "config": config, "time_propose_s": t_prop,
                       "cpu_propose_s": c_prop, **res, "time_s": t_prop + res["time_cv_s"],
                       "cpu_s": c_prop + res["cpu_cv_s"]})
    model = data["model"]
    return round_floats({
        "name": run_name(task, searcher, seed), "benchmark": "precise",
        "task": task, "model": model, "dataset": data["data"], "searcher": searcher,
        "seed": seed, "budget": budget, "folds": folds, "kind": data["kind"],
        "loss": "log_loss" if data["kind"] == "classification" else "mse",
        "data_note": DATA[data["data"]].note,
        "n_train": n_train, "n_test": n_test,
        "n_estimators": {"xgboost": XGB_N_ESTIMATORS, "random_forest": RF_N_ESTIMATORS}.get(model),
        "space": [
            {"name": p.path[0], "low": p.low, "high": p.high, "log": p.log, "integer": p.integer}
            for p in MODEL_SPACES[model]
        ],
        "time_note": "time_s = time_propose_s + time_cv_s (the HPO's cost, wall seconds); "
                     "cpu_s the same in CPU seconds of this process; fold_time_s / fold_cpu_s "
                     "per fold in the CV split order (fit + predict of that fold); the test refit "
                     "(time_test_s) is evaluation only and not counted",
        "wall_time_s": time.perf_counter() - start,
        "host": {"python": platform.python_version(), "machine": platform.machine(),
                 "cpus": os.cpu_count()},
        "code": provenance(),
        "trials": trials,
    })


def _job(args: tuple) -> tuple[str, float, dict[str, Any] | None, str | None]:
    import warnings

    warnings.filterwarnings("ignore")  # MLP convergence, Optuna experimental: not the record
    task, searcher, seed, budget, folds, n_train, n_test, out_dir = args
    t0 = time.time()
    try:
        run = run_one(task, searcher, seed, budget, folds, n_train, n_test)
    except Exception:  # noqa: BLE001 - report and go on with the other runs
        import traceback

        return run_name(task, searcher, seed), time.time() - t0, None, traceback.format_exc()
    path = Path(out_dir) / f"{run['name']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(run, separators=(",", ":")))
    tmp.replace(path)
    summary = {"best_cv": min(tr["cv_mean"] for tr in run["trials"]),
               "hpo_s": sum(tr["time_s"] for tr in run["trials"]),
               "cpu_s": sum(tr["cpu_s"] for tr in run["trials"])}
    return run["name"], time.time() - t0, summary, None


# Rough relative cost of a run. Cheapest first: on a busy shared machine an interrupted
# recording then holds the most runs (seed by seed within a model).
_COST = {"mlp": 4.0, "random_forest": 2.0, "xgboost": 1.0}


def plan(tasks: list[str], searchers: list[str], seeds: list[int],
         rotate: bool) -> list[tuple[str, str, int]]:
    """(task, searcher, seed) of each run: every searcher for every seed, or (``rotate``) seed
    ``s`` with searcher ``searchers[s % len(searchers)]``."""
    out = []
    for task in tasks:
        split_task(task)
        for seed in seeds:
            chosen = [searchers[seed % len(searchers)]] if rotate else searchers
            out += [(task, s, seed) for s in chosen]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS),
                        help=f"DATA-MODEL pairs (data: {', '.join(DATA)}; model: "
                             f"{', '.join(MODEL_SPACES)})")
    parser.add_argument("--searchers", nargs="+", default=list(SEARCHERS), choices=SEARCHERS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--all-searchers", action="store_true",
                        help="run every searcher for every seed (default: seed s runs searcher "
                             "s mod len(searchers))")
    parser.add_argument("--budget", type=int, default=100, help="trials per run (full budget T)")
    parser.add_argument("--folds", type=int, default=5, help="k of the k-fold CV on train")
    parser.add_argument("--n-train", type=int, default=N_TRAIN)
    parser.add_argument("--n-test", type=int, default=N_TEST)
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    parser.add_argument("--out", default=str(RESULTS), help="directory of the run files")
    parser.add_argument("--force", action="store_true", help="redo runs whose file exists")
    args = parser.parse_args(argv)
    code = provenance()
    print(f"ray_autoterm from {code['package']}, {describe(code)}", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for task, searcher, seed in plan(args.tasks, args.searchers, args.seeds,
                                     not args.all_searchers):
        if not args.force and (out / f"{run_name(task, searcher, seed)}.json").exists():
            print(f"skip {run_name(task, searcher, seed)} (file exists; --force to redo)")
            continue
        jobs.append((task, searcher, seed, args.budget, args.folds, args.n_train, args.n_test,
                     str(out)))
    jobs.sort(key=lambda j: (_COST[split_task(j[0])[1]], j[2], j[0]))
    print(f"{len(jobs)} runs: budget {args.budget}, {args.folds}-fold CV, {args.n_train} train / "
          f"{args.n_test} test rows, {args.jobs} process(es)", flush=True)
    failures = _bench.run_jobs(_job, jobs, args.jobs, lambda s: (
        f"{args.budget} trials (HPO {s['hpo_s']:.0f} s wall, {s['cpu_s']:.0f} s CPU), "
        f"best CV {s['best_cv']:.5g}"
    ))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
