"""Tune a random forest by 5-fold CV, stopping hopeless trials after a fold or two (ray-autoterm).

Data: scikit-learn's breast-cancer set (569 tumours, 30 features, 2 classes), 5-fold stratified
cross-validation. Loss: the log loss of each validation fold, streamed fold by fold
(cross_validate_and_report(..., stream=True)). A FoldPruningScheduler linked to the stopper
compares each new fold with the incumbent's same fold and stops a trial once it is worse at 95%
confidence; the AutoTermStopper ends the search (Eq. 10), with the pruned trials counted as
observations whose missing folds are imputed from the incumbent's. With --parallel-folds the
folds run as Ray tasks (their CPUs sized to the cluster: one trial fits it), and a pruned
trial's remaining fold tasks are cancelled. About a minute on 2 cores.

    python examples/pruning_cv.py [--num-samples 60] [--max-concurrent 2] [--parallel-folds]
                                  [--address auto] [--storage-path ~/ray_results]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets the Ray environment variables before Ray is imported)
from ray import tune  # noqa: E402

SPACE = {
    "max_features": tune.uniform(0.05, 1.0),
    "min_samples_split": tune.randint(2, 21),
    "min_samples_leaf": tune.randint(1, 21),
}
FOLDS = 5


def trainable(config: dict, parallel: bool = False, cpus_per_fold: float = 1.0) -> None:
    """Streams the 5 fold log losses of a random forest as they finish."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from ray_autoterm import cross_validate_and_report

    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=30, n_jobs=1, random_state=config["seed"], **{
        k: config[k] for k in SPACE})
    cross_validate_and_report(model, X, y, cv=FOLDS, scoring="neg_log_loss", seed=config["seed"],
                              stream=True, parallel=parallel, num_cpus_per_fold=cpus_per_fold)


def cpus_per_fold(cluster_cpus: float, folds: int = FOLDS) -> float:
    """CPUs for each fold task so that a trial (1 CPU) and its folds fit the cluster; at most 1."""
    per_fold = min(1.0, math.floor(100 * (cluster_cpus - 1) / folds) / 100)
    if per_fold <= 0:
        raise SystemExit(f"--parallel-folds needs more than 1 CPU; the cluster has "
                         f"{cluster_cpus:g}.")
    return per_fold


def main(argv: list[str] | None = None) -> int:
    # The examples' common options (--address, --storage-path, ...) and this one's own flag.
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--parallel-folds", action="store_true")
    extra, rest = own.parse_known_args(argv)
    args = _common.parse_args(__doc__, rest, num_samples=60, name="pruning-cv")

    import ray

    from ray_autoterm import AutoTermSearcher, AutoTermStopper, FoldPruningScheduler

    print(_common.init_ray(args.address, num_cpus=2))
    # The forest does not use GPUs; --gpus-per-trial only reserves them, as in the other examples.
    head: dict[str, float] = {"CPU": 1}
    if args.gpus_per_trial:
        head["GPU"] = args.gpus_per_trial
    trainable_ = tune.with_resources(trainable, tune.PlacementGroupFactory([head]))
    if extra.parallel_folds:  # the trial (1 CPU) and its fold tasks, spread over the nodes
        per_fold = cpus_per_fold(ray.cluster_resources().get("CPU", 0))
        trainable_ = tune.with_resources(
            tune.with_parameters(trainable, parallel=True, cpus_per_fold=per_fold),
            tune.PlacementGroupFactory([head] + [{"CPU": per_fold}] * FOLDS, strategy="SPREAD"))
        print(f"Folds: {FOLDS} Ray tasks of {per_fold:g} CPU each per trial.")
    param_space = {**SPACE, "seed": args.seed}
    searcher = AutoTermSearcher(param_space, seed=args.seed)
    stopper = AutoTermStopper(searcher=searcher, seed=args.seed)
    scheduler = FoldPruningScheduler(stopper=stopper)
    tuner = tune.Tuner(
        trainable_,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                    num_samples=args.num_samples,
                                    max_concurrent_trials=args.max_concurrent, reuse_actors=True),
        run_config=tune.RunConfig(stop=stopper, name=args.name, verbose=0,
                                  storage_path=args.storage_path),
    )
    start = time.time()
    grid = tuner.fit()
    seconds = time.time() - start
    exp_dir = stopper.log_dir or getattr(grid, "experiment_path", "") or ""
    print()
    print("=" * 78)
    _common.print_outcome(stopper, exp_dir, args.num_samples, seconds)  # pruning included
    print("=" * 78)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
