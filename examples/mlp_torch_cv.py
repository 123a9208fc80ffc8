"""Tune a PyTorch MLP by 5-fold CV until going on no longer pays off (ray-autoterm).

Data: scikit-learn's breast-cancer set (569 tumours, 30 features, 2 classes), all of it used for
5-fold stratified cross-validation; features are standardised on each fold's training part.
Loss: the log loss (cross-entropy) of the network's class probabilities on each validation
fold, after a fixed 20 epochs of AdamW; the five fold losses are reported with report_cv_scores,
and their spread gives the statistical error of Eq. 9. Search space: learning rate and weight
decay (log scale), width (log-scaled integer) and depth of the hidden layers, dropout, and the
batch size (a categorical). Each trial trains on CUDA when --gpus-per-trial > 0 and a GPU is
visible to it, on one CPU thread otherwise. A few minutes on 2 cores.

    python examples/mlp_torch_cv.py [--num-samples 100] [--max-concurrent 2] [--gpus-per-trial 0.5]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common  # noqa: E402  (sets the Ray environment variables before Ray is imported)
from ray import tune  # noqa: E402

SPACE = {
    "lr": tune.loguniform(1e-4, 3e-2),
    # AdamW's decay is decoupled and scaled by the learning rate (each step shrinks the weights
    # by lr * weight_decay, at most 0.3 here), so useful values go well above 1 on small data:
    # runs with the upper end at 0.1 and then 1.0 put their best config on that edge.
    "weight_decay": tune.loguniform(1e-4, 10.0),
    "width": tune.lograndint(8, 257),  # 8..256
    "depth": tune.randint(1, 4),  # 1..3 hidden layers
    "dropout": tune.uniform(0.0, 0.5),
    "batch_size": tune.choice([32, 64, 128]),
}


def trainable(config: dict) -> None:
    """5-fold CV log loss of an MLP trained for ``epochs`` epochs, one fold after another."""
    import torch
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    from torch import nn

    from ray_autoterm import report_cv_scores

    use_cuda = config["use_gpu"] and torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    if not use_cuda:
        torch.set_num_threads(1)
    X, y = load_breast_cancer(return_X_y=True)
    n_classes = int(y.max()) + 1
    splitter = StratifiedKFold(n_splits=5, shuffle=True, random_state=config["seed"])
    losses = []
    for fold, (tr, va) in enumerate(splitter.split(X, y)):
        torch.manual_seed(config["seed"] * 100 + fold)
        scaler = StandardScaler().fit(X[tr])
        Xtr = torch.tensor(scaler.transform(X[tr]), dtype=torch.float32, device=device)
        Xva = torch.tensor(scaler.transform(X[va]), dtype=torch.float32, device=device)
        ytr = torch.tensor(y[tr], device=device)
        yva = torch.tensor(y[va], device=device)
        layers: list[nn.Module] = []
        width_in = X.shape[1]
        for _ in range(config["depth"]):
            layers += [nn.Linear(width_in, config["width"]), nn.ReLU(),
                       nn.Dropout(config["dropout"])]
            width_in = config["width"]
        model = nn.Sequential(*layers, nn.Linear(width_in, n_classes)).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=config["lr"],
                                weight_decay=config["weight_decay"])
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(config["epochs"]):
            model.train()
            perm = torch.randperm(len(Xtr), device=device)
            for start in range(0, len(Xtr), config["batch_size"]):
                idx = perm[start:start + config["batch_size"]]
                opt.zero_grad()
                loss_fn(model(Xtr[idx]), ytr[idx]).backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            losses.append(float(loss_fn(model(Xva), yva)))
    report_cv_scores(losses, device=str(device), mode="min")


def main(argv: list[str] | None = None) -> int:
    args = _common.parse_args(__doc__, argv, num_samples=100, name="mlp-torch-cv")
    return _common.run_search(
        trainable, SPACE, args, loss_name="log loss",
        constants={"epochs": 20, "seed": args.seed, "use_gpu": args.gpus_per_trial > 0},
    )


if __name__ == "__main__":
    raise SystemExit(main())
