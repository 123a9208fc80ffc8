"""Helpers for the multi-node tests (``test_cluster.py``, ``test_faults.py``).

Each of those modules starts its own 3-node local Ray cluster (``ray.cluster_utils.Cluster``: a
head and two worker nodes, 2 CPUs each, all on this machine) in a module-scoped fixture, and
shuts it down at the end of the module.

**Coexistence with ``conftest.py``'s ``ray_local``.** The single-node tests share one local Ray
instance started by ``ray_local`` (``ray.init(address="local")``). A driver can be connected to
one Ray instance only, so :func:`start_cluster` first calls ``ray.shutdown()`` if Ray is already
initialised (disconnecting from, and stopping, the local instance; ``ray_local`` starts a fresh
one for the next test that needs it, as it only checks ``ray.is_initialized()``), then connects
the driver to the cluster. :func:`stop_cluster` disconnects and removes every node, so the
tests after these modules find Ray uninitialised.

The trainables live here, at module level; the module is pickled by value (workers cannot
import ``tests/``), as ``conftest.py`` does for ``tune_objectives``.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")

import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import ray  # noqa: E402
from ray import cloudpickle, tune  # noqa: E402
from sklearn.base import BaseEstimator, RegressorMixin  # noqa: E402

from ray_autoterm import DECISION_LOG_NAME, report_cv_scores  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

NUM_NODES = 3
CPUS_PER_NODE = 2
NOISE = 0.02
FOLD_EFFECT = NOISE * np.array([-2.0, -1.0, 0.0, 1.0, 2.0]) / np.sqrt(2.0)
CONFIG_NOISE = 0.003
SPACE = {"a": tune.uniform(0.0, 1.0), "b": tune.uniform(0.0, 1.0)}

# Faster detection of a dead node than Ray's defaults (GCS health checks every 3 s, 5 misses).
SYSTEM_CONFIG = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_failure_threshold": 4,
}


# ----------------------------------------------------------------------------- the cluster
def start_cluster():
    """A head and ``NUM_NODES - 1`` worker nodes of ``CPUS_PER_NODE`` CPUs; the driver joins it.

    If Ray is already initialised (e.g. by ``conftest.ray_local``), it is shut down first: a
    driver can only be connected to one Ray instance.
    """
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": CPUS_PER_NODE,
            "include_dashboard": False,
            "_system_config": SYSTEM_CONFIG,
        },
    )
    try:
        for _ in range(NUM_NODES - 1):
            cluster.add_node(num_cpus=CPUS_PER_NODE)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        wait_for_cpus(NUM_NODES * CPUS_PER_NODE)
    except BaseException:
        ray.shutdown()
        cluster.shutdown()
        raise
    return cluster


def stop_cluster(cluster) -> None:
    """Disconnect the driver and stop every node (Ray is uninitialised afterwards)."""
    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def cluster():
    """One 3-node cluster per test module (import this fixture into the module)."""
    c = start_cluster()
    try:
        yield c
    finally:
        stop_cluster(c)


@pytest.fixture
def full_cluster(cluster):
    """The module's cluster, topped up to ``NUM_NODES`` nodes (a test may have removed one)."""
    while len(cluster.worker_nodes) < NUM_NODES - 1:
        cluster.add_node(num_cpus=CPUS_PER_NODE)
    cluster.wait_for_nodes()
    wait_for_cpus(NUM_NODES * CPUS_PER_NODE)
    return cluster


def wait_for_cpus(n: float, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while ray.cluster_resources().get("CPU", 0) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the cluster has {ray.cluster_resources()} after {timeout} s")
        time.sleep(0.1)


def alive_node_ids() -> set[str]:
    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


# ----------------------------------------------------------------------------- objectives
def true_loss(config: dict) -> float:
    return (config["a"] - 0.3) ** 2 + (config["b"] - 0.7) ** 2


def fold_noise(config: dict, fold: int) -> float:
    """Fold ``fold``'s deviation from the config's true loss (deterministic).

    A fold effect (some folds are harder: ``FOLD_EFFECT``, standard deviation ``NOISE``) plus a
    small per-config noise (``CONFIG_NOISE``, seeded by the config). The fold effect makes the
    statistical error of every incumbent about ``0.67 * NOISE`` (Eq. 9, k = 5), while the mean
    over the folds, which the GP models, is nearly exact: so the regret bound falls below the
    error soon after ``min_trials`` (at 20 trials, with a margin of ~2x), whatever the order in
    which concurrent trials complete.
    """
    seed = zlib.crc32(repr((round(config["a"], 12), round(config["b"], 12))).encode())
    noise = np.random.default_rng(seed).standard_normal(len(FOLD_EFFECT))
    return float(FOLD_EFFECT[fold] + CONFIG_NOISE * noise[fold])


def folds_for(config: dict, k: int = 5) -> list[float]:
    """The noisy fold losses ``(a-0.3)² + (b-0.7)² + fold noise`` of one config."""
    return [true_loss(config) + fold_noise(config, i) for i in range(k)]


def node_id() -> str:
    return ray.get_runtime_context().get_node_id()


def noisy_quadratic(config: dict) -> None:
    """5 noisy folds of a quadratic, plus the node the trial ran on (``node``)."""
    report_cv_scores(folds_for(config), node=node_id(), mode="min")


def spread_quadratic(
    config: dict, marker_dir: str, spread: int = NUM_NODES, victim: str | None = None,
    timeout: float = 60.0,
) -> None:
    """``noisy_quadratic`` behind a start barrier: wait until trials have started on ``spread``
    different nodes (or ``timeout`` passed), then report.

    Each trial leaves a marker file named after its node in ``marker_dir``. Tune proposes the
    first trials at once and places them on all nodes, but with ``reuse_actors=True`` a trial
    that finishes before the last node's actor is up hands its actor to the next trial, and the
    slow node may then never get one: the barrier keeps the first trials running until every
    node has one (later trials pass straight through). On the node ``victim`` the trial hangs
    until the test kills that node.
    """
    here = node_id()
    Path(marker_dir, here).touch()
    if here == victim:
        time.sleep(600)
    deadline = time.monotonic() + timeout
    while len(os.listdir(marker_dir)) < spread and time.monotonic() < deadline:
        time.sleep(0.05)
    noisy_quadratic(config)


# ----------------------------------------------------------------------------- estimators
class TracedRidge(RegressorMixin, BaseEstimator):
    """scikit-learn's Ridge that records, per fit, the node and the process it ran in.

    ``cross_validate_folds(parallel=True)`` clones and fits it inside Ray tasks; the trace (one
    JSON file per fit under ``trace_dir``) is how the test sees where the fold tasks ran.
    """

    def __init__(self, alpha: float = 1.0, trace_dir: str | None = None) -> None:
        self.alpha = alpha
        self.trace_dir = trace_dir

    def fit(self, X, y):
        from sklearn.linear_model import Ridge

        self.model_ = Ridge(alpha=self.alpha).fit(X, y)
        if self.trace_dir:
            os.makedirs(self.trace_dir, exist_ok=True)
            record = {"node": node_id(), "pid": os.getpid(), "n_train": len(X)}
            name = f"{os.getpid()}-{time.monotonic_ns()}.json"
            Path(self.trace_dir, name).write_text(json.dumps(record))
        return self

    def predict(self, X):
        return self.model_.predict(X)


def ridge_cv_parallel(config: dict, trace_dir: str) -> None:
    """5-fold CV of a ridge regression on scikit-learn's diabetes data, folds as Ray tasks.

    Reports the parallel fold losses as ``cv_scores`` and, for the test to compare, the same
    folds computed serially in the trial (``serial_losses``) and the trial's node.
    """
    from sklearn.datasets import load_diabetes

    from ray_autoterm import cross_validate_folds

    X, y = load_diabetes(return_X_y=True)
    model = TracedRidge(alpha=config["alpha"], trace_dir=os.path.join(trace_dir, "parallel"))
    losses = cross_validate_folds(
        model, X, y, cv=5, scoring="neg_mean_squared_error", seed=0, parallel=True
    )
    serial = cross_validate_folds(
        TracedRidge(alpha=config["alpha"]), X, y, cv=5, scoring="neg_mean_squared_error", seed=0
    )
    report_cv_scores(losses, serial_losses=serial, node=node_id(), pid=os.getpid(), mode="min")


class QuadraticFolds(BaseEstimator):
    """A stand-in estimator for the quadratic objective, cross-validated by row ids.

    ``X`` is a column of row ids, split by an unshuffled ``KFold(5)`` over ``FOLD_ROWS * 5``
    rows, so fold ``i`` tests rows ``[i * FOLD_ROWS, (i + 1) * FOLD_ROWS)``. ``score`` on a test
    fold returns minus that fold's loss of the config, so ``cross_validate_folds`` yields
    ``folds_for(config)``. With ``die=True``, the task of fold 0 (whose training rows lack row
    0) kills its worker process (``os._exit(1)``) during ``fit``.
    """

    def __init__(self, a: float = 0.5, b: float = 0.5, die: bool = False) -> None:
        self.a, self.b, self.die = a, b, die

    def fit(self, X, y):
        if self.die and 0 not in set(np.asarray(X)[:, 0].astype(int)):
            os._exit(1)  # the worker process dies, as in an out-of-memory kill
        return self

    def score(self, X, y):
        fold = int(np.asarray(X)[:, 0].min()) // FOLD_ROWS
        config = {"a": self.a, "b": self.b}
        return -(true_loss(config) + fold_noise(config, fold))


FOLD_ROWS = 10
FAIL_A = 0.85  # configs with a > FAIL_A raise in the trainable
DIE_B = 0.04  # configs with b < DIE_B lose a fold task (its worker process exits)


def flaky_parallel_cv(config: dict) -> None:
    """Quadratic folds as Ray tasks; raises for ``a > FAIL_A``, one fold task dies for
    ``b < DIE_B``."""
    from sklearn.model_selection import KFold

    from ray_autoterm import cross_validate_folds

    if config["a"] > FAIL_A:
        raise RuntimeError("this trial fails on purpose")
    X = np.arange(5 * FOLD_ROWS, dtype=float).reshape(-1, 1)
    y = np.zeros(len(X))
    model = QuadraticFolds(config["a"], config["b"], die=config["b"] < DIE_B)
    losses = cross_validate_folds(model, X, y, cv=KFold(5), parallel=True)
    report_cv_scores(losses, node=node_id(), mode="min")


# ----------------------------------------------------------------------------- results
def read_log(experiment_dir) -> list[dict]:
    path = Path(experiment_dir) / DECISION_LOG_NAME
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def assert_log_complete(stopper, experiment_dir) -> list[dict]:
    """The decision log holds one JSON line per entry of ``stopper.decisions``, in order."""
    log = read_log(experiment_dir)
    assert len(log) == len(stopper.decisions), (len(log), len(stopper.decisions))
    for line, decision in zip(log, stopper.decisions, strict=True):
        assert line == json.loads(json.dumps(decision.to_dict(), default=str))
    return log


def assert_fired_in_log(log: list[dict]) -> dict:
    """The log's last line is a stop (bound < error), and the first stop is the firing one."""
    assert log, "no decision was logged"
    last = log[-1]
    assert last["should_stop"] is True, last
    firing = next(d for d in log if d["should_stop"])
    for d in (firing, last):
        assert d["regret_bound"] is not None and d["statistical_error"] is not None, d
        assert d["regret_bound"] < d["statistical_error"], d
    return firing


def terminated_folds(trials) -> dict[str, list[float]]:
    """trial id -> reported cv_scores, for every Tune ``Trial`` that ended TERMINATED with folds."""
    return {
        t.trial_id: [float(v) for v in t.last_result["cv_scores"]]
        for t in trials
        if t.status == "TERMINATED" and t.last_result and "cv_scores" in t.last_result
    }


def finite(values) -> bool:
    return all(math.isfinite(v) for v in values)
