"""Tune a random forest by 5-fold CV until going on no longer pays off (ray-autoterm).

Data: scikit-learn's breast-cancer set (569 tumours, 30 features, 2 classes), all of it used for
5-fold stratified cross-validation. Loss: the log loss (cross-entropy) of the predicted class
probabilities on each validation fold; the five fold losses are reported with
report_cv_scores, and their spread gives the statistical error of Eq. 9. The search space is the
paper's random-forest space: max_features (a fraction of the features), min_samples_split,
min_samples_leaf; n_estimators is fixed at 50. The forest does not use GPUs (--gpus-per-trial
only reserves them). A couple of minutes on 2 cores.

    python examples/random_forest_cv.py [--num-samples 100] [--max-concurrent 2] [--address auto]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets the Ray environment variables before Ray is imported)
from ray import tune  # noqa: E402

SPACE = {
    "max_features": tune.uniform(0.05, 1.0),
    "min_samples_split": tune.randint(2, 21),  # 2..20
    "min_samples_leaf": tune.randint(1, 21),  # 1..20
}


def trainable(config: dict) -> None:
    """5-fold CV log loss of a random forest, reported as one list of fold losses."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from ray_autoterm import cross_validate_and_report

    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(
        n_estimators=config["n_estimators"], n_jobs=1, random_state=config["seed"],
        max_features=config["max_features"], min_samples_split=config["min_samples_split"],
        min_samples_leaf=config["min_samples_leaf"],
    )
    cross_validate_and_report(model, X, y, cv=5, scoring="neg_log_loss", seed=config["seed"])


def main(argv: list[str] | None = None) -> int:
    args = _common.parse_args(__doc__, argv, num_samples=100, name="random-forest-cv")
    return _common.run_search(
        trainable, SPACE, args, loss_name="log loss",
        constants={"n_estimators": 50, "seed": args.seed},
    )


if __name__ == "__main__":
    raise SystemExit(main())
