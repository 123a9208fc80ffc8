"""The bound's capped fit set (``regret.MAX_FIT``) and the size of what a long search keeps."""

from __future__ import annotations

import dataclasses
import json
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

from ray_autoterm import gp
from ray_autoterm.criterion import regret
from ray_autoterm.criterion.regret import space_filling_subset, top_subset
from ray_autoterm.criterion.terminator import AutoTermCriterion
from ray_autoterm.history import History

RUN = Path(__file__).parents[1] / "benchmarks" / "results" / "runs-xgboost-digits-s0.json"


def _history(n: int, d: int = 3, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    history = History()
    for i in range(n):
        x = rng.random(d)
        folds = ((x - 0.3) ** 2).sum() + 0.05 * rng.standard_normal(5)
        history.add(f"t{i}", {f"x{j}": float(v) for j, v in enumerate(x)}, folds.tolist())
    return history


def _same(a: object, b: object) -> bool:
    """Two decisions equal in everything but when they were made and how long they took."""
    strip = {"wall_time_s": 0.0, "timestamp": 0.0}
    return dataclasses.replace(a, **strip) == dataclasses.replace(b, **strip)  # type: ignore


@pytest.mark.parametrize("n", [3, 20, 41, 500, 1001])
def test_cap_not_engaged_up_to_max_fit(n: int) -> None:
    rng = np.random.default_rng(n)
    losses, X = rng.random(n), rng.random((n, 4))
    assert regret.MAX_FIT == 500  # n_fit <= 500 up to n = 1001 trials at fraction 0.5
    assert top_subset(losses, X=X).tolist() == top_subset(losses, max_size=None).tolist()


def test_cap_engaged_keeps_the_best_and_fills_the_rest() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((1002, 2))
    losses = ((X - 0.3) ** 2).sum(1)
    half = top_subset(losses, max_size=None)
    idx = top_subset(losses, X=X)
    assert len(half) == 501 and len(idx) == 500 and len(set(idx.tolist())) == 500
    assert idx[:250].tolist() == half[:250].tolist()  # the best, in loss order
    assert set(idx.tolist()) <= set(half.tolist())  # the rest from the best half only
    # Space-filling: the 250 others are farther apart than the next 250 by loss.
    def min_gap(rows: np.ndarray) -> float:
        dist = ((X[rows][:, None] - X[rows][None]) ** 2).sum(-1)
        return float(np.sqrt(dist[np.triu_indices(len(rows), 1)].min()))
    assert min_gap(idx[250:]) > min_gap(half[250:500])


def test_space_filling_subset_order_and_duplicates() -> None:
    X = np.array([[0.0], [0.0], [1.0], [0.5], [1.0]])
    assert space_filling_subset(X, 5).tolist() == [0, 2, 3, 1, 4]  # duplicates last
    assert space_filling_subset(X, 0).tolist() == []
    with pytest.raises(ValueError, match="max_size"):
        top_subset([0.1, 0.2, 0.3], X=np.zeros((3, 1)), max_size=1)


def test_decisions_on_a_recorded_run_do_not_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to 500 trials the cap is not engaged: every decision equals the uncapped one."""
    run = json.loads(RUN.read_text())
    history = History()
    capped, exact = AutoTermCriterion(exact_bound=True), AutoTermCriterion(exact_bound=True)
    for i, trial in enumerate(run["trials"]):
        history.add(str(i), trial["config"], trial["fold_losses"])
        if i + 1 in (20, 35, 60, len(run["trials"])):
            a = capped.evaluate(history)
            with monkeypatch.context() as m:
                m.setattr(regret, "MAX_FIT", None)
                b = exact.evaluate(history)
            assert a.fit_ok and _same(a, b)


def test_capped_decision_fits_max_fit_points(monkeypatch: pytest.MonkeyPatch) -> None:
    history = _history(120)
    exact = AutoTermCriterion(exact_bound=True).evaluate(history)
    monkeypatch.setattr(regret, "MAX_FIT", 30)
    capped = AutoTermCriterion(exact_bound=True).evaluate(history)
    assert (exact.num_fit, capped.num_fit) == (60, 30)
    assert capped.fit_ok and capped.regret_bound > 0
    assert capped.statistical_error == exact.statistical_error


def test_what_a_long_search_keeps_grows_linearly() -> None:
    """One decision's log line does not grow with the trials; the history's pickle is linear."""
    lines, pickles = [], []
    for n in (30, 300):
        history = _history(n)
        decision = AutoTermCriterion().evaluate(history)
        lines.append(len(json.dumps(decision.to_dict())))
        pickles.append(len(pickle.dumps(history)))
    assert lines[1] < 1.1 * lines[0]
    assert pickles[1] < 11 * pickles[0]


def test_history_can_be_read_while_another_thread_adds() -> None:
    """The stopper's worker reads the history while Tune's thread records (a race seen at 300
    results/s: "dictionary changed size during iteration")."""
    history, errors, done = History(), [], threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                history.completed()
                history.pruned()
                list(history)
            except RuntimeError as exc:  # pragma: no cover - the failure this test catches
                errors.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(30_000):
            history.add(str(i), {"x": float(i)}, [0.1, 0.2])
    finally:
        done.set()
        reader.join()
    assert not errors and len(history.completed()) == 30_000


@pytest.mark.parametrize("rows_refit_min, refits", [(500, 1), (30, 2)])
def test_fitter_refits_once_enough_rows_are_new(
    monkeypatch: pytest.MonkeyPatch, rows_refit_min: int, refits: int
) -> None:
    """From ``ROWS_REFIT_MIN`` observations on, 10% new rows bring a refit after one fit (a
    capped fit set whose composition moved); below, only the fits count, as before."""
    monkeypatch.setattr(gp, "ROWS_REFIT_MIN", rows_refit_min)
    rng = np.random.default_rng(0)
    X = rng.random((35, 2))
    y = ((X - 0.3) ** 2).sum(1)
    fitter = gp.GPFitter()
    fitter.fit(X[:30], y[:30])
    fitter.fit(X[5:], y[5:])  # 5 of 30 rows new: 17% > 10%, one fit since the refit
    assert (fitter.num_fits, fitter.num_refits) == (2, refits)
