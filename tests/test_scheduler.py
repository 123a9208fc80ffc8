"""``FoldPruningScheduler`` in real Tune runs: same decisions as the offline rule, cancelled fold
tasks, linked state and ``Tuner.restore``."""

from __future__ import annotations

import gc
import os
import sys
import time

import numpy as np
import pytest
from ray import tune
from ray.cloudpickle import register_pickle_by_value
from sklearn.base import BaseEstimator

import cluster_utils as cu  # pickled by value: workers cannot import tests/
import tune_objectives as obj
from ray_autoterm import AutoTermSearcher, AutoTermStopper
from ray_autoterm.criterion.pruning import FoldPruner
from ray_autoterm.errors import InvalidArgumentError
from ray_autoterm.history import History
from ray_autoterm.tune import _shared
from ray_autoterm.tune.scheduler import FoldPruningScheduler

register_pickle_by_value(sys.modules[__name__])  # trainables below run in Ray workers

GRID = {"a": tune.grid_search([0.1, 0.3, 0.5, 0.7, 0.9]),
        "b": tune.grid_search([0.1, 0.4, 0.7, 1.0])}


def streamed_folds(trials) -> dict[str, list[float]]:
    """Each trial's folds as it reported them (from its results), in fold order."""
    out = {}
    for r in trials:
        df = r.metrics_dataframe
        out[r.metrics["trial_id"]] = [float(v) for v in df.sort_values("fold")["fold_loss"]]
    return out


def test_streamed_folds_pruned_exactly_as_the_offline_rule(ray_local, tmp_path):
    scheduler = FoldPruningScheduler(min_trials=5)
    grid = tune.Tuner(
        obj.quadratic_streaming, param_space=GRID,
        tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=1,
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="replay", verbose=0),
    ).fit()
    assert not grid.errors
    reported = streamed_folds(grid)
    assert scheduler.num_pruned >= 5, "the grid has clearly bad corners to prune"
    for trial_id, info in scheduler.pruned.items():
        assert len(reported[trial_id]) == info["folds"] < 5, "a pruned trial stopped at once"
    # Replay: the same trials in the order they ran, folds from the (deterministic) objective.
    pruner = FoldPruner(min_trials=5)
    replay = History()
    decisions = {}
    for rec in sorted(scheduler.history, key=lambda r: r.order):
        folds = obj.folds_for(rec.config)
        decisions[rec.trial_id] = None
        for j in range(1, 5):
            if pruner.should_prune(folds[:j], replay, rec.trial_id):
                decisions[rec.trial_id] = j
                replay.mark_pruned(rec.trial_id, rec.config, folds[:j], range(j), False)
                break
        else:
            replay.add(rec.trial_id, rec.config, folds)
    live = {tid: scheduler.pruned.get(tid, {}).get("folds") for tid in decisions}
    assert live == decisions
    assert len(decisions) == 20


class SlowUnlessFirstFold(BaseEstimator):
    """On any fold but 0 (whose training rows exclude row 0) it writes its process id to
    ``marker_dir`` and sleeps 120 s: a fold that a pruned trial never needs. Fold 0 returns
    once one of those has started, so that the trial is pruned while a slow fold runs."""

    def __init__(self, marker_dir: str = "") -> None:
        self.marker_dir = marker_dir

    def fit(self, X, y):
        if X.min() > 0:
            deadline = time.monotonic() + 90
            while not os.listdir(self.marker_dir) and time.monotonic() < deadline:
                time.sleep(0.05)
            return self
        with open(os.path.join(self.marker_dir, f"{os.getpid()}.pid"), "w"):
            pass
        time.sleep(120)
        return self

    def predict(self, X):
        return np.zeros(len(X))


def ten(estimator, X, y) -> float:
    """A scorer whose loss (its negation) is 10 on every fold."""
    return -10.0


def parallel_slow_trainable(config):
    from ray_autoterm import cross_validate_and_report

    marker_dir = os.path.join(config["dir"], str(config["i"]))
    os.makedirs(marker_dir, exist_ok=True)
    X, y = np.arange(40.0).reshape(-1, 1), np.zeros(40)
    rows = np.arange(40)
    splits = [(np.setdiff1d(rows, block), block) for block in np.array_split(rows, 4)]
    cross_validate_and_report(SlowUnlessFirstFold(marker_dir), X, y, cv=splits, scoring=ten,
                              parallel=True, num_cpus_per_fold=0.25, stream=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a killed child not yet reaped is a zombie: dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class FoldTasksGone(tune.Callback):
    """When the second trial starts (in the first one's actor: ``reuse_actors``, so the owner
    of the first trial's fold tasks is still alive and only an explicit cancellation ends
    them), waits up to 5 s for the first trial's slow fold processes to end, and records how
    many had started and how many are still alive."""

    def __init__(self, marker: str) -> None:
        self.marker, self.seen = marker, []

    def on_trial_start(self, iteration, trials, trial, **info):
        if trial.config["i"] == 0:
            return
        folder = os.path.join(self.marker, "0")
        pids = [int(name.split(".")[0]) for name in os.listdir(folder)]
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.seen.append((len(pids), sum(_alive(p) for p in pids)))


def test_pruned_parallel_trial_cancels_its_fold_tasks_at_once(ray_local, tmp_path):
    import ray

    marker = tmp_path / "pids"
    marker.mkdir()
    scheduler = FoldPruningScheduler(min_trials=2)
    scheduler.history.add("past0", {}, [0.0, 0.0, 0.0, 0.0])
    scheduler.history.add("past1", {}, [0.01, 0.02, 0.0, 0.01])
    gone = FoldTasksGone(str(marker))
    # The fold tasks run inside the trial's placement group (1 CPU + 4 x 0.25).
    trainable = tune.with_resources(
        parallel_slow_trainable, tune.PlacementGroupFactory([{"CPU": 1}] + [{"CPU": 0.25}] * 4))
    grid = tune.Tuner(
        trainable, param_space={"dir": str(marker), "i": tune.grid_search([0, 1])},
        tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=True,
                                    max_concurrent_trials=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="cancel", verbose=0,
                                  callbacks=[gone]),
    ).fit()
    assert not grid.errors
    assert [p["folds"] for p in scheduler.pruned.values()] == [1, 1]
    # The first trial was pruned while 1 to 3 slow folds ran; they had ended by the time the
    # next trial started in the same actor.
    ((started, alive),) = gone.seen
    assert started >= 1 and alive == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        ray.available_resources().get("CPU", 0) < ray.cluster_resources()["CPU"]
    ):
        time.sleep(0.1)
    assert ray.available_resources().get("CPU", 0) == ray.cluster_resources()["CPU"]


def test_linked_scheduler_shares_pruned_trials_and_survives_restore(ray_local, tmp_path):
    name, budget = "restore", 40
    searcher = AutoTermSearcher(obj.SPACE, seed=0, num_restarts=2, raw_samples=64)
    stopper = AutoTermStopper(searcher=searcher, background=False, min_trials=200,
                              num_restarts=2, raw_samples=64)
    scheduler = FoldPruningScheduler(stopper=stopper, min_trials=5)
    assert scheduler.history is stopper.history is searcher.history
    tuner = tune.Tuner(
        obj.quadratic_streaming,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=budget,
                                    max_concurrent_trials=1, reuse_actors=True),
        run_config=tune.RunConfig(
            stop=stopper, storage_path=str(tmp_path), name=name, verbose=0,
            callbacks=[obj.InterruptAfter(20, str(tmp_path / "interrupted"))],
        ),
    )
    tuner.fit()
    before = {r.trial_id: (r.folds_measured, r.fold_scores) for r in stopper.history.pruned()}
    assert before, "some of the first 20 trials were pruned"
    for r in stopper.history.pruned():  # imputed: complete, in the GP, never the incumbent
        assert r.complete and len(r.fold_scores) == 5 and len(r.folds_measured) < 5
    # The decisions (and their log, which `ray-autoterm report` reads) count the pruned trials.
    last = stopper.decisions[-1]
    assert last.num_pruned >= 1 and last.folds_saved >= last.num_pruned
    assert all(d.incumbent_trial_id not in before for d in stopper.decisions)
    link = stopper._state.link_id
    del tuner, searcher, stopper, scheduler
    gc.collect()
    assert link not in _shared._REGISTRY, "the test must not restore from live objects"

    restored = tune.Tuner.restore(str(tmp_path / name), obj.quadratic_streaming,
                                  resume_unfinished=True)
    grid = restored.fit()
    assert not grid.errors
    live = _shared._REGISTRY.get(link)
    assert live is not None, "the restored searcher, stopper and scheduler re-linked"
    after = {r.trial_id: (r.folds_measured, r.fold_scores) for r in live.history.pruned()}
    for trial_id, rec in before.items():
        assert after[trial_id] == rec, "a pruned record survived the restore unchanged"
    assert len(after) > len(before), "the restored scheduler went on pruning"
    ran = streamed_folds([r for r in grid if r.metrics])
    for trial_id, (measured, _) in after.items():
        assert len(ran[trial_id]) == len(measured)


def test_report_says_how_many_trials_were_pruned():
    from ray_autoterm.criterion.decision import Decision
    from ray_autoterm.report import summarize

    d = Decision(num_trials=30, should_stop=True, reason="bound < error", regret_bound=0.01,
                 statistical_error=0.02, num_pruned=12, folds_saved=40)
    text = summarize([d], [])
    assert "Pruned: 12 trials" in text and "40 fold evaluations saved" in text
    assert "Pruned" not in summarize([Decision(num_trials=3, should_stop=False, reason="-")], [])


def test_bad_arguments_fail_at_construction():
    searcher = AutoTermSearcher(obj.SPACE)
    other = AutoTermStopper(searcher=AutoTermSearcher(obj.SPACE))
    cases = [
        ({"confidence": 2}, "confidence"), ({"min_trials": 0}, "min_trials"),
        ({"pruned_trials": "drop"}, "pruned_trials"), ({"mode": "best"}, "mode"),
        ({"stopper": "s"}, "stopper"), ({"searcher": 3}, "searcher"),
        ({"stopper": other, "searcher": searcher}, "searcher"),
        ({"cv_scores_key": ""}, "cv_scores_key"),
    ]
    for kwargs, name in cases:
        with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
            FoldPruningScheduler(**kwargs)


# ----------------------------------------------------------------------------- node kill
# Last in the module: the 3-node cluster replaces the local instance (see cluster_utils.py).
def spread_streaming(config, marker_dir: str, victim: str | None = None) -> None:
    """``cluster_utils.spread_quadratic`` with streamed folds: on the node ``victim`` the trial
    reports one fold, then hangs until the test kills the node."""
    from ray_autoterm import report_fold

    here = cu.node_id()
    folds = cu.folds_for(config)
    open(os.path.join(marker_dir, here), "w").close()
    if here == victim:
        report_fold(0, folds[0], num_folds=5, mode="min")
        time.sleep(600)
    deadline = time.monotonic() + 60
    while len(os.listdir(marker_dir)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    for i, loss in enumerate(folds):
        report_fold(i, loss, num_folds=5, node=here, mode="min")


class Ended(tune.Callback):
    def __init__(self) -> None:
        self.times: list[tuple[float, str]] = []

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.times.append((time.time(), trial.trial_id))


@pytest.mark.cluster
def test_scheduler_alone_keeps_pruning_after_a_node_dies(tmp_path):
    import threading

    cluster = cu.start_cluster()
    try:
        victim = next(iter(cluster.worker_nodes))
        markers = tmp_path / "markers"
        markers.mkdir()
        ended, killed = Ended(), {}

        def kill_victim() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not (
                len(ended.times) >= 12 and (markers / victim.node_id).exists()
            ):
                time.sleep(0.05)
            if (markers / victim.node_id).exists():
                killed["at"] = time.time()
                cluster.remove_node(victim, allow_graceful=False)

        scheduler = FoldPruningScheduler(min_trials=5)  # alone, with Tune's random search
        trainable = tune.with_resources(
            tune.with_parameters(spread_streaming, marker_dir=str(markers),
                                 victim=victim.node_id),
            {"cpu": cu.CPUS_PER_NODE},
        )
        killer = threading.Thread(target=kill_victim, daemon=True)
        killer.start()
        analysis = tune.run(
            trainable, config=cu.SPACE, scheduler=scheduler, num_samples=40,
            reuse_actors=True, max_failures=3, raise_on_failed_trial=False, callbacks=[ended],
            storage_path=str(tmp_path), name="node_killed", verbose=0,
        )
        killer.join(timeout=30)
        assert "at" in killed, "no trial ran on the victim node"
        assert victim.node_id not in cu.alive_node_ids()
        assert any(t.num_failures >= 1 for t in analysis.trials), "the hung trial was retried"
        after = {tid for at, tid in ended.times if at > killed["at"]}
        assert after & set(scheduler.pruned), "pruning went on after the node died"
        history = scheduler.history
        for t in analysis.trials:
            if t.status != "TERMINATED":
                continue
            rec = history[t.trial_id]
            if t.trial_id in scheduler.pruned:
                assert rec.pruned and rec.complete and 1 <= len(rec.folds_measured) < 5
            else:
                assert not rec.pruned and rec.fold_scores == pytest.approx(cu.folds_for(t.config))
    finally:
        cu.stop_cluster(cluster)
