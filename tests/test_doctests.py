"""The ``Example:`` sections of the core (Ray-free) modules run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

CORE_MODULES = [
    "ray_autoterm._lazy",
    "ray_autoterm.space",
    "ray_autoterm.gp",
    "ray_autoterm.history",
    "ray_autoterm.bo",
    "ray_autoterm.optim",
    "ray_autoterm.criterion.cv_error",
    "ray_autoterm.criterion.decision",
    "ray_autoterm.criterion.regret",
    "ray_autoterm.criterion.terminator",
    "ray_autoterm.criterion.rules",
    "ray_autoterm.criterion.pruning",
    "ray_autoterm.criterion.fidelity",
    "ray_autoterm",
    "ray_autoterm.tune.stopper",
    "ray_autoterm.tune.callback",
    "ray_autoterm.tune._worker",
    "ray_autoterm.tune._direction",
    "ray_autoterm.tune._log",
    "ray_autoterm.tune._progress",
    "ray_autoterm.tune.searcher",
    "ray_autoterm.tune.reporting",
    "ray_autoterm.tune.results",
    "ray_autoterm.tune.holdout",
    "ray_autoterm.tune.sklearn",
    "ray_autoterm.tune.scheduler",
    "ray_autoterm.tune.train",
]


@pytest.mark.parametrize("name", CORE_MODULES)
def test_examples_in_docstrings(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} doctest examples failed in {name}")
