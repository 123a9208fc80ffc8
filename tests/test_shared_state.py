"""One lock: writers on several threads (as the stopper, the searcher and the scheduler write)
and readers (the decision worker) never see a history changing under them."""

from __future__ import annotations

import logging
import sys
import threading

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
