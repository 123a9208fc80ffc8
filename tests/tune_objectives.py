"""Trainables for the Ray tests (module-level so Tune can ship them to workers)."""

from __future__ import annotations

import math
import os
import signal
import zlib
from typing import Any

import numpy as np
from ray import tune

from ray_autoterm import report_cv_scores, report_fold

NOISE = 0.02
OPTIMUM = {"a": 0.3, "b": 0.7}
SPACE = {"a": tune.uniform(0.0, 1.0), "b": tune.uniform(0.0, 1.0)}


def true_loss(config: dict) -> float:
    return (config["a"] - OPTIMUM["a"]) ** 2 + (config["b"] - OPTIMUM["b"]) ** 2


def folds_for(config: dict, k: int = 5, noise: float | None = None) -> list[float]:
    """Deterministic noisy folds, shaped like real cross-validation.

    In real CV every config is scored on the same splits, so some folds are harder for all
    configs: each fold gets a fixed offset (standard deviation ``noise``), and each config a
    small noise of its own (``noise / 6`` per fold, seeded by the config). ``noise`` is
    ``config["noise"]`` when the config carries one, else ``NOISE``.
    """
    noise = config.get("noise", NOISE) if noise is None else noise
    offsets = noise * np.random.default_rng(12345).standard_normal(k)
    offsets -= offsets.mean()
    seed = zlib.crc32(repr(sorted(config.items())).encode())
    own = (noise / 6) * np.random.default_rng(seed).standard_normal(k)
    return list(true_loss(config) + offsets + own)


def quadratic(config: dict) -> None:
    report_cv_scores(folds_for(config), mode="min")


def quadratic_streaming(config: dict) -> None:
    for i, loss in enumerate(folds_for(config)):
        report_fold(i, loss, num_folds=5, mode="min")


def quadratic_streaming_slow(config: dict) -> None:
    """Streamed folds of 0.02 s each (ASHA over folds), with the noisier folds of
    ``quadratic_fast`` (an error the 60-trial random search reaches in every run)."""
    import time

    for i, loss in enumerate(folds_for(config, noise=0.05)):
        time.sleep(0.02)
        report_fold(i, loss, num_folds=5, mode="min")


def quadratic_flaky(config: dict) -> None:
    """Raises for a band of configs, reports NaN for another band, else like ``quadratic``."""
    if 0.50 < config["a"] < 0.58:
        raise RuntimeError("boom: this trial fails on purpose")
    folds = folds_for(config)
    if 0.60 < config["a"] < 0.66:
        folds[2] = math.nan
    report_cv_scores(folds, mode="min")


RF_SPACE = {
    "max_features": tune.uniform(0.05, 1.0),
    "min_samples_leaf": tune.lograndint(1, 40),
    "criterion": tune.choice(["gini", "entropy"]),
}


def random_forest_cv(config: dict) -> None:
    """5-fold CV log loss of a small random forest on scikit-learn's breast-cancer data."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from ray_autoterm import cross_validate_and_report

    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=25, n_jobs=1, random_state=0, **config)
    cross_validate_and_report(model, X, y, cv=5, scoring="neg_log_loss", seed=0)


def quadratic_fast(config: dict) -> None:
    """A 0.05 s trial: the fast-trial path of the stopper (issue 10, item 1)."""
    import time

    time.sleep(0.05)
    report_cv_scores(folds_for(config, noise=0.05), mode="min")


def quadratic_then_more(config: dict) -> None:
    """Reports its folds, then keeps running (3 more results): a trial that a scheduler or a
    ``MaximumIterationStopper`` ends without a final ``done`` result."""
    import time

    report_cv_scores(folds_for(config), mode="min")
    for i in range(3):
        time.sleep(0.05)
        tune.report({"extra": float(i)})


def quadratic_then_raise(config: dict) -> None:
    """Reports its folds, then raises: ends with an error, never with a ``done`` result."""
    report_cv_scores(folds_for(config), mode="min")
    raise RuntimeError("boom after reporting, on purpose")


def one_fold_plain(config: dict) -> None:
    """Sends 1 fold value (or none) with plain ``tune.report``: no trial is ever usable."""
    folds = folds_for(config)
    tune.report({"cv_scores": folds[:1] if config["a"] < 0.5 else [], "cv_mean": folds[0]})


def quadratic_epochs(config: dict) -> None:
    """Three "epochs", each reporting the complete fold list of the models trained so far
    (losses fall with training): the way to combine the stopper with ASHA on ``cv_mean``."""
    for epoch in range(3):
        report_cv_scores([v + 0.3 / (epoch + 1) for v in folds_for(config)], mode="min")


def quadratic_epochs8(config: dict) -> None:
    """Eight short "epochs", each a complete fold list (losses fall with training), for ASHA
    over epochs: most trials are cut at epoch 1, 2 or 4. The fold noise (0.1, CV error about
    0.055) is twice the other objectives': at 0.05 the rule was still 0.033 > 0.028 after 60
    trials in some runs, so whether it fired depended on the order trials completed in."""
    import time

    for epoch in range(8):
        time.sleep(0.01)
        folds = folds_for(config, noise=0.1)
        report_cv_scores([v + 0.3 / (epoch + 1) for v in folds], mode="min")


class InterruptAfter(tune.Callback):
    """Sends the driver SIGINT after ``n`` completed trials, as a user's Ctrl-C would.

    Tune restores callbacks with the experiment, so a marker file makes it fire only once.
    """

    def __init__(self, n: int, marker: str) -> None:
        self.n, self.done, self.marker = n, 0, marker

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        if self.done >= self.n and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            os.kill(os.getpid(), signal.SIGINT)


def quadratic_scores_raw(config: dict) -> None:
    """Scores (higher is better: ``1 - loss``) with a plain ``tune.report`` and no ``cv_mode``:
    only the searcher or scheduler the user configured says which way is better."""
    scores = [1.0 - v for v in folds_for(config)]
    tune.report({"cv_scores": scores, "cv_mean": float(np.mean(scores))})


def quadratic_half_cpu(config: dict) -> None:
    """A 0.1 s trial, for 4 concurrent trials on 2 CPUs (0.5 CPU each)."""
    import time

    time.sleep(0.1)
    report_cv_scores(folds_for(config, noise=0.05), mode="min")


def feed_quadratic(stopper: Any, n: int, until_fired: bool = False, seed: int = 0) -> None:
    """Call ``stopper`` as Tune would with ``n`` completed trials of a 2-parameter quadratic
    (5 noisy folds each, trial ids t000, t001, ...); stop early once it fired if asked."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        x = rng.random(2)
        loss = float(((x - 0.3) ** 2).sum())
        stopper(f"t{i:03d}", {"config": {"a": float(x[0]), "b": float(x[1])},
                              "cv_scores": list(loss + 0.05 * rng.standard_normal(5)),
                              "done": True})
        if until_fired and stopper.fired:
            return
