#!/usr/bin/env python
"""The paper's evaluation protocol, scaled down: full-budget HPO runs to replay stopping rules on.

For each model (XGBoost with the paper's 9 hyperparameters, random forest with 3), each data set
shipped with scikit-learn (breast_cancer, wine, digits, iris: all real classification data, no
download) and each seed: an 80/20 stratified train/test split, then GP Bayesian optimisation to
the full budget, each trial scored by k-fold stratified CV on the training part. The loss is the
**log loss** (cross-entropy) of the predicted class probabilities, both for the CV folds (what
the HPO and the criterion see) and for the held-out test set.

Every trial records its config, its k fold losses, its wall and CPU time (BO proposal + CV), the
held-out test loss (and test error) of that config refitted on the whole training part, so that
any stop point can be evaluated afterwards (``benchmarks/stopping_rules.py``).

The HPO is a plain Python loop around :func:`ray_autoterm.bo.propose` with a
:class:`~ray_autoterm.gp.GPFitter` (scrambled-Sobol design for the first 10 trials, then a GP and
qLogNoisyEI): the same proposals as :class:`~ray_autoterm.AutoTermSearcher`, without Ray's
scheduling overhead, sequentially (one trial at a time).

One JSON file per run: ``benchmarks/results/runs-<model>-<dataset>-s<seed>.json``; existing files
are kept (the benchmark resumes) unless ``--force``.

    python benchmarks/quality.py --budget 60 --seeds 0 1 --jobs 2
    python benchmarks/quality.py --models random_forest --datasets iris --budget 20 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (environment, repository on sys.path)
from _bench import describe, provenance  # noqa: E402

_bench.single_threaded()

import numpy as np  # noqa: E402

from ray_autoterm.space import NumericParam, SearchSpace  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ("breast_cancer", "wine", "digits", "iris")
MODELS = ("xgboost", "random_forest")

# The paper's XGBoost space (9 hyperparameters) and random-forest space (3); examples/ use the
# same ranges as Tune domains.
XGB_N_ESTIMATORS = 50
RF_N_ESTIMATORS = 50
SPACES: dict[str, list[NumericParam]] = {
    "xgboost": [
        NumericParam(("learning_rate",), 1e-3, 1.0, log=True),
        NumericParam(("max_depth",), 1, 10, integer=True),
        NumericParam(("min_child_weight",), 1e-2, 1e2, log=True),
        NumericParam(("subsample",), 0.5, 1.0),
        NumericParam(("colsample_bytree",), 0.3, 1.0),
        NumericParam(("colsample_bylevel",), 0.3, 1.0),
        NumericParam(("gamma",), 1e-3, 10.0, log=True),
        NumericParam(("reg_alpha",), 1e-3, 10.0, log=True),
        NumericParam(("reg_lambda",), 1e-3, 10.0, log=True),
    ],
    "random_forest": [
        NumericParam(("max_features",), 0.05, 1.0),
        NumericParam(("min_samples_split",), 2, 20, integer=True),
        NumericParam(("min_samples_leaf",), 1, 20, integer=True),
    ],
}


def search_space(model: str) -> SearchSpace:
    """The encoded search space of ``model`` (unit cube, log scale where marked)."""
    return SearchSpace(SPACES[model])


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A data set shipped with scikit-learn (no download)."""
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
    }
    if name not in loaders:
        raise ValueError(f"Unknown data set {name!r}; choose from {sorted(loaders)}.")
    return loaders[name](return_X_y=True)


def make_model(model: str, config: dict[str, Any], seed: int) -> Any:
    """A fresh estimator for ``config`` (one thread; the model's own randomness seeded)."""
    if model == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(
            n_estimators=XGB_N_ESTIMATORS, nthread=1, verbosity=0, random_state=seed, **config
        )
    if model == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=RF_N_ESTIMATORS, n_jobs=1, random_state=seed, **config
        )
    raise ValueError(f"Unknown model {model!r}; choose from {MODELS}.")


def _losses(est: Any, X: np.ndarray, y: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(log loss, classification error) of a fitted classifier."""
    from sklearn.metrics import log_loss

    proba = est.predict_proba(X)
    pred = labels[np.argmax(proba, axis=1)]
    return float(log_loss(y, proba, labels=labels)), float(np.mean(pred != y))


def evaluate(
    model: str, config: dict[str, Any], data: dict[str, Any], seed: int
) -> dict[str, Any]:
    """k-fold CV losses on train, then the test loss of a refit on all of train."""
    from sklearn.base import clone

    est = make_model(model, config, seed)
    X, y, labels = data["X_train"], data["y_train"], data["labels"]
    t0, c0 = time.perf_counter(), time.process_time()
    folds = []
    for tr, va in data["splits"]:
        m = clone(est).fit(X[tr], y[tr])
        folds.append(_losses(m, X[va], y[va], labels)[0])
    t_cv, c_cv = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    m = clone(est).fit(X, y)
    test_loss, test_error = _losses(m, data["X_test"], data["y_test"], labels)
    return {
        "fold_losses": folds, "cv_mean": float(np.mean(folds)), "time_cv_s": t_cv, "cpu_cv_s": c_cv,
        "test_loss": test_loss, "test_error": test_error,
        "time_refit_s": time.perf_counter() - t0,
    }


def run_name(model: str, dataset: str, seed: int) -> str:
    return f"runs-{model}-{dataset}-s{seed}"


def run_one(
    model: str, dataset: str, seed: int, budget: int, folds: int,
    num_restarts: int = 4, raw_samples: int = 128, num_initial: int = 10,
) -> dict[str, Any]:
    """One full-budget BO run; returns the run record (also what is saved as JSON)."""
    import torch
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from ray_autoterm.bo import propose
    from ray_autoterm.gp import GPFitter

    torch.set_num_threads(1)
    X, y = load_dataset(dataset)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=seed
    )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    data = {
        "X_train": X_tr, "y_train": y_tr, "X_test": X_te, "y_test": y_te,
        "labels": np.unique(y), "splits": list(splitter.split(X_tr, y_tr)),
    }
    space = search_space(model)
    fitter = GPFitter()
    trials: list[dict[str, Any]] = []
    X_obs = np.zeros((0, space.dim))
    y_obs = np.zeros(0)
    start = time.perf_counter()
    for t in range(budget):
        t0, c0 = time.perf_counter(), time.process_time()
        x = propose(
            space, X_obs, y_obs, fitter=fitter, num_initial=num_initial, seed=seed,
            num_restarts=num_restarts, raw_samples=raw_samples, design_index=t,
        )
        config = space.decode(x)
        t_prop, c_prop = time.perf_counter() - t0, time.process_time() - c0
        res = evaluate(model, config, data, seed)
        trials.append({"index": t, "config": config, "time_propose_s": t_prop,
                       "cpu_propose_s": c_prop, **res, "time_s": t_prop + res["time_cv_s"],
                       "cpu_s": c_prop + res["cpu_cv_s"]})
        X_obs = np.vstack([X_obs, space.encode(config)])
        y_obs = np.append(y_obs, res["cv_mean"])
    return {
        "name": run_name(model, dataset, seed),
        "model": model, "dataset": dataset, "seed": seed, "budget": budget, "folds": folds,
        "loss": "log_loss", "n_train": int(len(y_tr)), "n_test": int(len(y_te)),
        "n_estimators": XGB_N_ESTIMATORS if model == "xgboost" else RF_N_ESTIMATORS,
        "space": [
            {"name": p.path[0], "low": p.low, "high": p.high, "log": p.log, "integer": p.integer}
            for p in SPACES[model]
        ],
        "bo": {"num_initial": num_initial, "num_restarts": num_restarts,
               "raw_samples": raw_samples, "acquisition": "qLogNoisyExpectedImprovement"},
        "time_note": "time_s = time_propose_s + time_cv_s, wall seconds (the HPO's cost; the "
                     "test refit is evaluation-only and not counted); cpu_s the same in CPU "
                     "seconds of this process (robust to other load on a shared machine)",
        "wall_time_s": time.perf_counter() - start,
        "host": {"python": platform.python_version(), "machine": platform.machine(),
                 "cpus": os.cpu_count()},
        "code": provenance(),
        "trials": trials,
    }


def _job(args: tuple) -> tuple[str, float, dict[str, Any] | None, str | None]:
    (model, dataset, seed, budget, folds, num_restarts, raw_samples, out_dir) = args
    t0 = time.time()
    try:
        run = run_one(model, dataset, seed, budget, folds, num_restarts, raw_samples)
    except Exception as exc:  # report and go on with the other runs
        return run_name(model, dataset, seed), time.time() - t0, None, repr(exc)
    path = Path(out_dir) / f"{run['name']}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(run))
    tmp.replace(path)
    summary = {
        "best_cv": min(tr["cv_mean"] for tr in run["trials"]),
        "hpo_s": sum(tr["time_s"] for tr in run["trials"]),
    }
    return run["name"], time.time() - t0, summary, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--budget", type=int, default=100, help="trials per run (full budget T)")
    parser.add_argument("--folds", type=int, default=5, help="k of the k-fold CV on train")
    parser.add_argument("--num-restarts", type=int, default=4, help="acquisition restarts")
    parser.add_argument("--raw-samples", type=int, default=128, help="acquisition raw samples")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    parser.add_argument("--out", default=str(RESULTS), help="directory of the run files")
    parser.add_argument("--force", action="store_true", help="redo runs whose file exists")
    args = parser.parse_args(argv)
    code = provenance()
    print(f"ray_autoterm from {code['package']}, {describe(code)}", flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    for model in args.models:
        for dataset in args.datasets:
            for seed in args.seeds:
                if not args.force and (out / f"{run_name(model, dataset, seed)}.json").exists():
                    print(f"skip {run_name(model, dataset, seed)} (file exists; --force to redo)")
                    continue
                jobs.append((model, dataset, seed, args.budget, args.folds,
                             args.num_restarts, args.raw_samples, str(out)))
    # Expensive first (XGBoost, digits) so that the parallel tail is short.
    cost = {"digits": 3, "breast_cancer": 2, "wine": 1, "iris": 1}
    jobs.sort(key=lambda j: (-(cost[j[1]] * (2 if j[0] == "xgboost" else 1)), j[2]))
    print(f"{len(jobs)} runs: budget {args.budget}, {args.folds}-fold CV, {args.jobs} process(es)",
          flush=True)
    failures = _bench.run_jobs(_job, jobs, args.jobs, lambda s: (
        f"{args.budget} trials, best CV log loss {s['best_cv']:.4f}"
    ))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
