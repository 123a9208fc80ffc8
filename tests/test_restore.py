"""Pickling, and a real interrupted experiment restored with ``tune.Tuner.restore``."""

from __future__ import annotations

import gc
import json
import os
import pickle

from ray import tune

import tune_objectives as obj
from ray_autoterm import DECISION_LOG_NAME, AutoTermSearcher, AutoTermStopper
from ray_autoterm.tune import _shared


def test_pickle_round_trip_keeps_history_and_link():
    searcher = AutoTermSearcher(obj.SPACE, seed=0)
    stopper = AutoTermStopper(searcher=searcher, mode="min", background=True)
    for i in range(4):
        cfg = searcher.suggest(f"t{i}")
        stopper(f"t{i}", {"config": cfg, "cv_scores": obj.folds_for(cfg)})
    stopper._settle()
    s2 = pickle.loads(pickle.dumps(stopper))
    # Same process, same link id: the copy re-attaches to the live shared state.
    assert s2._state is stopper._state
    assert [r.fold_scores for r in s2.history.completed()] == [
        r.fold_scores for r in stopper.history.completed()
    ]
    assert len(s2.decisions) == len(stopper.decisions)


def test_separately_restored_copies_merge_their_histories():
    searcher = AutoTermSearcher(obj.SPACE, seed=0)
    stopper = AutoTermStopper(searcher=searcher, mode="min", background=False)
    for i in range(3):
        cfg = searcher.suggest(f"t{i}")
        stopper(f"t{i}", {"config": cfg, "cv_scores": obj.folds_for(cfg)})
    stopper_blob = pickle.dumps(stopper)
    cfg = searcher.suggest("t3")  # the searcher saw one more trial after the stopper was saved
    searcher.on_trial_complete("t3", {"cv_scores": obj.folds_for(cfg)})
    searcher_blob = pickle.dumps(searcher)
    link = stopper._state.link_id
    del stopper, searcher
    gc.collect()
    assert link not in _shared._REGISTRY
    s = pickle.loads(stopper_blob)
    q = pickle.loads(searcher_blob)
    assert s._state is q._state, "the two restored copies must share one state again"
    assert sorted(r.trial_id for r in s.history.completed()) == ["t0", "t1", "t2", "t3"]


def test_interrupted_tuner_restores_with_the_same_history(ray_local, tmp_path):
    name, budget = "restore", 150
    searcher = AutoTermSearcher(obj.SPACE, seed=0)
    stopper = AutoTermStopper(searcher=searcher, mode="min", background=False)
    tuner = tune.Tuner(
        obj.quadratic,
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=budget, max_concurrent_trials=1, reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            stop=stopper, storage_path=str(tmp_path), name=name, verbose=0,
            callbacks=[obj.InterruptAfter(12, str(tmp_path / "interrupted"))],
        ),
    )
    tuner.fit()
    before = {r.trial_id: r.fold_scores for r in stopper.history.completed()}
    assert 12 <= len(before) < budget and stopper.fired is None
    link = stopper._state.link_id
    del tuner, searcher, stopper
    gc.collect()
    assert link not in _shared._REGISTRY, "the test must not restore from live objects"

    path = str(tmp_path / name)
    restored = tune.Tuner.restore(path, obj.quadratic, resume_unfinished=True)
    grid = restored.fit()

    live = _shared._REGISTRY.get(link)
    assert live is not None, "restored stopper and searcher re-linked under the same id"
    after = {r.trial_id: r.fold_scores for r in live.history.completed()}
    for trial_id, folds in before.items():  # no completed trial's folds were lost
        assert after[trial_id] == folds
    assert live.fired is not None, "the restored pair went on to stop by the criterion"
    with open(os.path.join(path, DECISION_LOG_NAME)) as f:
        log = [json.loads(line) for line in f]
    counts = [d["num_trials"] for d in log]
    assert len({d["run_id"] for d in log}) == 1, "the restored run continues its run id"
    assert counts == sorted(counts), "decisions after the restore continue the same history"
    assert log[-1]["should_stop"] and log[-1]["num_trials"] > len(before)
    ran = [r for r in grid if r.metrics and "cv_scores" in r.metrics]
    assert len(ran) < budget
