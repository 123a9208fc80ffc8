"""The offline replay of stopping rules (benchmarks/stopping_rules.py) on tiny synthetic runs."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "stopping_rules.py"
_spec = importlib.util.spec_from_file_location("stopping_rules", _PATH)
rules = importlib.util.module_from_spec(_spec)
sys.modules["stopping_rules"] = rules
_spec.loader.exec_module(rules)


def make_run(cv_means, test_losses=None, times=None, folds=None, configs=None):
    """A run in the format of benchmarks/quality.py, with only the fields the replay reads."""
    n = len(cv_means)
    test_losses = test_losses if test_losses is not None else [0.1] * n
    times = times if times is not None else [1.0] * n
    trials = []
    for i in range(n):
        trials.append({
            "config": configs[i] if configs else {"x": i / max(n - 1, 1)},
            "fold_losses": folds[i] if folds else [cv_means[i]] * 5,
            "cv_mean": cv_means[i], "test_loss": test_losses[i],
            "time_s": times[i], "cpu_s": times[i],
        })
    return {"name": "synthetic", "model": "m", "dataset": "d", "seed": 0, "budget": n,
            "folds": 5, "space": [{"name": "x", "low": 0.0, "high": 1.0, "log": False,
                                   "integer": False}], "trials": trials}


# ----------------------------------------------------------------------------- stagnation
@pytest.mark.parametrize(
    ("values", "patience", "expected"),
    [
        ([5, 4, 3, 3.5, 3.2, 4], 3, 6),  # best at trial 3; trials 4-6 do not improve
        ([5, 4, 3, 3, 3, 3], 3, 6),  # a tie with the best is no improvement
        ([5, 4, 3, 2, 1, 0], 1, None),  # improves every trial: never stops
        ([1, 2, 3], 2, 3),  # best at trial 1
        ([1, 2], 2, None),  # not enough trials without improvement yet
    ],
)
def test_stagnation_stops_exactly_when_expected(values, patience, expected):
    assert rules.stagnation_stop(values, patience) == expected


def test_plateau_drives_the_real_ray_stopper():
    # Ray's ExperimentPlateauStopper: the top 10 values with std <= 0.001, patience 0.
    values = [1.0, 0.9] + [0.5] * 9 + [0.4]
    # After 11 trials the top 10 are 0.9 and nine 0.5s (std 0.12); never plateaus here.
    assert rules.plateau_stop(values[:11], std=0.001, top=10, patience=0) is None
    assert rules.plateau_stop([0.5] * 12, std=0.001, top=10, patience=0) == 10


def test_threshold_and_flag_stops_take_the_first_trial():
    assert rules.threshold_stop({"20": 0.5, "21": None, "22": 0.001, "23": 0.0}, 0.01) == 22
    assert rules.threshold_stop({"20": 0.5}, 0.01) is None
    assert rules.flag_stop({"21": False, "20": False, "22": True}) == 22
    assert rules.flag_stop({"20": False}) is None


# ----------------------------------------------------------------------------- RYC / RTC
def test_ryc_and_rtc_by_hand():
    run = make_run(
        cv_means=[0.5, 0.3, 0.4, 0.2],
        test_losses=[0.6, 0.35, 0.1, 0.25],
        times=[1.0, 2.0, 3.0, 4.0],
    )
    out = rules.outcome(run, 3)
    # Incumbent after 3 trials: trial 2 (CV 0.3, test 0.35); after all 4: trial 4 (test 0.25).
    assert out["ryc"] == pytest.approx((0.25 - 0.35) / 0.35)
    assert out["rtc"] == pytest.approx((10.0 - 6.0) / 10.0)
    assert out["stop"] == 3 and out["stopped"]


def test_a_rule_that_never_stops_scores_zero():
    run = make_run(cv_means=[0.5, 0.3, 0.4, 0.2], test_losses=[0.6, 0.35, 0.1, 0.25])
    for stop in (None, 4):
        out = rules.outcome(run, stop)
        assert out["ryc"] == 0.0 and out["rtc"] == 0.0 and not out["stopped"]
        assert out["stop"] == 4


def test_ryc_sign_and_edge_cases():
    assert rules.ryc(0.2, 0.1) == pytest.approx(0.5)  # early stop was better: positive
    assert rules.ryc(0.1, 0.2) == pytest.approx(-0.5)  # early stop lost accuracy: negative
    assert rules.ryc(0.0, 0.0) == 0.0
    assert rules.incumbent([{"cv_mean": 0.2}, {"cv_mean": 0.1}, {"cv_mean": 0.1}], 3) == 1


# ----------------------------------------------------------------------------- ours
def test_ours_never_stops_before_min_trials():
    # A flat objective with noisy folds: the bound is soon below the error, so the rule stops
    # as early as it may, and not one trial sooner.
    rng = np.random.default_rng(0)
    n, min_trials = 9, 6
    xs = rng.random(n)
    folds = [list(0.3 + 0.001 * x + 0.2 * rng.standard_normal(5)) for x in xs]
    run = make_run([float(np.mean(f)) for f in folds], folds=folds,
                   configs=[{"x": float(x)} for x in xs])
    sig = rules.ours_signals(run, from_trial=3, min_trials=min_trials, min_fit=4)
    early = [t for t in sig["stop"] if int(t) < min_trials]
    assert early and not any(sig["stop"][t] for t in early)
    # ... although the bound was already below the error before min_trials:
    assert any(sig["bound"][t] is not None and sig["bound"][t] < sig["error"][t] for t in early)
    assert rules.flag_stop(sig["stop"]) == min_trials


def test_paper_default_min_trials_is_20():
    from ray_autoterm import AutoTermCriterion

    assert AutoTermCriterion().min_trials == 20 == rules.FROM_TRIAL


def test_optuna_terminator_replay_records_its_numbers():
    pytest.importorskip("optuna")
    rng = np.random.default_rng(1)
    xs = rng.random(21)
    folds = [list((x - 0.4) ** 2 + 0.05 * rng.standard_normal(5)) for x in xs]
    run = make_run([float(np.mean(f)) for f in folds], folds=folds,
                   configs=[{"x": float(x)} for x in xs])
    sig = rules.optuna_signals(run, from_trial=20)
    assert sig is not None and set(sig["stop"]) == {"20", "21"}
    for t in ("20", "21"):
        assert math.isfinite(sig["bound"][t]) and sig["error"][t] > 0
        assert sig["stop"][t] == (sig["bound"][t] < sig["error"][t])
