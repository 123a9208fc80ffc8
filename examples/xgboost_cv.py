"""Tune XGBoost's 9 hyperparameters by 5-fold CV until going on no longer pays off (ray-autoterm).

Data: scikit-learn's breast-cancer set (569 tumours, 30 features, 2 classes), all of it used for
5-fold stratified cross-validation. Loss: the log loss (cross-entropy) of the predicted class
probabilities on each validation fold; the five fold losses are reported with
report_cv_scores, and their spread gives the statistical error of Eq. 9. The search space is the
paper's 9 XGBoost hyperparameters: learning_rate, min_child_weight, gamma, reg_alpha and
reg_lambda on a log scale, max_depth (integer), subsample, colsample_bytree, colsample_bylevel;
n_estimators is fixed at 100 and each trial uses one thread (on a GPU with --gpus-per-trial > 0).
A few minutes on 2 cores.

    python examples/xgboost_cv.py [--num-samples 100] [--max-concurrent 2] [--address auto]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets the Ray environment variables before Ray is imported)
from ray import tune  # noqa: E402

SPACE = {
    "learning_rate": tune.loguniform(1e-3, 1.0),
    "max_depth": tune.randint(1, 11),  # 1..10
    "min_child_weight": tune.loguniform(1e-2, 1e2),
    "subsample": tune.uniform(0.5, 1.0),
    "colsample_bytree": tune.uniform(0.3, 1.0),
    "colsample_bylevel": tune.uniform(0.3, 1.0),
    "gamma": tune.loguniform(1e-3, 10.0),
    "reg_alpha": tune.loguniform(1e-3, 10.0),
    "reg_lambda": tune.loguniform(1e-3, 10.0),
}


def trainable(config: dict) -> None:
    """5-fold CV log loss of an XGBoost classifier, reported as one list of fold losses."""
    from sklearn.datasets import load_breast_cancer
    from xgboost import XGBClassifier

    from ray_autoterm import cross_validate_and_report

    X, y = load_breast_cancer(return_X_y=True)
    params = {k: config[k] for k in SPACE}
    model = XGBClassifier(
        n_estimators=config["n_estimators"], nthread=1, verbosity=0,
        random_state=config["seed"], device="cuda" if config["use_gpu"] else "cpu", **params,
    )
    cross_validate_and_report(model, X, y, cv=5, scoring="neg_log_loss", seed=config["seed"])


def main(argv: list[str] | None = None) -> int:
    args = _common.parse_args(__doc__, argv, num_samples=100, name="xgboost-cv")
    return _common.run_search(
        trainable, SPACE, args, loss_name="log loss",
        constants={"n_estimators": 100, "seed": args.seed, "use_gpu": args.gpus_per_trial > 0},
    )


if __name__ == "__main__":
    raise SystemExit(main())
