"""The GP surrogate: fits, warm starts, the shared cache and pickling."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
import torch
from botorch.models import SingleTaskGP
from gpytorch.mlls import ExactMarginalLogLikelihood

from ray_autoterm.errors import GPFitError
from ray_autoterm.gp import GPFitter, fit_gp, hyperparameters


def _data(n: int = 15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    return X, ((X - [0.3, 0.7]) ** 2).sum(1) + 0.01 * rng.standard_normal(n)


def _mll(model) -> float:
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with torch.no_grad():
        value = float(mll(model(*model.train_inputs), model.train_targets))
    model.eval()
    return value


def test_posterior_is_in_the_metric_units() -> None:
    X, y = _data()
    model = fit_gp(X, 1000.0 * y + 5.0)
    assert isinstance(model, SingleTaskGP) and not model.training
    mean = model.posterior(torch.as_tensor(X)).mean.detach().numpy().ravel()
    np.testing.assert_allclose(mean, 1000.0 * y + 5.0, atol=30.0)  # within a few noise std


def test_one_hot_categoricals_get_one_lengthscale_per_column() -> None:
    X, y = _data(12)
    onehot = np.eye(3)[np.arange(12) % 3]
    model = fit_gp(np.hstack([X[:, :1], onehot]), y)
    assert isinstance(model, SingleTaskGP) and model.covar_module.lengthscale.shape == (1, 4)


@pytest.mark.parametrize(
    "X, y",
    [
        (np.zeros((1, 2)), np.zeros(1)),
        (np.zeros((3, 2)), np.zeros(2)),
        (np.random.default_rng(0).random((4, 2)), np.array([0.1, np.nan, 0.2, 0.3])),
        (np.random.default_rng(0).random((4, 2)), np.array([0.1, np.inf, 0.2, 0.3])),
    ],
)
def test_unusable_data_raise_gp_fit_error(X: np.ndarray, y: np.ndarray) -> None:
    with pytest.raises(GPFitError):
        fit_gp(X, y)


def test_warm_start_keeps_or_improves_the_fit() -> None:
    X, y = _data()
    cold = fit_gp(X, y)
    hp = hyperparameters(cold)
    again = fit_gp(X, y, warm_start=hp)  # already at the optimum: stays there
    for key, value in hyperparameters(again).items():
        torch.testing.assert_close(value, hp[key], rtol=1e-4, atol=1e-6)
    X2, y2 = np.vstack([X, [[0.31, 0.69]]]), np.append(y, 0.0)
    warm, cold2 = fit_gp(X2, y2, warm_start=hp), fit_gp(X2, y2)
    # Warm fits stop at a looser tolerance (WARM_FIT_OPTIONS): close to, not exactly at, the
    # cold optimum (the MLL here is per observation).
    assert _mll(warm) >= _mll(cold2) - 5e-3


def test_fitter_shares_one_fit_for_the_same_data() -> None:
    X, y = _data()
    fitter = GPFitter()
    m1 = fitter.fit(X, y, role="bound")
    perm = np.random.default_rng(1).permutation(len(y))
    m2 = fitter.fit(X[perm], y[perm], role="search")  # same data, other order
    assert m1 is m2 and fitter.num_fits == 1 and fitter.fits_by_role == {"bound": 1}
    m3 = fitter.fit(X[:-1], y[:-1], role="search")
    assert m3 is not m1 and fitter.num_fits == 2
    assert fitter.fits_by_role == {"bound": 1, "search": 1}


def test_fitter_concurrent_requests_share_one_fit() -> None:
    X, y = _data(12, seed=3)
    fitter = GPFitter()
    models: list[object] = []
    threads = [threading.Thread(target=lambda: models.append(fitter.fit(X, y))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fitter.num_fits == 1 and len(models) == 3 and all(m is models[0] for m in models)


def test_fitter_cache_is_bounded_and_refits_after_eviction() -> None:
    X, y = _data()
    fitter = GPFitter(cache_size=1)
    fitter.fit(X, y)
    fitter.fit(X[:-1], y[:-1])
    fitter.fit(X, y)  # evicted: fitted again (warm-started)
    assert fitter.num_fits == 3


def test_fitter_pickle_drops_cache_keeps_counts() -> None:
    X, y = _data()
    fitter = GPFitter(cache_size=3)
    fitter.fit(X, y, role="bound")
    clone = pickle.loads(pickle.dumps(fitter))
    assert (clone.num_fits, clone.fits_by_role, clone.cache_size) == (1, {"bound": 1}, 3)
    assert clone._cache == {} and clone._warm == {}
    clone.fit(X, y, role="bound")  # the cache did not survive: a real fit
    assert clone.num_fits == 2 and fitter.num_fits == 1


def test_fitter_refits_hyperparameters_only_after_enough_new_data() -> None:
    """Between refits the GP keeps its hyperparameters and is conditioned on the new data."""
    X, y = _data(40, seed=4)
    fitter = GPFitter(refit_growth=0.1)
    first = fitter.fit(X[:20], y[:20])  # cold: a refit
    hp = hyperparameters(first)
    second = fitter.fit(X[:21], y[:21])  # 1 new data set < 0.1 * 21: conditioned only
    assert (fitter.num_fits, fitter.num_refits) == (2, 1)
    for key, value in hyperparameters(second).items():
        torch.testing.assert_close(value, hp[key])
    # ... but it is a GP on the new data: it interpolates the added point's neighbourhood.
    assert second.train_inputs[0].shape[0] == 21
    fitter.fit(X[:22], y[:22])  # 2 new data sets < 0.1 * 22: conditioned
    fitter.fit(X[:23], y[:23])  # 3 >= 0.1 * 23: refit
    assert (fitter.num_fits, fitter.num_refits) == (4, 2)
    every = GPFitter(refit_growth=0)
    for n in (20, 21, 22):
        every.fit(X[:n], y[:n])
    assert every.num_refits == 3


def test_conditioned_gp_stays_close_to_a_full_refit() -> None:
    X, y = _data(30, seed=5)
    fitter = GPFitter(refit_growth=0.5)
    fitter.fit(X[:28], y[:28])
    conditioned = fitter.fit(X, y)
    assert fitter.num_refits == 1
    full = fit_gp(X, y)
    grid = torch.rand(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = conditioned.posterior(grid).mean, full.posterior(grid).mean
    assert float((a - b).abs().max()) < 0.05 * float(y.std())


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"refit_growth": -0.1}, r"`refit_growth`.*got -0.1"),
    ({"cache_size": 0}, r"`cache_size`.*got 0"),
])
def test_fitter_rejects_bad_arguments(kwargs, match) -> None:
    from ray_autoterm.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=match):
        GPFitter(**kwargs)
