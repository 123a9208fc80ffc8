"""Ray Train (V2, Ray's default) with the stopper: the supported way works, the others say so.

Supported: a Tune function fits one Trainer per fold (:func:`cross_validate_with_trainer`), each
Trainer's worker returns its validation loss, and the fold list goes to Tune from the Tune
function. Unsupported: ``report_cv_scores`` inside a Train worker, where ``tune.report`` used to
be a silent no-op (one warning), so the stopper never saw the trial: it now raises, naming the
supported way. Small on purpose: a logistic regression in torch, 2 folds, 1 worker.
"""

from __future__ import annotations

import os
import sys

# Train V2's controller polls its workers every 2 s by default; a fit here is a second of work.
# Set before the session's Ray starts (module import), so the controller processes inherit it.
os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")

import pytest  # noqa: E402
from ray import cloudpickle, tune  # noqa: E402

from ray_autoterm import (  # noqa: E402
    AutoTermStopper,
    cross_validate_with_trainer,
    report_cv_scores,
)
from ray_autoterm.errors import InvalidArgumentError, UnsupportedContextError  # noqa: E402
from ray_autoterm.tune.train import fold_loss_of  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/

NUM_FOLDS = 2


def train_fold(config: dict) -> dict:
    """Train worker: a logistic regression on one fold of breast-cancer data; returns its loss."""
    import numpy as np
    import torch
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    folds = StratifiedKFold(n_splits=config["num_folds"], shuffle=True, random_state=0)
    train, val = list(folds.split(X, y))[config["fold"]]
    scaler = StandardScaler().fit(X[train])
    Xt, Xv = (torch.tensor(scaler.transform(X[i]), dtype=torch.float32) for i in (train, val))
    yt, yv = (torch.tensor(y[i], dtype=torch.float32) for i in (train, val))
    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], 1)
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(30):
        opt.zero_grad()
        loss_fn(model(Xt).squeeze(-1), yt).backward()
        opt.step()
    with torch.no_grad():
        val_loss = float(loss_fn(model(Xv).squeeze(-1), yv))
    return {"val_loss": val_loss if np.isfinite(val_loss) else float("nan")}


def tune_cv_with_trainer(config: dict) -> None:
    """Tune function: one TorchTrainer per fold, the fold losses reported from here."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    trial_id = tune.get_context().get_trial_id()

    def make_trainer(fold: int) -> TorchTrainer:
        return TorchTrainer(
            train_fold,
            train_loop_config={"lr": config["lr"], "fold": fold, "num_folds": NUM_FOLDS},
            scaling_config=ScalingConfig(num_workers=1),
            run_config=RunConfig(name=f"{trial_id}-fold{fold}", storage_path=config["storage"]),
        )

    cross_validate_with_trainer(make_trainer, NUM_FOLDS, lr=config["lr"])


def report_from_worker(config: dict) -> None:
    """Train worker calling report_cv_scores: the unsupported way."""
    report_cv_scores([0.2, 0.3], mode="min")


def test_tune_function_cross_validates_with_a_trainer_per_fold(ray_local, tmp_path):
    from ray.train.v2._internal.constants import is_v2_enabled

    assert is_v2_enabled(), "Ray Train V2 is Ray 2.60's default"
    space = {"lr": tune.loguniform(1e-3, 1.0)}
    stopper = AutoTermStopper(param_space=space, background=False, min_trials=2)
    tuner = tune.Tuner(
        tune.with_resources(tune_cv_with_trainer, {"cpu": 0.5}),
        param_space={**space, "storage": str(tmp_path / "train")},
        tune_config=tune.TuneConfig(num_samples=2, max_concurrent_trials=1, reuse_actors=True),
        run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), name="cv", verbose=0),
    )
    grid = tuner.fit()
    assert not grid.errors, grid.errors
    for result in grid:
        scores = result.metrics["cv_scores"]
        assert len(scores) == NUM_FOLDS and all(0 < s < 1 for s in scores), scores
        assert result.metrics["cv_mean"] == pytest.approx(sum(scores) / NUM_FOLDS)
    assert len(stopper.history) == 2, "the stopper saw both trials' fold lists"
    assert stopper.decisions[-1] is not None and stopper.decisions[-1].num_trials == 2


def test_report_cv_scores_in_a_train_worker_raises_with_the_supported_way(ray_local, tmp_path):
    from ray.train import RunConfig, ScalingConfig, TrainingFailedError
    from ray.train.v2.api.data_parallel_trainer import DataParallelTrainer

    trainer = DataParallelTrainer(
        report_from_worker, scaling_config=ScalingConfig(num_workers=1),
        run_config=RunConfig(name="worker-report", storage_path=str(tmp_path)),
    )
    with pytest.raises(TrainingFailedError) as info:
        trainer.fit()
    # Ray shows the first and last 500 characters of a worker's traceback: the whole message,
    # with the exception's name, must fit in the tail.
    tail = str(info.value)[-500:]
    assert "UnsupportedContextError: `report_cv_scores` in a Ray Train worker" in tail
    assert "cross_validate_with_trainer(make_trainer, num_folds)" in tail
    assert "report_cv_scores(fold_losses)" in tail


def test_fold_loss_comes_from_the_return_value_or_checkpointed_metrics():
    from types import SimpleNamespace as Result

    assert fold_loss_of(Result(return_value={"val_loss": 0.25}, metrics=None)) == 0.25
    assert fold_loss_of(Result(return_value=0.5, metrics=None)) == 0.5
    assert fold_loss_of(Result(return_value=None, metrics={"val_loss": 0.75})) == 0.75
    with pytest.raises(InvalidArgumentError, match=r"`val_loss`.*of fold 3.*return it"):
        fold_loss_of(Result(return_value=None, metrics=None), "val_loss", fold=3)


def test_cross_validate_with_trainer_rejects_bad_arguments():
    with pytest.raises(InvalidArgumentError, match=r"`num_folds`.*got 1"):
        cross_validate_with_trainer(lambda fold: None, 1)
    with pytest.raises(InvalidArgumentError, match=r"`make_trainer`"):
        cross_validate_with_trainer("trainer", 2)
    assert issubclass(UnsupportedContextError, RuntimeError)


def tune_fn_with_reporting_worker(config: dict) -> None:
    """Tune function whose Train worker calls report_cv_scores (the unsupported way)."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.v2.api.data_parallel_trainer import DataParallelTrainer

    trial_id = tune.get_context().get_trial_id()
    DataParallelTrainer(
        report_from_worker, scaling_config=ScalingConfig(num_workers=1),
        run_config=RunConfig(name=f"{trial_id}-worker", storage_path=config["storage"]),
    ).fit()


def test_a_helper_that_cannot_work_fails_the_experiment_once(ray_local, tmp_path):
    """The first trial raising UnsupportedContextError ends the experiment with its message,
    instead of every trial raising until give_up_after (10 trials, minutes)."""
    stopper = AutoTermStopper(param_space={"lr": tune.uniform(0, 1)}, mode="min")
    tuner = tune.Tuner(
        tune.with_resources(tune_fn_with_reporting_worker, {"cpu": 0.5}),
        param_space={"lr": tune.uniform(0, 1), "storage": str(tmp_path / "train")},
        tune_config=tune.TuneConfig(num_samples=6, max_concurrent_trials=1, reuse_actors=True),
        run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), name="once",
                                  verbose=0),
    )
    grid = tuner.fit()
    assert stopper.fired is not None and stopper.fired.error_source == "none"
    assert "UnsupportedContextError" in stopper.fired.reason
    assert len(grid.errors) == 1, f"{len(grid.errors)} trials raised; the first should end it"
