"""ray-autoterm demo: tune XGBoost on a real dataset until going on no longer pays off.

Five-fold cross-validation of an XGBoost classifier on scikit-learn's breast-cancer data
(569 tumours, 30 features), 4 hyperparameters, a budget of 150 trials. AutoTermSearcher proposes
configs by GP Bayesian optimisation; AutoTermStopper ends the search once the GP's regret bound
falls below the statistical error of the best config's CV estimate (Makarova et al., 2022), and
this script prints why. A few minutes on 2 cores.

    python examples/demo.py [--num-samples 150] [--max-concurrent 2] [--address auto]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets the Ray environment variables before Ray is imported)
from ray import tune  # noqa: E402

from ray_autoterm import (  # noqa: E402
    AutoTermSearcher,
    AutoTermStopper,
    cross_validate_and_report,
)

SPACE = {
    "learning_rate": tune.loguniform(1e-3, 1.0),
    "max_depth": tune.randint(1, 11),
    "min_child_weight": tune.loguniform(1e-2, 1e2),
    "subsample": tune.uniform(0.5, 1.0),
}


def trainable(config: dict) -> None:
    """5-fold CV log loss of an XGBoost classifier, reported fold by fold to the stopper."""
    from sklearn.datasets import load_breast_cancer
    from xgboost import XGBClassifier

    X, y = load_breast_cancer(return_X_y=True)
    model = XGBClassifier(n_estimators=60, n_jobs=1, verbosity=0, **config)
    cross_validate_and_report(model, X, y, cv=5, scoring="neg_log_loss", seed=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=150, help="trial budget (default 150)")
    parser.add_argument("--max-concurrent", type=int, default=2, help="trials at a time")
    parser.add_argument("--address", default=None,
                        help="a running Ray cluster, e.g. auto (default: the one in RAY_ADDRESS, "
                             "as under `ray job submit`, else a new local Ray)")
    parser.add_argument("--storage-path", default=os.path.expanduser("~/ray_results"),
                        help="where Tune writes the experiment (default ~/ray_results)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    # --address, else RAY_ADDRESS (a job's driver), else a fresh local instance.
    print(_common.init_ray(args.address))
    storage_path = os.path.abspath(os.path.expanduser(args.storage_path))
    searcher = AutoTermSearcher(SPACE, seed=args.seed)
    stopper = AutoTermStopper(searcher=searcher)  # loss = mean fold log loss, minimised
    reporter = tune.CLIReporter(
        metric_columns={
            "cv_mean": "CV log loss",
            "autoterm/regret_bound": "regret bound",
            "autoterm/statistical_error": "stat. error",
        },
        max_report_frequency=10,
    )
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=args.num_samples,
            max_concurrent_trials=args.max_concurrent, reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            stop=stopper, storage_path=storage_path, name=f"demo-{int(time.time())}",
            progress_reporter=reporter, verbose=1,
        ),
    )
    start = time.time()
    grid = tuner.fit()  # the stopper's callback makes its final decision at the end
    seconds = time.time() - start
    exp_dir = stopper.log_dir or grid.experiment_path
    print()
    # The counts of `ray-autoterm report` (trials started / finished, the stop's trial count).
    _common.print_outcome(stopper, exp_dir, args.num_samples, seconds)
    decision = stopper.fired or (stopper.decisions[-1] if stopper.decisions else None)
    if decision is not None and decision.regret_bound is not None:
        print(
            f"How it decided: regret bound r = {decision.regret_bound:.4f} (min UCB "
            f"{decision.min_ucb:.4f} - min LCB {decision.min_lcb:.4f}, beta {decision.beta:.2f}, "
            f"GP on {decision.num_fit} trials) vs statistical error "
            f"{decision.statistical_error:.4f} (Eq. 9, the incumbent's 5 folds)."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
