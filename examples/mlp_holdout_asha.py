"""Tune a PyTorch MLP on one validation split with ASHA over epochs, until going on no longer pays.

Data: scikit-learn's make_classification (6,000 rows, 20 features, 5% flipped labels): 4,000 rows
to train on and one validation split of 2,000 (no k-fold). Every epoch, each trial reports its
2,000 per-example validation log losses with report_holdout: the mean (``holdout_mean``, which
ASHA ranks trials by), its standard error ``sd / sqrt(n)`` (``holdout_se``) and ``n``. An
AutoTermSearcher proposes the configurations; the linked AutoTermStopper, given no error
setting, detects these results and stops the search once the GP regret
bound falls below the incumbent's holdout standard error (docs/holdout.md); trials running at
the stop finish (``let_running_finish=True``). Trials that ASHA cuts at different epochs are
compared at one epoch (the highest that ``min_trials`` trials reached; ``fidelity="rung"``).
``--scheduler fifo`` runs every trial for all its epochs instead. A few minutes on 2 cores;
afterwards ``ray-autoterm report <experiment dir>`` explains the stop.

Loss: the mean per-example validation log loss (lower is better).

    python examples/mlp_holdout_asha.py [--num-samples 60] [--scheduler asha|fifo] [--epochs 8]
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets the Ray environment variables before Ray is imported)
from ray import tune  # noqa: E402

SPACE = {
    "lr": tune.loguniform(1e-4, 3e-2),
    "weight_decay": tune.loguniform(1e-5, 1.0),
    "width": tune.lograndint(8, 257),  # 8..256
    "depth": tune.randint(1, 4),  # 1..3 hidden layers
    "dropout": tune.uniform(0.0, 0.5),
}


def trainable(config: dict) -> None:
    """An MLP trained epoch by epoch; each epoch reports the per-example validation losses."""
    import torch
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler
    from torch import nn

    from ray_autoterm.tune import report_holdout

    use_cuda = config["use_gpu"] and torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    if not use_cuda:
        torch.set_num_threads(1)
    X, y = make_classification(n_samples=6000, n_features=20, n_informative=8, n_redundant=4,
                               flip_y=0.05, class_sep=0.8, random_state=config["seed"])
    scaler = StandardScaler().fit(X[:4000])
    Xtr, Xva = (torch.tensor(scaler.transform(part), dtype=torch.float32, device=device)
                for part in (X[:4000], X[4000:]))
    ytr, yva = (torch.tensor(part, device=device) for part in (y[:4000], y[4000:]))
    torch.manual_seed(config["seed"])
    layers: list[nn.Module] = []
    width_in = X.shape[1]
    for _ in range(config["depth"]):
        layers += [nn.Linear(width_in, config["width"]), nn.ReLU(), nn.Dropout(config["dropout"])]
        width_in = config["width"]
    model = nn.Sequential(*layers, nn.Linear(width_in, 2)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config["lr"],
                            weight_decay=config["weight_decay"])
    loss_fn = nn.CrossEntropyLoss()
    per_example = nn.CrossEntropyLoss(reduction="none")
    for epoch in range(1, config["epochs"] + 1):
        model.train()
        perm = torch.randperm(len(Xtr), device=device)
        for start in range(0, len(Xtr), 64):
            idx = perm[start:start + 64]
            opt.zero_grad()
            loss_fn(model(Xtr[idx]), ytr[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            logits = model(Xva)
            losses = per_example(logits, yva)
            error_rate = float((logits.argmax(1) != yva).float().mean())
        report_holdout(losses, epoch=epoch, error_rate=error_rate)


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    extra = list(argv if argv is not None else sys.argv[1:])
    scheduler_name, epochs = "asha", 8
    for flag in ("--scheduler", "--epochs"):
        if flag in extra:
            i = extra.index(flag)
            value = extra[i + 1]
            del extra[i:i + 2]
            if flag == "--scheduler":
                if value not in ("asha", "fifo"):
                    raise SystemExit(f"--scheduler must be asha or fifo; got {value}")
                scheduler_name = value
            else:
                epochs = int(value)
    args = _common.parse_args(doc, extra, num_samples=60, name="mlp-holdout-asha")

    from ray_autoterm import AutoTermSearcher, AutoTermStopper

    print(_common.init_ray(args.address, num_cpus=2))
    scheduler = None
    if scheduler_name == "asha":
        scheduler = tune.schedulers.ASHAScheduler(
            metric="holdout_mean", mode="min", time_attr="training_iteration", max_t=epochs,
            grace_period=1, reduction_factor=2)
    # Linked: one history and one GP fitter; the error is detected from the results.
    constants = {"epochs": epochs, "seed": args.seed, "use_gpu": args.gpus_per_trial > 0}
    searcher = AutoTermSearcher({**SPACE, **constants}, seed=args.seed)  # constants: no GP dim
    stopper = AutoTermStopper(searcher=searcher, let_running_finish=True, seed=args.seed)
    reporter = tune.CLIReporter(
        metric_columns={"holdout_mean": "val. log loss", "epoch": "epoch",
                        "autoterm/regret_bound": "regret bound",
                        "autoterm/statistical_error": "stat. error"},
        parameter_columns=list(SPACE)[:4], max_report_frequency=15,
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1, "gpu": args.gpus_per_trial}),
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=args.num_samples,
                                    scheduler=scheduler,
                                    max_concurrent_trials=args.max_concurrent,
                                    reuse_actors=True),
        run_config=tune.RunConfig(stop=stopper, callbacks=[stopper.callback()],
                                  storage_path=args.storage_path, name=args.name,
                                  progress_reporter=reporter, verbose=1),
    )
    start = time.time()
    grid = tuner.fit()
    exp_dir = stopper.log_dir or getattr(grid, "experiment_path", "") or ""
    print()
    print("=" * 78)
    _common.print_outcome(stopper, exp_dir, args.num_samples, time.time() - start)
    print("=" * 78)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
