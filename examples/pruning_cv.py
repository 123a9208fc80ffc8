"""Tune a random forest by 5-fold CV, stopping hopeless trials after a fold or two (ray-autoterm).

Data: scikit-learn's breast-cancer set (569 tumours, 30 features, 2 classes), 5-fold stratified
cross-validation. Loss: the log loss of each validation fold, streamed fold by fold
(``cross_validate_and_report(..., stream=True)``). A ``FoldPruningScheduler`` linked to the
stopper compares each new fold with the incumbent's same fold and stops a trial once it is worse
at 95% confidence; the ``AutoTermStopper`` ends the search (Eq. 10), with the pruned trials
counted as observations whose missing folds are imputed from the incumbent's. With
``--parallel-folds`` the folds run as Ray tasks, and a pruned trial's remaining fold tasks are
cancelled. About a minute on 2 cores.

    python examples/pruning_cv.py [--num-samples 60] [--max-concurrent 1] [--parallel-folds]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402, F401  (sets the Ray environment variables before Ray is imported)
from ray import tune  # noqa: E402

SPACE = {
    "max_features": tune.uniform(0.05, 1.0),
    "min_samples_split": tune.randint(2, 21),
    "min_samples_leaf": tune.randint(1, 21),
}


def trainable(config: dict) -> None:
    """Streams the 5 fold log losses of a random forest as they finish."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from ray_autoterm import cross_validate_and_report

    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=30, n_jobs=1, random_state=0, **{
        k: config[k] for k in SPACE})
    cross_validate_and_report(model, X, y, cv=5, scoring="neg_log_loss", seed=0, stream=True,
                              parallel=config["parallel"], num_cpus_per_fold=0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num-samples", type=int, default=60)
    parser.add_argument("--max-concurrent", type=int, default=1)
    parser.add_argument("--parallel-folds", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage-path", default=None)
    args = parser.parse_args(argv)
    if args.num_samples < 1:
        parser.error(f"--num-samples must be >= 1; got {args.num_samples}")

    import ray

    from ray_autoterm import AutoTermSearcher, AutoTermStopper
    from ray_autoterm.tune.scheduler import FoldPruningScheduler

    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    searcher = AutoTermSearcher(SPACE, seed=args.seed)
    stopper = AutoTermStopper(searcher=searcher)
    scheduler = FoldPruningScheduler(stopper=stopper)
    trainable_ = trainable
    if args.parallel_folds:  # the trial (1 CPU) and its fold tasks (5 x 0.5 CPU)
        trainable_ = tune.with_resources(
            trainable, tune.PlacementGroupFactory([{"CPU": 1}] + [{"CPU": 0.5}] * 5))
    tuner = tune.Tuner(
        trainable_, param_space={"parallel": args.parallel_folds},
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                    num_samples=args.num_samples,
                                    max_concurrent_trials=args.max_concurrent, reuse_actors=True),
        run_config=tune.RunConfig(stop=stopper, name="pruning-cv", verbose=0,
                                  storage_path=args.storage_path or tempfile.mkdtemp()),
    )
    grid = tuner.fit()
    history = stopper.history
    complete = [r for r in history.completed() if not r.pruned]
    best = min(complete, key=lambda r: r.value)
    print(f"Trials: {len(grid)} started, {len(complete)} ran all 5 folds, "
          f"{scheduler.num_pruned} pruned ({scheduler.folds_saved} fold evaluations saved of "
          f"{5 * len(grid)}).")
    print("Stopped by the criterion: " + (stopper.fired.reason if stopper.fired else "no"))
    print(f"Incumbent: trial {best.trial_id}, log loss {best.value:.4f}, config {best.config}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
