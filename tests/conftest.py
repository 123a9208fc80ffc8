"""Shared fixtures: one local Ray instance for the single-node tests; the test tiers' markers.

Tiers (markers declared in pyproject.toml):

- ``ray``: the test starts Ray (it uses the ``ray_local`` fixture, or a cluster fixture from
  ``cluster_utils``); set here on every such test, so no test file has to say it.
- ``cluster``: starts a local multi-node Ray cluster (also ``ray``).
- ``slow``: runs an example end to end; deselected by default.

Everyday work: ``pytest -m "not ray and not cluster and not slow"`` (the fast tier, no Ray
started). The full suite is plain ``pytest``.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "0")

import pytest  # noqa: E402


@pytest.fixture
def ray_local():
    """A local Ray instance, started once and shared by all tests that need it.

    Function-scoped on purpose: the multi-node tests shut Ray down and start their own cluster,
    so each test makes sure a local instance is up (starting one costs a few seconds, once).
    """
    import ray

    if not ray.is_initialized():
        # address="local": never join a cluster that `ray start` left running on this machine.
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray


# Fixtures that start Ray: a test using any of them (directly or through another fixture) is
# marked `ray`, and out of the fast tier.
_RAY_FIXTURES = frozenset({"ray_local", "cluster", "full_cluster"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _RAY_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.ray)


def pytest_configure(config):
    # Tune ships trainables to workers by pickling; the test helper module is not importable
    # there, so pickle it by value.
    import sys

    from ray import cloudpickle  # Ray's vendored copy is the one that pickles trainables

    sys.path.insert(0, os.path.dirname(__file__))
    import tune_objectives

    cloudpickle.register_pickle_by_value(tune_objectives)
