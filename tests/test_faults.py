"""Faults on a real 3-node Ray cluster: a node dies, the driver is interrupted, trials and fold
tasks fail. The stopper must lose no completed trial's folds and still end the experiment.

The module starts its own ``ray.cluster_utils.Cluster`` (see ``cluster_utils.py``); if Ray is
already initialised (``conftest.ray_local``) it is shut down first. ``full_cluster`` adds a node
back when a previous test removed one.
"""

from __future__ import annotations

import gc
import threading
import time

import pytest
from ray import tune

import cluster_utils as cu
import tune_objectives as obj
from cluster_utils import cluster, full_cluster  # noqa: F401 - the module's cluster fixtures
from ray_autoterm import AutoTermSearcher, AutoTermStopper
from ray_autoterm.tune import _shared

pytestmark = pytest.mark.cluster

BUDGET = 200


def fast_pair(min_trials: int = 20, **searcher_kwargs):
    """A linked searcher/stopper with a cheaper acquisition and bound optimisation (2 cores)."""
    searcher = AutoTermSearcher(cu.SPACE, seed=0, num_restarts=2, raw_samples=64, **searcher_kwargs)
    stopper = AutoTermStopper(searcher=searcher, background=False, num_restarts=2, raw_samples=64,
                              min_trials=min_trials)
    return searcher, stopper


class CompletionTimes(tune.Callback):
    """Records when each trial completed (driver side)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.times.append(time.time())


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def assert_no_completed_trial_lost(trials, history) -> dict[str, list[float]]:
    """Every trial that ended TERMINATED with folds is in the history with identical folds."""
    finished = cu.terminated_folds(trials)
    assert finished
    for trial_id, folds in finished.items():
        assert trial_id in history, f"completed trial {trial_id} is missing from the history"
        rec = history[trial_id]
        assert rec.complete and rec.fold_scores == folds, (trial_id, rec, folds)
    return finished


def test_worker_node_killed_while_trials_run(full_cluster, tmp_path):  # noqa: F811
    name = "node_killed"
    victim = next(iter(full_cluster.worker_nodes))
    victim_id = victim.node_id
    markers = tmp_path / "markers"
    markers.mkdir()
    times = CompletionTimes()
    killed: dict[str, float] = {}

    def kill_victim() -> None:
        # Once a few trials have completed and a trial is hanging on the victim, kill the node
        # (SIGKILL, no graceful shutdown), as a crashed machine would.
        if wait_until(lambda: len(times.times) >= 4 and (markers / victim_id).exists(), 120):
            killed["at"] = time.time()
            full_cluster.remove_node(victim, allow_graceful=False)

    # Decisions take ~10 ms, so with the default min_trials=20 the criterion could fire ~2 s after
    # the kill, before Ray reports the dead node's trial as failed (then it is stopped with the
    # rest instead of retried). 60 trials leave Tune time to see the failure and retry.
    searcher, stopper = fast_pair(min_trials=60)
    trainable = tune.with_resources(
        tune.with_parameters(cu.spread_quadratic, marker_dir=str(markers), victim=victim_id),
        {"cpu": cu.CPUS_PER_NODE},
    )
    killer = threading.Thread(target=kill_victim, daemon=True)
    killer.start()
    analysis = tune.run(
        trainable, search_alg=searcher, stop=stopper, num_samples=BUDGET,
        max_concurrent_trials=6, reuse_actors=True, max_failures=3, raise_on_failed_trial=False,
        callbacks=[times], storage_path=str(tmp_path), name=name, verbose=0,
    )
    killer.join(timeout=30)

    assert "at" in killed, "no trial ever ran on the victim node, or too few trials completed"
    assert victim_id not in cu.alive_node_ids()
    # The trial that hung on the dead node failed and was retried (max_failures).
    assert any(t.num_failures >= 1 for t in analysis.trials)
    assert sum(t > killed["at"] for t in times.times) >= 1, "no trial completed after the kill"

    finished = assert_no_completed_trial_lost(analysis.trials, stopper.history)
    assert all(
        t.last_result["node"] != victim_id for t in analysis.trials if t.trial_id in finished
    ), "the victim's trials never report: they hang until the node dies"

    assert stopper.fired is not None, "the criterion must still fire after the node died"
    assert stopper.fired.timestamp > killed["at"]
    assert len(finished) < BUDGET
    log = cu.assert_log_complete(stopper, tmp_path / name)
    assert cu.assert_fired_in_log(log)["num_trials"] == stopper.fired.num_trials


def test_interrupted_driver_restores_and_the_pair_continues(full_cluster, tmp_path):  # noqa: F811
    name, interrupt_after = "interrupted", 8
    searcher, stopper = fast_pair()
    tuner = tune.Tuner(
        cu.noisy_quadratic,
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=BUDGET, max_concurrent_trials=3, reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            stop=stopper, storage_path=str(tmp_path), name=name, verbose=0,
            callbacks=[obj.InterruptAfter(interrupt_after, str(tmp_path / "interrupted.flag"))],
        ),
    )
    grid = tuner.fit()
    first = {r.metrics["trial_id"]: r.metrics["cv_scores"] for r in grid
             if r.metrics and "cv_scores" in r.metrics and not r.error}
    before = {r.trial_id: r.fold_scores for r in stopper.history.completed()}
    assert interrupt_after <= len(before) < BUDGET and stopper.fired is None
    path = tmp_path / name
    lines_before = len(cu.assert_log_complete(stopper, path))
    link = stopper._state.link_id
    del tuner, grid, searcher, stopper
    gc.collect()
    assert link not in _shared._REGISTRY, "the test must restore from disk, not from live objects"

    restored = tune.Tuner.restore(str(path), cu.noisy_quadratic, resume_errored=True)
    grid = restored.fit()

    # The restored stopper and searcher found each other again (one shared state, same id).
    live = _shared._REGISTRY.get(link)
    assert live is not None, "the restored stopper and searcher did not re-link"
    assert live.fired is not None, "the restored pair stopped the experiment by the criterion"

    log = cu.read_log(path)
    assert len(log) > lines_before
    after_restore = log[lines_before:]
    assert after_restore[0]["num_trials"] > len(before), "the history continued, not restarted"
    counts = [d["num_trials"] for d in log]
    assert counts == sorted(counts)
    firing = cu.assert_fired_in_log(log)
    assert firing["num_trials"] == live.fired.num_trials

    # No completed trial was lost: not in the result grid, not in the history.
    final = {r.metrics["trial_id"]: r.metrics["cv_scores"] for r in grid
             if r.metrics and "cv_scores" in r.metrics}
    for trial_id, folds in first.items():
        assert final[trial_id] == folds
        assert live.history[trial_id].fold_scores == folds
    for trial_id, folds in before.items():
        assert live.history[trial_id].fold_scores == folds
    assert len(final) < BUDGET


def test_failing_trials_and_dying_fold_tasks_are_left_out(full_cluster, tmp_path):  # noqa: F811
    name = "flaky"
    # The first two configs fail for sure: one raises in the trainable, one loses a fold task.
    searcher, stopper = fast_pair(
        points_to_evaluate=[{"a": 0.95, "b": 0.5}, {"a": 0.4, "b": 0.02}]
    )
    trainable = tune.with_resources(
        cu.flaky_parallel_cv, tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}])
    )
    analysis = tune.run(
        trainable, search_alg=searcher, stop=stopper, num_samples=BUDGET,
        max_concurrent_trials=3, reuse_actors=True, raise_on_failed_trial=False,
        storage_path=str(tmp_path), name=name, verbose=0,
    )

    errored = [t for t in analysis.trials if t.status == "ERROR"]
    raised = [t for t in errored if t.config["a"] > cu.FAIL_A]
    died = [t for t in errored if t.config["b"] < cu.DIE_B and t.config["a"] <= cu.FAIL_A]
    assert raised and died, [(t.config, t.status) for t in analysis.trials]
    assert len(raised) + len(died) == len(errored), "only the configured failures errored"
    assert "this trial fails on purpose" in str(raised[0].get_error())
    assert "WorkerCrashedError" in str(died[0].get_error()) or "died" in str(died[0].get_error())
    for t in errored:  # a failed trial never counts as complete
        assert t.trial_id not in stopper.history or not stopper.history[t.trial_id].complete

    finished = assert_no_completed_trial_lost(analysis.trials, stopper.history)
    assert all(cu.finite(f) and len(f) == 5 for f in finished.values())
    assert {r.trial_id for r in stopper.history.completed()} == set(finished)

    assert stopper.fired is not None, "the criterion must still fire"
    log = cu.assert_log_complete(stopper, tmp_path / name)
    firing = cu.assert_fired_in_log(log)
    assert firing["num_trials"] <= len(finished) < BUDGET
