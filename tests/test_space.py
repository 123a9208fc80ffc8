"""Search spaces: Tune ``param_space`` ⇄ the GP's encoded space."""

from __future__ import annotations

import numpy as np
import pytest
from ray import tune

from ray_autoterm.errors import SearchSpaceError
from ray_autoterm.space import CategoricalParam, NumericParam, SearchSpace

DOMAINS = {
    "uniform": tune.uniform(-2.0, 3.0),
    "quniform": tune.quniform(0.0, 1.0, 0.1),
    "loguniform": tune.loguniform(1e-4, 1.0),
    "qloguniform": tune.qloguniform(1e-3, 1.0, 1e-3),
    "randint": tune.randint(2, 9),
    "qrandint": tune.qrandint(0, 100, 5),
    "lograndint": tune.lograndint(1, 1000),
    "qlograndint": tune.qlograndint(2, 512, 2),
    "choice": tune.choice(["gbtree", "dart", "linear"]),
    "numeric_choice": tune.choice([1, 2, 4, 8]),
}


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_every_supported_domain_round_trips(name: str) -> None:
    domain = DOMAINS[name]
    space = SearchSpace.from_param_space({"model": {name: domain}, "seed": 7})
    assert len(space.params) == 1 and space.params[0].path == ("model", name)
    rng = np.random.RandomState(0)
    for value in domain.sample(size=25, random_state=rng):
        x = space.encode({"model": {name: value}, "seed": 7})
        assert x.shape == (space.dim,) and np.all((x >= 0.0) & (x <= 1.0))
        config = space.decode(x)
        assert config["seed"] == 7
        back = config["model"][name]
        if isinstance(value, str):
            assert back == value
        elif isinstance(value, (int, np.integer)):
            assert back == value and isinstance(back, int)
        else:
            assert back == pytest.approx(value, rel=1e-9, abs=1e-12)


def test_log_domains_are_modelled_on_log_scale() -> None:
    space = SearchSpace.from_param_space(
        {"lr": tune.loguniform(1e-4, 1.0), "n": tune.lograndint(1, 10001)}
    )
    x = space.encode({"lr": 1e-2, "n": 100})
    np.testing.assert_allclose(x, [0.5, 0.5])
    assert space.decode([0.5, 0.5]) == {"lr": pytest.approx(1e-2), "n": 100}


def test_randint_upper_bound_is_exclusive_and_quantised_inclusive() -> None:
    space = SearchSpace.from_param_space(
        {"r": tune.randint(2, 9), "q": tune.qrandint(0, 10, 5), "u": tune.uniform(0, 1)}
    )
    r, q, _ = space.params
    assert isinstance(r, NumericParam) and (r.low, r.high, r.integer) == (2, 8, True)
    assert isinstance(q, NumericParam) and (q.low, q.high, q.q) == (0, 10, 5)
    assert space.decode([1.0, 1.0, 1.0]) == {"r": 8, "q": 10, "u": 1.0}
    assert space.decode([0.0, 0.4, 0.0]) == {"r": 2, "q": 5, "u": 0.0}


def test_categoricals_encode_as_one_hot_blocks() -> None:
    space = SearchSpace.from_param_space(
        {"x": tune.uniform(0, 1), "k": tune.choice([1, 2, 4]), "b": tune.choice(["a", "b"])}
    )
    assert space.dim == 6 and space.onehot_groups == [[1, 2, 3], [4, 5]]
    assert space.names == ["x", "k=1", "k=2", "k=4", "b='a'", "b='b'"]
    np.testing.assert_array_equal(space.bounds, [[0] * 6, [1] * 6])
    assert space.encode({"x": 0.25, "k": 4, "b": "b"}).tolist() == [0.25, 0, 0, 1, 0, 1]
    assert space.encode({"x": 0.25, "k": 4.0, "b": "a"}).tolist() == [0.25, 0, 0, 1, 1, 0]
    # A relaxed block decodes to its largest column.
    assert space.decode([0.25, 0.2, 0.7, 0.1, 0.6, 0.4]) == {"x": 0.25, "k": 2, "b": "a"}
    with pytest.raises(SearchSpaceError, match="`k` got the value 3"):
        space.encode({"x": 0.25, "k": 3, "b": "a"})
    with pytest.raises(SearchSpaceError, match="no value for parameter `b`"):
        space.encode({"x": 0.25, "k": 1})
    with pytest.raises(SearchSpaceError, match="`x` must be numeric"):
        space.encode({"x": "high", "k": 1, "b": "a"})


@pytest.mark.parametrize(
    "domain, kind",
    [
        (tune.grid_search([1, 2]), "grid_search"),
        (tune.sample_from(lambda spec: 1), "sample_from|Function"),
        (lambda spec: 1, "function"),
        (tune.randn(0.0, 1.0), "Normal"),
        (tune.qrandn(0.0, 1.0, 0.1), "Normal"),
    ],
)
def test_unsupported_domains_raise_naming_the_path(domain: object, kind: str) -> None:
    with pytest.raises(SearchSpaceError, match=r"`model/layers`") as info:
        SearchSpace.from_param_space({"lr": tune.uniform(0, 1), "model": {"layers": domain}})
    assert isinstance(info.value, ValueError)


def test_from_configs_infers_bounds_scale_and_types() -> None:
    configs = [
        {"lr": 1e-4, "depth": 3, "frac": 0.2, "opt": "adam", "seed": 0, "m": {"w": 1.0}},
        {"lr": 1e-1, "depth": 9, "frac": 0.9, "opt": "sgd", "seed": 0, "m": {"w": 2.0}},
        {"lr": 1e-2, "depth": 5, "frac": 0.5, "opt": "adam", "seed": 0, "m": {"w": 1.5}},
    ]
    space = SearchSpace.from_configs(configs)
    by_name = {"/".join(p.path): p for p in space.params}
    assert by_name["lr"].log and not by_name["frac"].log and not by_name["m/w"].log
    assert by_name["depth"].integer and (by_name["depth"].low, by_name["depth"].high) == (3, 9)
    assert (isinstance(by_name["opt"], CategoricalParam)
            and by_name["opt"].choices == ("adam", "sgd"))
    assert space.constants == {("seed",): 0}
    for config in configs:
        back = space.decode(space.encode(config))
        assert back["opt"] == config["opt"] and back["depth"] == config["depth"]
        assert (back["lr"] == pytest.approx(config["lr"])
                and back["m"]["w"] == pytest.approx(config["m"]["w"]))
    with pytest.raises(SearchSpaceError, match="zero configurations"):
        SearchSpace.from_configs([])


def test_invalid_parameters_and_sobol() -> None:
    with pytest.raises(SearchSpaceError, match="`a/lr` is log-scaled.*got 0"):
        NumericParam(("a", "lr"), 0.0, 1.0, log=True)
    with pytest.raises(SearchSpaceError, match="`x` needs finite bounds"):
        NumericParam(("x",), 1.0, 0.0)
    with pytest.raises(SearchSpaceError, match="Duplicate"):
        SearchSpace([NumericParam(("x",), 0, 1), NumericParam(("x",), 0, 2)])
    space = SearchSpace([NumericParam(("x",), 0, 1), CategoricalParam(("c",), ("a", "b", "c"))])
    pts = space.sobol(64, seed=3)
    assert pts.shape == (64, 4)
    np.testing.assert_array_equal(pts[:, 1:].sum(1), np.ones(64))  # valid one-hot blocks
    assert set(np.unique(pts[:, 1:])) == {0.0, 1.0} and pts[:, 1:].min(0).tolist() == [0, 0, 0]
    np.testing.assert_array_equal(pts, space.sobol(64, seed=3))
