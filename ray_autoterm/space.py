"""Search spaces: a Ray Tune ``param_space`` ⇄ the GP's input space.

The GP sees one input dimension per tuned parameter:

* numeric parameters (``uniform``, ``quniform``, ``loguniform``, ``qloguniform``, ``randint``,
  ``qrandint``, ``lograndint``, ``qlograndint``) are mapped to ``[0, 1]``, on the log scale where
  the domain is log-scaled. This is the GP's input normalisation: the bounds are known exactly, so
  no data-dependent ``Normalize`` transform is needed. Integers and quantised values are relaxed to
  the continuum for the model and rounded back on :meth:`SearchSpace.decode`.
* categorical parameters (``choice``, numeric choices included) become a one-hot block, one
  column per category, each in ``[0, 1]``. The GP (Matérn ARD) then learns one lengthscale per
  category column, and the optimisers (:mod:`ray_autoterm.optim`) enumerate the category
  combinations exactly while they are few, or relax the block to ``[0, 1]`` and round on decode.
  An ordinal index would impose an order the categories do not have; BoTorch's
  ``MixedSingleTaskGP`` models categories properly too but fitted 5-8 times slower here (its sum
  and product kernels carry three output scales), which matters at every completed trial.
* constants take no dimension; they are put back on decode.

Nested dicts are flattened to paths; :meth:`SearchSpace.decode` rebuilds the nesting.

This module does not import Ray at module level; :meth:`SearchSpace.from_param_space` imports
``ray.tune.search.sample`` only to recognise Tune's domain classes.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ray_autoterm.errors import SearchSpaceError

Path = tuple[str, ...]


def _path_name(path: Path) -> str:
    return "/".join(path)


@dataclasses.dataclass(frozen=True)
class NumericParam:
    """A float or integer parameter in ``[low, high]`` (both inclusive), optionally log-scaled.

    ``high`` is the largest allowed value: Tune's exclusive ``randint`` upper bound is converted
    by :meth:`SearchSpace.from_param_space`.
    """

    path: Path
    low: float
    high: float
    log: bool = False
    integer: bool = False
    q: float | None = None

    def __post_init__(self) -> None:
        name = _path_name(self.path)
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.high < self.low:
            raise SearchSpaceError(
                f"Parameter `{name}` needs finite bounds with low <= high; "
                f"got low={self.low!r}, high={self.high!r} instead."
            )
        if self.log and self.low <= 0:
            raise SearchSpaceError(
                f"Parameter `{name}` is log-scaled, so its lower bound must be > 0; "
                f"got {self.low!r} instead."
            )

    def _t(self, v: np.ndarray | float) -> np.ndarray | float:
        return np.log(v) if self.log else v

    def to_unit(self, value: float) -> float:
        lo, hi = self._t(self.low), self._t(self.high)
        if hi == lo:
            return 0.5
        v = float(np.clip(value, self.low, self.high))
        return float((self._t(v) - lo) / (hi - lo))

    def from_unit(self, u: float) -> float | int:
        lo, hi = self._t(self.low), self._t(self.high)
        t = lo + float(np.clip(u, 0.0, 1.0)) * (hi - lo)
        v = float(np.exp(t)) if self.log else float(t)
        if self.q is not None:
            v = round(v / self.q) * self.q
            # Keep quantised values inside the bounds (Tune's own quantisation does the same).
            while v > self.high + 1e-12:
                v -= self.q
            while v < self.low - 1e-12:
                v += self.q
        v = float(np.clip(v, self.low, self.high))
        if self.integer:
            return int(round(v))
        return v


@dataclasses.dataclass(frozen=True)
class CategoricalParam:
    """A categorical parameter; the GP sees a one-hot block, one column per choice."""

    path: Path
    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.choices) == 0:
            raise SearchSpaceError(f"Parameter `{_path_name(self.path)}` has no choices.")

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            if c is value or (type(c) is type(value) and c == value) or _num_eq(c, value):
                return i
        raise SearchSpaceError(
            f"Parameter `{_path_name(self.path)}` got the value {value!r}, which is not one of "
            f"its choices {list(self.choices)!r}."
        )


def _num_eq(a: Any, b: Any) -> bool:
    numeric = (int, float, np.integer, np.floating)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return isinstance(a, numeric) and isinstance(b, numeric) and float(a) == float(b)


Param = NumericParam | CategoricalParam


class SearchSpace:
    """The GP's input space for a (possibly nested) Tune search space.

    Args:
        params: The tuned parameters, one GP input dimension each, in this order.
        constants: Fixed values by path, restored by :meth:`decode`.

    Example:
        >>> from ray import tune
        >>> space = SearchSpace.from_param_space(
        ...     {"lr": tune.loguniform(1e-4, 1e-1), "model": {"depth": tune.randint(2, 9)},
        ...      "booster": tune.choice(["gbtree", "dart"]), "seed": 0})
        >>> space.dim, space.onehot_groups
        (4, [[2, 3]])
        >>> x = space.encode({"lr": 1e-2, "model": {"depth": 5}, "booster": "dart", "seed": 0})
        >>> space.decode(x)["model"]["depth"], space.decode(x)["booster"]
        (5, 'dart')
    """

    def __init__(self, params: Sequence[Param], constants: Mapping[Path, Any] | None = None):
        self.params: list[Param] = list(params)
        self.constants: dict[Path, Any] = dict(constants or {})
        paths = [p.path for p in self.params]
        if len(set(paths)) != len(paths):
            raise SearchSpaceError(f"Duplicate parameter paths in {paths!r}.")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_param_space(cls, param_space: Mapping[str, Any]) -> SearchSpace:
        """Build the space from a Ray Tune ``param_space`` (nested dicts allowed).

        Raises:
            SearchSpaceError: for a domain the GP cannot model (``grid_search``, ``sample_from``,
                a function, ``randn``), naming the parameter path and the domain's type.
        """
        from ray.tune.search import sample as tune_sample

        if not isinstance(param_space, Mapping):
            raise SearchSpaceError(
                f"The `param_space` argument must be a dict of Tune domains; got "
                f"{type(param_space).__name__} instead."
            )
        params: list[Param] = []
        constants: dict[Path, Any] = {}

        def visit(node: Mapping[str, Any], prefix: Path) -> None:
            for key, value in node.items():
                path = (*prefix, str(key))
                name = _path_name(path)
                if isinstance(value, Mapping) and "grid_search" in value:
                    raise SearchSpaceError(
                        f"Parameter `{name}` is a grid_search, which a GP searcher cannot model; "
                        "use tune.choice(...) instead."
                    )
                if isinstance(value, Mapping):
                    visit(value, path)
                elif isinstance(value, tune_sample.Categorical):
                    params.append(CategoricalParam(path, tuple(value.categories)))
                elif isinstance(value, (tune_sample.Float, tune_sample.Integer)):
                    params.append(_numeric_from_tune(path, value, tune_sample))
                elif isinstance(value, tune_sample.Domain) or callable(value):
                    raise SearchSpaceError(
                        f"Parameter `{name}` has the domain type {type(value).__name__}, which "
                        "ray-autoterm cannot model. Supported: tune.uniform, quniform, loguniform, "
                        "qloguniform, randint, qrandint, lograndint, qlograndint, choice, and "
                        "constants."
                    )
                else:
                    constants[path] = value

        visit(param_space, ())
        return cls(params, constants)

    @classmethod
    def from_configs(cls, configs: Sequence[Mapping[str, Any]]) -> SearchSpace:
        """Infer a space from configurations seen: their bounding box.

        Numeric leaves become numeric parameters over ``[min, max]`` of the values seen (log scale
        where positive values span two decades or more; integers stay integers); other leaves
        become categoricals over the values seen; a leaf with one value is a constant.
        """
        if not configs:
            raise SearchSpaceError("Cannot infer a search space from zero configurations.")
        values: dict[Path, list[Any]] = {}
        for config in configs:
            for path, value in _flatten(config):
                values.setdefault(path, []).append(value)
        params: list[Param] = []
        constants: dict[Path, Any] = {}
        for path, seen in values.items():
            distinct = _distinct(seen)
            if len(distinct) == 1:
                constants[path] = distinct[0]
            elif all(_is_number(v) for v in seen):
                low, high = float(min(seen)), float(max(seen))
                integer = all(isinstance(v, (int, np.integer)) for v in seen)
                log = low > 0 and high / low >= 100.0
                params.append(NumericParam(path, low, high, log=log, integer=integer))
            else:
                params.append(CategoricalParam(path, tuple(distinct)))
        return cls(params, constants)

    # ----------------------------------------------------------------- geometry
    @property
    def dim(self) -> int:
        """Number of GP input columns (a categorical counts one per choice)."""
        return sum(_width(p) for p in self.params)

    @property
    def onehot_groups(self) -> list[list[int]]:
        """Column indices of each categorical parameter's one-hot block."""
        groups, col = [], 0
        for p in self.params:
            if isinstance(p, CategoricalParam):
                groups.append(list(range(col, col + len(p.choices))))
            col += _width(p)
        return groups

    @property
    def bounds(self) -> np.ndarray:
        """``2 x d`` bounds of the encoded space: the unit cube."""
        return np.vstack([np.zeros(self.dim), np.ones(self.dim)])

    @property
    def names(self) -> list[str]:
        """``a/b`` style names of the columns (``a/b=choice`` for one-hot columns)."""
        out: list[str] = []
        for p in self.params:
            name = _path_name(p.path)
            if isinstance(p, CategoricalParam):
                out.extend(f"{name}={c!r}" for c in p.choices)
            else:
                out.append(name)
        return out

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """Map a (nested) config to a ``d``-vector in the encoded space."""
        flat = dict(_flatten(config))
        out = np.zeros(self.dim, dtype=np.float64)
        col = 0
        for p in self.params:
            if p.path not in flat:
                raise SearchSpaceError(
                    f"The config {dict(config)!r} has no value for parameter "
                    f"`{_path_name(p.path)}`."
                )
            v = flat[p.path]
            if isinstance(p, CategoricalParam):
                out[col + p.index(v)] = 1.0
            else:
                if not _is_number(v):
                    raise SearchSpaceError(
                        f"Parameter `{_path_name(p.path)}` must be numeric; got {v!r} instead."
                    )
                out[col] = p.to_unit(float(v))
            col += _width(p)
        return out

    def encode_many(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``n x d`` array of encoded configs."""
        return np.stack([self.encode(c) for c in configs]) if configs else np.zeros((0, self.dim))

    def decode(self, x: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Map an encoded ``d``-vector back to a nested Tune config (values rounded/quantised)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        flat: dict[Path, Any] = dict(self.constants)
        col = 0
        for p in self.params:
            if isinstance(p, CategoricalParam):
                flat[p.path] = p.choices[int(np.argmax(x[col:col + len(p.choices)]))]
            else:
                flat[p.path] = p.from_unit(float(x[col]))
            col += _width(p)
        return _unflatten(flat)

    def sobol(self, n: int, seed: int = 0) -> np.ndarray:
        """``n x d`` scrambled-Sobol points in the encoded space (valid one-hot blocks)."""
        from scipy.stats import qmc

        if not self.params:
            return np.zeros((n, 0))
        with warnings.catch_warnings():  # balance warnings for n not a power of 2
            warnings.filterwarnings("ignore", category=UserWarning, module="scipy.stats")
            u = qmc.Sobol(d=len(self.params), scramble=True, seed=seed).random(n)
        out = np.zeros((n, self.dim))
        col = 0
        for i, p in enumerate(self.params):
            if isinstance(p, CategoricalParam):
                k = len(p.choices)
                idx = np.minimum(np.floor(u[:, i] * k), k - 1).astype(int)
                out[np.arange(n), col + idx] = 1.0
            else:
                out[:, col] = u[:, i]
            col += _width(p)
        return out

    def __repr__(self) -> str:
        return f"SearchSpace(params={self.params!r}, constants={self.constants!r})"


def _width(p: Param) -> int:
    return len(p.choices) if isinstance(p, CategoricalParam) else 1


def _numeric_from_tune(path: Path, domain: Any, tune_sample: Any) -> NumericParam:
    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, tune_sample.Quantized):
        q = float(sampler.q)
        sampler = sampler.get_sampler()
    name = type(sampler).__name__
    if name not in ("_Uniform", "_LogUniform"):
        raise SearchSpaceError(
            f"Parameter `{_path_name(path)}` uses the sampler {name.strip('_')}, which "
            "ray-autoterm cannot model (normal distributions are unbounded). Use a bounded "
            "uniform or log-uniform domain."
        )
    log = name == "_LogUniform"
    low, high = float(domain.lower), float(domain.upper)
    integer = isinstance(domain, tune_sample.Integer)
    if integer and q is None:
        high -= 1.0  # tune.randint / lograndint exclude the upper bound
    return NumericParam(path, low, high, log=log, integer=integer, q=q)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _distinct(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(v is o or (type(v) is type(o) and v == o) for o in out):
            out.append(v)
    return out


def _flatten(config: Mapping[str, Any], prefix: Path = ()) -> list[tuple[Path, Any]]:
    items: list[tuple[Path, Any]] = []
    for key, value in config.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            items.extend(_flatten(value, path))
        else:
            items.append((path, value))
    return items


def _unflatten(flat: Mapping[Path, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out
