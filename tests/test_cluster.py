"""AutoTermSearcher + AutoTermStopper on a real 3-node Ray cluster (all nodes on this machine).

The module starts its own ``ray.cluster_utils.Cluster`` (head + 2 worker nodes, 2 CPUs each; see
``cluster_utils.py``). If Ray is already initialised (``conftest.ray_local``), the fixture shuts
it down first; at the end of the module Ray is shut down and every node stopped.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from ray import tune

import cluster_utils as cu
from cluster_utils import cluster  # noqa: F401 - the module's 3-node cluster fixture
from ray_autoterm import AutoTermSearcher, AutoTermStopper

pytestmark = pytest.mark.cluster

BUDGET = 200


def test_experiment_spreads_over_the_nodes_and_stops_by_the_criterion(cluster, tmp_path):  # noqa: F811
    name = "spread"
    searcher = AutoTermSearcher(cu.SPACE, seed=0, num_restarts=2, raw_samples=64)
    stopper = AutoTermStopper(searcher=searcher, background=False, num_restarts=2, raw_samples=64)
    # 2 CPUs a trial: a node holds one trial at a time, so concurrent trials are on different
    # nodes; the first trials wait until every node has one (see cu.spread_quadratic).
    markers = tmp_path / "markers"
    markers.mkdir()
    trainable = tune.with_resources(
        tune.with_parameters(cu.spread_quadratic, marker_dir=str(markers)),
        {"cpu": cu.CPUS_PER_NODE},
    )
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=BUDGET, max_concurrent_trials=6, reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            stop=stopper, storage_path=str(tmp_path), name=name, verbose=0,
        ),
    )
    grid = tuner.fit()

    reported = [r.metrics for r in grid if r.metrics and "cv_scores" in r.metrics]
    nodes = Counter(m["node"] for m in reported)
    assert len(nodes) >= cu.NUM_NODES, f"trials ran on {dict(nodes)} only"
    assert set(nodes) <= cu.alive_node_ids()

    fired = stopper.fired
    assert fired is not None, "the criterion did not fire"
    assert len(reported) < BUDGET
    assert fired.num_trials < BUDGET
    assert searcher.suggest("after-the-stop") == tune.search.Searcher.FINISHED

    log = cu.assert_log_complete(stopper, tmp_path / name)
    firing = cu.assert_fired_in_log(log)
    assert firing["num_trials"] == fired.num_trials
    assert firing["trigger_trial_id"] == fired.trigger_trial_id

    # Every trial that reported folds is in the shared history with exactly those folds.
    for m in reported:
        assert stopper.history[m["trial_id"]].fold_scores == m["cv_scores"]


def test_folds_run_as_tasks_across_nodes_and_reach_the_stopper_in_order(cluster, tmp_path):  # noqa: F811
    name = "folds"
    space = {"alpha": tune.loguniform(1e-3, 1e2)}
    searcher = AutoTermSearcher(space, seed=0, num_initial=4)
    stopper = AutoTermStopper(searcher=searcher, background=False)
    # Tune places a trial's child tasks in the trial's placement group, so the trial asks for a
    # bundle for itself and two for its folds, on three different nodes.
    trainable = tune.with_resources(
        tune.with_parameters(cu.ridge_cv_parallel, trace_dir=str(tmp_path / "trace")),
        tune.PlacementGroupFactory([{"CPU": 1}] * 3, strategy="STRICT_SPREAD"),
    )
    num_trials = 4
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=num_trials, max_concurrent_trials=2, reuse_actors=True,
        ),
        run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), name=name, verbose=0),
    )
    grid = tuner.fit()
    assert not grid.errors, grid.errors

    reported = [r.metrics for r in grid]
    assert len(reported) == num_trials
    for m in reported:
        rec = stopper.history[m["trial_id"]]
        assert rec.complete
        # The folds computed as Ray tasks come back in fold order: equal, fold by fold, to the
        # same split computed serially inside the trial.
        assert m["cv_scores"] == pytest.approx(m["serial_losses"], rel=1e-9)
        assert rec.fold_scores == m["cv_scores"], "the stopper has the folds as reported"
        assert len(rec.fold_scores) == 5 and cu.finite(rec.fold_scores)

    traces = [json.loads(p.read_text()) for p in Path(tmp_path, "trace", "parallel").iterdir()]
    assert len(traces) == 5 * num_trials, "one fit per fold task"
    fold_nodes = Counter(t["node"] for t in traces)
    assert len(fold_nodes) > 1, f"all fold tasks ran on one node: {dict(fold_nodes)}"
    trial_pids = {m["pid"] for m in reported}  # the folds ran in Ray tasks, not in the trials
    assert not {t["pid"] for t in traces} & trial_pids
    assert len(stopper.decisions) == num_trials
    assert cu.read_log(tmp_path / name)[-1]["num_trials"] == num_trials
