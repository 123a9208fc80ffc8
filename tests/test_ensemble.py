"""The kernel option of the GP and the kernel ensemble of the regret bound: real BoTorch fits."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from ray_autoterm.criterion import AutoTermCriterion, KernelEnsembleRegretBoundEvaluator, preset
from ray_autoterm.criterion.ensemble import bma_weights, combine_bounds, log_evidence
from ray_autoterm.criterion.improvement import Observations
from ray_autoterm.errors import InvalidArgumentError
from ray_autoterm.gp import KERNELS, GPFitter, fit_gp
from ray_autoterm.history import History, TrialRecord
from ray_autoterm.space import NumericParam, SearchSpace


def _data(n: int = 24, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    return X, np.sin(6 * X[:, 0]) + (X[:, 1] - 0.4) ** 2 + 0.02 * rng.standard_normal(n)


def _observations(n: int = 30, seed: int = 0) -> Observations:
    X, y = _data(n, seed)
    space = SearchSpace([NumericParam(("a",), 0.0, 1.0), NumericParam(("b",), 0.0, 1.0)])
    recs = [TrialRecord(str(i), {"a": float(x[0]), "b": float(x[1])}, [v - 0.01, v + 0.01])
            for i, (x, v) in enumerate(zip(X, y, strict=True))]
    return Observations(recs, X, y, space)


def test_combine_bounds_by_hand() -> None:
    # w ∝ exp(L): exp(0), exp(log 3), exp(-inf-ish) -> 1/4, 3/4, ~0.
    value, w = combine_bounds([0.2, 0.1, 5.0], [0.0, math.log(3.0), -800.0], "bma")
    assert w.tolist() == pytest.approx([0.25, 0.75, 0.0], abs=1e-12)
    assert value == pytest.approx(0.25 * 0.2 + 0.75 * 0.1)
    value, w = combine_bounds([0.2, 0.3, 0.1], how="max")
    assert value == 0.3 and w.tolist() == [0.0, 1.0, 0.0]
    # Large evidences do not overflow; equal ones weigh equally.
    assert bma_weights([1000.0, 1000.0]).tolist() == [0.5, 0.5]


def test_three_kernels_fit_and_differ() -> None:
    X, y = _data()
    models = {k: fit_gp(X, y, kernel=k) for k in KERNELS}
    assert type(models["rbf"].covar_module).__name__ == "RBFKernel"
    assert models["matern32"].covar_module.nu == 1.5 and models["matern52"].covar_module.nu == 2.5
    Xt = torch.from_numpy(np.random.default_rng(9).random((50, 2)))
    with torch.no_grad():
        sd = {k: m.posterior(Xt).variance.sqrt().reshape(-1) for k, m in models.items()}
    assert not torch.allclose(sd["matern52"], sd["matern32"], rtol=1e-3)
    assert not torch.allclose(sd["matern52"], sd["rbf"], rtol=1e-3)
    evidences = [log_evidence(models[k]) for k in KERNELS]
    assert all(math.isfinite(v) for v in evidences) and len(set(evidences)) == 3


def test_default_kernel_is_the_old_gp_and_cache_key() -> None:
    X, y = _data()
    plain, named = fit_gp(X, y), fit_gp(X, y, kernel="matern52")
    for a, b in zip(plain.state_dict().values(), named.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    fitter = GPFitter()
    m1 = fitter.fit(X, y, role="bound")
    assert fitter.fit(X, y, role="bound", kernel="matern52") is m1  # one key, one fit
    assert fitter.num_fits == 1 and list(fitter._warm) == [("bound", 2, False, False)]
    m2 = fitter.fit(X, y, role="bound", kernel="rbf")
    assert m2 is not m1 and fitter.num_fits == 2
    assert ("bound", 2, False, False, "rbf") in fitter._warm


@pytest.mark.parametrize("combine", ["max", "bma"])
def test_combined_bound_and_members(combine: str) -> None:
    obs = _observations()
    ev = KernelEnsembleRegretBoundEvaluator(combine=combine, exact=True)
    imp = ev.evaluate(obs, math.inf)
    bounds = [m["bound"] for m in ev.members]
    weights = [m["weight"] for m in ev.members]
    assert [m["kernel"] for m in ev.members] == list(KERNELS)
    assert imp.exact and all(m["exact"] for m in ev.members)
    assert sum(weights) == pytest.approx(1.0)
    if combine == "max":
        assert imp.value == max(bounds) and all(imp.value >= b for b in bounds)
    else:
        expect = bma_weights([m["log_evidence"] for m in ev.members])
        assert weights == pytest.approx(expect.tolist())
        order = np.argsort([m["log_evidence"] for m in ev.members])
        assert np.all(np.diff(np.array(weights)[order]) >= 0)  # more evidence, more weight
        assert imp.value == pytest.approx(float(np.dot(weights, bounds)))
    assert imp.fields["min_ucb"] - imp.fields["min_lcb"] == pytest.approx(imp.value)
    # The Matérn-5/2 member is the paper's GP and bound.
    paper = preset("paper", exact_bound=True).improvement_evaluator.evaluate(obs, math.inf)
    assert bounds[0] == pytest.approx(paper.value, rel=1e-6)


def test_screened_bound_never_exceeds_the_exact_one() -> None:
    obs = _observations()
    screened = KernelEnsembleRegretBoundEvaluator().evaluate(obs, -math.inf)
    exact = KernelEnsembleRegretBoundEvaluator(exact=True).evaluate(obs, -math.inf)
    assert not screened.exact and screened.value <= exact.value + 1e-9


def _history(n: int = 30, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    history = History()
    for i in range(n):
        a, b = float(rng.random()), float(rng.random())
        folds = list((a - 0.3) ** 2 + 0.5 * b + 0.05 * rng.standard_normal(5))
        history.add(str(i), {"a": a, "b": b}, folds)
    return history


@pytest.mark.parametrize("rule", ["kernel-ensemble", "kernel-bma"])
def test_criterion_decides_with_each_rule(rule: str) -> None:
    crit = AutoTermCriterion(rule=rule, min_trials=20)
    d = crit.evaluate(_history())
    assert d.fit_ok and d.rule == rule and d.num_trials == 30
    assert d.regret_bound is not None and math.isfinite(d.regret_bound) and d.regret_bound >= 0
    assert d.should_stop == (d.regret_bound < d.statistical_error)
    assert all(k in d.reason for k in KERNELS)
    assert ("BMA" in d.reason) == (rule == "kernel-bma")


def test_evaluator_pickles_without_torch_caches() -> None:
    crit = AutoTermCriterion(rule="kernel-bma")
    history = _history()
    first = crit.evaluate(history)
    back = pickle.loads(pickle.dumps(crit))
    ev = back.improvement_evaluator
    assert ev._last_bounds == {} and ev._last_bound is None
    assert ev.combine == "bma" and ev.kernels == KERNELS and len(ev.members) == 3
    again = back.evaluate(history)  # refits (the cache was dropped) to the same bound
    assert again.regret_bound == pytest.approx(first.regret_bound, rel=1e-6)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: fit_gp(*_data(), kernel="matern12"), "kernel"),
    (lambda: GPFitter().fit(*_data(), kernel="Matern52"), "kernel"),
    (lambda: KernelEnsembleRegretBoundEvaluator(kernels=("rbf", "rbf")), "kernels"),
    (lambda: KernelEnsembleRegretBoundEvaluator(kernels="rbf"), "kernels"),
    (lambda: KernelEnsembleRegretBoundEvaluator(kernels=("linear",)), "kernel"),
    (lambda: KernelEnsembleRegretBoundEvaluator(combine="mean"), "combine"),
    (lambda: combine_bounds([0.1, 0.2], [0.0], "bma"), "log_evidences"),
    (lambda: preset("kernel-ensemble", calibrate=True), "calibrate"),
])
def test_bad_values_are_refused_by_name(call, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        call()


def test_module_examples_run() -> None:
    import doctest

    from ray_autoterm.criterion import ensemble

    result = doctest.testmod(ensemble, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 5 and result.failed == 0


@pytest.mark.parametrize("rule", ["kernel-ensemble", "kernel-bma"])
def test_the_stopper_decides_with_an_ensemble_rule(rule: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """AutoTermStopper(rule=...) takes the ensemble rules (real GP fits, no Tune): its
    decisions name every kernel's bound, and the decision log keeps them."""
    from ray_autoterm import AutoTermStopper
    from ray_autoterm.report import load_decisions
    from tune_objectives import feed_quadratic

    stopper = AutoTermStopper(rule=rule, mode="min", background=False, seed=0,
                              log_dir=str(tmp_path), min_trials=10)
    feed_quadratic(stopper, 24)
    last = stopper.decisions[-1]
    assert last.rule == rule and last.regret_bound is not None and last.regret_bound >= 0
    assert all(k in last.reason for k in KERNELS), last.reason
    logged = load_decisions(str(tmp_path))
    assert logged[-1].reason == last.reason
