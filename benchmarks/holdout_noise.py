"""Does training randomness matter beside a holdout set's standard error? (docs/holdout.md)

One validation split's error ``sd / sqrt(n)`` (what ``report_holdout`` reports) is the noise of
the validation mean *given the trained model*. k-fold CV's fold spread also holds the noise of
training itself: another seed (initialisation, data order, bootstrap), another training set.
This script measures both on a generator with a fixed 2,000-example validation set:

* ``se``: the mean over seeds of ``sd / sqrt(n)`` of the per-example log losses;
* ``tau_seed``: the standard deviation over ``--seeds`` retrainings of the validation mean log
  loss, same training set, another seed (initialisation, data order, bootstrap);
* ``tau_data``: the same with the training set also redrawn (5,000 of a 10,000-row pool) per
  seed;

for a few configurations of a scikit-learn MLP and a random forest, and reports
``tau / se`` (above about 1 the training noise matters: the stop's error would be
``sqrt(se² + τ²)``, see ``AutoTermStopper(training_noise=...)``).

    python benchmarks/holdout_noise.py [--seeds 5] [--out benchmarks/results/holdout_noise.md]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench  # noqa: E402  (sets the environment, puts the repository on sys.path)

_bench.single_threaded()

import numpy as np  # noqa: E402

N_VAL, N_TRAIN, N_POOL = 2000, 5000, 10000

CONFIGS = [
    ("mlp", {"hidden_layer_sizes": (16,), "alpha": 1e-2, "learning_rate_init": 1e-3}),
    ("mlp", {"hidden_layer_sizes": (64,), "alpha": 1e-4, "learning_rate_init": 1e-3}),
    ("mlp", {"hidden_layer_sizes": (64, 64), "alpha": 1e-3, "learning_rate_init": 3e-3}),
    ("mlp", {"hidden_layer_sizes": (128,), "alpha": 1.0, "learning_rate_init": 1e-2}),
    ("rf", {"max_features": 0.3, "min_samples_leaf": 1}),
    ("rf", {"max_features": 0.7, "min_samples_leaf": 10}),
]


def data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    return make_classification(n_samples=N_POOL + N_VAL, n_features=20, n_informative=8,
                               n_redundant=4, flip_y=0.05, class_sep=0.8, random_state=0)


def fit_predict(kind: str, params: dict, seed: int, Xtr, ytr, Xva) -> np.ndarray:
    """Class-1 probabilities of the validation rows."""
    import warnings

    from sklearn.ensemble import RandomForestClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "mlp":
        model = make_pipeline(StandardScaler(), MLPClassifier(
            max_iter=60, batch_size=128, random_state=seed, **params))
    else:
        model = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Xtr, ytr)
    return model.predict_proba(Xva)[:, 1]


def per_example_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"
                                             / "holdout_noise.md"))
    args = parser.parse_args(argv)
    X, y = data()
    Xva, yva = X[N_POOL:], y[N_POOL:]
    rows = []
    start = time.time()
    for kind, params in CONFIGS:
        means = {"seed": [], "data": []}
        ses = []
        for seed in range(args.seeds):
            for what in ("seed", "data"):
                if what == "seed":
                    idx = np.arange(N_TRAIN)
                else:
                    idx = np.random.default_rng(1000 + seed).choice(N_POOL, N_TRAIN,
                                                                    replace=False)
                losses = per_example_log_loss(
                    yva, fit_predict(kind, params, seed, X[idx], y[idx], Xva))
                means[what].append(float(losses.mean()))
                if what == "seed":
                    ses.append(float(losses.std(ddof=1) / math.sqrt(N_VAL)))
        se = float(np.mean(ses))
        tau_seed = float(np.std(means["seed"], ddof=1))
        tau_data = float(np.std(means["data"], ddof=1))
        rows.append((kind, params, float(np.mean(means["seed"])), se, tau_seed, tau_data))
        print(f"{kind} {params}: mean {rows[-1][2]:.4f} se {se:.4f} tau_seed {tau_seed:.4f} "
              f"tau_data {tau_data:.4f} ({time.time() - start:.0f} s)", flush=True)
    lines = [
        f"# Training randomness beside the holdout SE ({args.seeds} seeds, "
        f"{N_VAL} validation examples, {N_TRAIN} training rows)",
        "",
        "Command: `python benchmarks/holdout_noise.py --seeds "
        f"{args.seeds}`. Data: `make_classification(n_samples={N_POOL + N_VAL}, n_features=20, "
        "n_informative=8, n_redundant=4, flip_y=0.05, class_sep=0.8, random_state=0)`; the "
        f"last {N_VAL} rows are the validation set. Loss: log loss. `se`: mean over seeds of "
        "sd/sqrt(n); `tau_seed`: sd over seeds of the validation mean (same training rows); "
        f"`tau_data`: the same with {N_TRAIN} training rows redrawn from {N_POOL} per seed.",
        "",
        "| model | config | val. log loss | se | tau_seed | tau_seed/se | tau_data | "
        "tau_data/se | sqrt(se²+tau_data²)/se |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, params, mean, se, ts, td in rows:
        cfg = ", ".join(f"{k}={v}" for k, v in params.items())
        lines.append(f"| {kind} | {cfg} | {mean:.4f} | {se:.4f} | {ts:.4f} | {ts / se:.2f} | "
                     f"{td:.4f} | {td / se:.2f} | {math.hypot(se, td) / se:.2f} |")
    lines += ["", f"Wall time: {time.time() - start:.0f} s."]
    _bench.write_report("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
