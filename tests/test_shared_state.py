"""One lock: writers on several threads (as the stopper, the searcher and the scheduler write)
and readers (the decision worker) never see a history changing under them."""

from __future__ import annotations

import logging
import sys
import threading
import time

import pytest
from ray import tune

from ray_autoterm import AutoTermSearcher, AutoTermStopper
from ray_autoterm.tune._shared import SharedState

SPACE = {"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)}


@pytest.fixture
def switch_often():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # force thread switches inside every loop
    yield
    sys.setswitchinterval(old)


def folds(i: int) -> list[float]:
    x = (i % 97) / 97
    return [x + 0.01 * k for k in range(5)]


def test_writers_and_readers_on_threads(switch_often):
    state = SharedState()
    errors: list[BaseException] = []
    writers_done = threading.Event()

    def write(w: int) -> None:
        try:
            for i in range(400):
                tid = f"w{w}-{i}"
                if i % 2:  # a streamed trial: five folds, complete at the last
                    for k, v in enumerate(folds(i)):
                        state.ingest(tid, {"fold": k, "fold_loss": v, "num_folds": 5},
                                     {"a": i / 400})
                else:
                    state.ingest(tid, {"cv_scores": folds(i)}, {"a": i / 400})
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
            errors.append(exc)

    def read() -> None:
        try:
            while not writers_done.is_set():
                snap = state.snapshot()
                assert all(r.complete for r in snap)
                assert len({r.trial_id for r in snap}) == len(snap)
                state.completed()
                state.usable(2)
                state.snapshot(len(snap) // 2)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in [*writers, *readers]:
        t.start()
    for t in writers:
        t.join()
    writers_done.set()
    for t in readers:
        t.join()
    assert not errors, errors[0]
    assert state.num_completed == 1600 == len(state.snapshot())


def test_stopper_searcher_and_worker_on_threads(switch_often, caplog):
    """The searcher writing (Tune's driver thread) while the stopper's worker decides: before
    the one lock, History.completed() raised 'dictionary changed size during iteration'."""
    searcher = AutoTermSearcher(SPACE, seed=0)
    stopper = AutoTermStopper(searcher=searcher, mode="min", min_trials=10_000, log_dir="",
                              duty_cycle=1.0)
    caplog.set_level(logging.ERROR, logger="ray_autoterm")
    logging.getLogger("ray_autoterm").addHandler(caplog.handler)
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for i in range(300):
                tid = f"w{w}-{i}"
                result = {"config": {"a": (i % 13) / 13, "b": w / 4}, "cv_scores": folds(i),
                          "done": True}
                if w % 2:
                    searcher.on_trial_complete(tid, result)
                else:
                    stopper(tid, result)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stopper._settle(timeout=120)
    logging.getLogger("ray_autoterm").removeHandler(caplog.handler)
    assert not errors, errors[0]
    assert "failed to evaluate" not in caplog.text, caplog.text
    assert stopper._state.num_completed == 1200
    assert stopper.decisions, "the worker decided"


def quadratic_stream(n: int, seed: int = 0, noise: float = 0.2) -> list[tuple[str, dict]]:
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a, b = rng.random(2)
        loss = (a - 0.3) ** 2 + (b - 0.7) ** 2
        out.append((f"t{i:03d}", {"config": {"a": float(a), "b": float(b)}, "done": True,
                                  "cv_scores": [float(loss + noise * e)
                                                for e in rng.standard_normal(5)]}))
    return out


def test_queued_results_give_the_synchronous_rules_decisions(tmp_path):
    """The background stopper only queues results on Tune's thread; its worker records them in
    batches. Reading the history records what is queued, and the decisions, count by count,
    are the synchronous stopper's on the same stream."""
    stream = quadratic_stream(60)  # the synchronous rule fires at 38
    sync = AutoTermStopper(param_space=SPACE, mode="min", background=False, seed=0,
                           log_dir=str(tmp_path / "sync"))
    queued = AutoTermStopper(param_space=SPACE, mode="min", seed=0, max_lag=10_000,
                             log_dir=str(tmp_path / "queued"))
    for tid, result in stream:
        sync(tid, dict(result))
        if sync.stop_all():
            break
    assert sync.fired is not None and sync.fired.num_trials > 20, "a stream that stops"
    for tid, result in stream[: len(sync.history)]:
        queued(tid, dict(result))
        queued(tid, dict(result))  # Tune passes a final result twice: counted once
    assert len(queued.history) == len(sync.history)  # recorded on read, before any decision
    queued._request_decision()  # as the next result would: the worker catches up in order
    deadline = time.monotonic() + 120
    while queued._worker.pending > 0 and queued.fired is None and time.monotonic() < deadline:
        time.sleep(0.05)
    queued._settle(timeout=120)
    ours = {d.num_trials: d for d in queued.decisions if d.num_trials >= 20}
    theirs = {d.num_trials: d for d in sync.decisions if d.num_trials >= 20}
    assert sorted(ours) == sorted(theirs), "every count from min_trials on, in order"
    for n, d in ours.items():  # the GP's warm starts differ (counts below 20): near, not equal
        assert d.should_stop == theirs[n].should_stop
        assert d.regret_bound == pytest.approx(theirs[n].regret_bound, rel=0.02)
    assert (queued.fired is None) == (sync.fired is None)
    if sync.fired is not None:
        assert queued.fired.num_trials == sync.fired.num_trials


def test_give_up_counts_only_trials_whose_results_are_recorded(tmp_path):
    """Nine trials without folds, then a usable one: the give-up after ten unusable trials
    must not count the tenth before its folds are recorded."""
    stopper = AutoTermStopper(param_space=SPACE, mode="min", log_dir=str(tmp_path), seed=0)
    for i in range(9):
        stopper(f"bad{i}", {"config": {"a": 0.5, "b": 0.5}, "loss": 1.0, "done": True})
    tid, result = quadratic_stream(1)[0]
    stopper(tid, result)
    stopper._settle(timeout=60)
    assert stopper.fired is None, stopper.fired.reason if stopper.fired else ""
    assert len(stopper.history.usable(2)) == 1
