"""The offline replay of stopping rules (benchmarks/stopping_rules.py) on tiny synthetic runs."""

from __future__ import annotations

import importlib.util
import json
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
    sig = rules.ours_signals(run, from_trial=3, min_trials=min_trials, min_fit=4,
                             **rules.paper_keywords())  # Eq. 10, whatever the default rule
    early = [t for t in sig["stop"] if int(t) < min_trials]
    assert early and not any(sig["stop"][t] for t in early)
    # ... although the bound was already below the error before min_trials:
    assert any(sig["bound"][t] is not None and sig["bound"][t] < sig["error"][t] for t in early)
    assert rules.flag_stop(sig["stop"]) == min_trials
    # Evaluated up to the first stop only (UNTIL_STOP): the stop trial is the last one recorded.
    assert max(int(t) for t in sig["stop"]) == min_trials and sig["until_stop"]


def test_paper_default_min_trials_is_20():
    from ray_autoterm.criterion import AutoTermCriterion

    assert AutoTermCriterion().min_trials == 20 == rules.FROM_TRIAL


def test_optuna_terminator_replay_records_its_numbers(monkeypatch):
    pytest.importorskip("optuna")
    monkeypatch.setattr(rules, "UNTIL_STOP", False)  # every trial, not just up to the stop
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


# ----------------------------------------------------------------------------- statistics
def test_bootstrap_interval_by_hand():
    # Resampling [0, 1] (two runs): the mean is 0 with probability 1/4, 1/2 w.p. 1/2, 1 w.p.
    # 1/4, so the 2.5% and 97.5% percentiles of 2,000 resampled means are 0 and 1.
    assert rules.bootstrap_ci([0.0, 1.0]) == pytest.approx((0.0, 1.0))
    # [0, 0, 0, 3]: k threes ~ Binomial(4, 1/4); mean 3k/4. P(k = 0) = 0.32 > 2.5%: low 0.
    # P(k >= 3) = 0.051 > 2.5% > P(k = 4) = 0.004: high 9/4.
    assert rules.bootstrap_ci([0.0, 0.0, 0.0, 3.0]) == pytest.approx((0.0, 2.25))
    # Median of 4 = mean of the middle two: 0 (k <= 1), 1.5 (k = 2), 3 (k >= 3, p = 0.051).
    assert rules.bootstrap_ci([0.0, 0.0, 0.0, 3.0], "median") == pytest.approx((0.0, 3.0))
    # One run, or all runs equal: the value itself; the same numbers every time (fixed seed).
    assert rules.bootstrap_ci([0.25]) == (0.25, 0.25)
    assert rules.bootstrap_ci([0.1, 0.1, 0.1]) == (0.1, 0.1)
    x = list(np.random.default_rng(3).normal(size=20))
    lo, hi = rules.bootstrap_ci(x)
    assert lo < np.mean(x) < hi and (lo, hi) == rules.bootstrap_ci(x)
    # ... and it is a bootstrap of the mean: about ±1.96 standard errors wide.
    se = np.std(x) / math.sqrt(len(x))
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)


def _row(run, ryc, rtc=0.5, stop=50, stopped=True):
    return {"run": run, "ryc": ryc, "rtc": rtc, "rtc_cpu": rtc, "stop": stop, "stopped": stopped}


def test_paired_difference_matches_runs_by_name():
    ref = [_row("a", 0.0, 0.1), _row("b", -0.1, 0.2), _row("c", 0.5, 0.3)]
    rows = [_row("b", 0.0, 0.6), _row("a", 0.1, 0.2), _row("z", 9.0, 9.0)]  # z: not in ref
    d = rules.paired_difference(rows, ref, "ryc")
    assert d["n"] == 2 and d["mean"] == pytest.approx(0.1)
    assert d["ci"] == pytest.approx((0.1, 0.1))  # the same difference on both runs
    d = rules.paired_difference(rows, ref, "rtc")
    # Differences 0.4 (b) and 0.1 (a): mean 0.25; resampling two values: interval (0.1, 0.4).
    assert d["mean"] == pytest.approx(0.25) and d["ci"] == pytest.approx((0.1, 0.4))
    assert rules.paired_difference(rows, [], "ryc")["n"] == 0


def test_rule_statistics_by_hand():
    rows = [_row("a", 0.0, 0.2, 30), _row("b", -0.02, 0.6, 40),
            _row("c", -0.004, 0.4, 20), _row("d", 0.01, 0.0, 100, stopped=False)]
    ref = [_row("a", 0.0, 0.1), _row("b", 0.0, 0.1), _row("c", 0.0, 0.1), _row("d", 0.0, 0.1)]
    st = rules.rule_statistics(rows, ref)
    assert st["n"] == 4 and st["fired"] == 3
    assert st["mean_ryc"] == pytest.approx(-0.0035)
    assert st["median_ryc"] == pytest.approx(-0.002)  # mean of -0.004 and 0.0
    assert st["mean_rtc"] == pytest.approx(0.3) and st["median_rtc"] == pytest.approx(0.3)
    assert st["lost"] == 0.25  # only b is below -0.005 (c's -0.004 is within the tolerance)
    assert st["worst_ryc"] == -0.02 and st["worst_run"] == "b"
    assert st["mean_stop"] == pytest.approx(47.5)
    assert st["delta_ryc"]["mean"] == pytest.approx(-0.0035)
    assert st["delta_rtc"]["mean"] == pytest.approx(0.2)
    lo, hi = st["mean_ryc_ci"]
    assert -0.02 <= lo < st["mean_ryc"] < hi <= 0.01
    assert not rules.meets_target(st)  # worst run below -0.03? no; mean RTC 30% < 40%
    assert rules.meets_target({**st, "mean_rtc": 0.45})
    assert not rules.meets_target({**st, "mean_rtc": 0.45, "worst_ryc": -0.031})


def test_oracle_stops_at_the_first_trial_within_tolerance():
    run = make_run(cv_means=[0.5, 0.4, 0.3, 0.2, 0.25, 0.1],
                   test_losses=[1.0, 0.9, 0.5, 0.503, 0.4, 0.5])
    # Final incumbent: trial 6, test 0.5. After 3 trials the incumbent (trial 3) has 0.5 too.
    assert rules.oracle_stop(run, from_trial=1) == 3
    assert rules.oracle_stop(run, from_trial=3) == 3
    # From 4: the incumbent is trial 4 (0.503: RYC = -0.003/0.503 = -0.006 < -0.005) up to
    # trial 5, so the oracle waits for trial 6.
    assert rules.oracle_stop(run, from_trial=4) == 6
    assert rules.oracle_stop(run, from_trial=4, tolerance=0.01) == 4
    out = rules.outcome(run, rules.oracle_stop(run, from_trial=4))
    assert out["ryc"] == 0.0 and not out["stopped"]


def test_outcome_on_the_test_error_rate():
    run = make_run(cv_means=[0.5, 0.3, 0.4, 0.2], test_losses=[0.6, 0.35, 0.1, 0.25])
    for tr, e in zip(run["trials"], [0.3, 0.2, 0.1, 0.1], strict=True):
        tr["test_error"] = e
    out = rules.outcome(run, 2, target="test_error")
    assert out["ryc"] == pytest.approx((0.1 - 0.2) / 0.2)


# ----------------------------------------------------------------------------- variants
def test_variant_keywords_pass_through_and_are_cached_one_file_each(tmp_path):
    assert rules.variant_key({"a": 1, "b": 2.0}) == rules.variant_key({"b": 2.0, "a": 1})
    assert rules.variant_key({"a": 1}) != rules.variant_key({"a": 2})
    rng = np.random.default_rng(0)
    xs = rng.random(8)
    folds = [list((x - 0.4) ** 2 + 0.05 * rng.standard_normal(5)) for x in xs]
    run = make_run([float(np.mean(f)) for f in folds], folds=folds,
                   configs=[{"x": float(x)} for x in xs])
    run["name"] = "runs-toy-s0"
    path = tmp_path / "runs-toy-s0.json"
    path.write_text(json.dumps(run))
    variants = {"small fit": {"min_fit": 4, "min_trials": 6},
                "small fit, β 1": {"min_fit": 4, "min_trials": 6, "beta_scale": 1.0}}
    kws = {label: rules._variant_keywords(7, kw) for label, kw in variants.items()}
    for label, kw in variants.items():
        assert rules._todo(str(path), 7, False, {label: kw})[1] == [label]
        name, _ = rules._signals_job((str(path), 7, False, {label: kw}))
        assert name == "runs-toy-s0"
    files = sorted((tmp_path / "signals" / "variants").iterdir())
    assert [f.name for f in files] == sorted(
        f"toy-s0--{rules.variant_key(kw)}.json" for kw in kws.values())
    sig = rules.load_signals(path, 7, variants)
    for label in variants:
        assert set(sig[f"variant:{label}"]["stop"]) == {"7", "8"}
    assert rules._todo(str(path), 7, False, variants) == (False, [])
    # A keyword the criterion does not know is not filtered out: it reaches AutoTermCriterion.
    with pytest.raises(TypeError, match="no_such_keyword"):
        rules.ours_signals(run, from_trial=7, no_such_keyword=1)


def test_grouped_table_end_to_end(tmp_path):
    pytest.importorskip("optuna")
    rng = np.random.default_rng(2)
    for g, seed in (("a", 0), ("a", 1), ("b", 0)):
        xs = rng.random(22)
        folds = [list((x - 0.4) ** 2 + 0.05 * rng.standard_normal(5)) for x in xs]
        run = make_run([float(np.mean(f)) for f in folds], folds=folds,
                       test_losses=list((xs - 0.4) ** 2 + 0.1),
                       configs=[{"x": float(x)} for x in xs])
        run.update(name=f"runs-{g}-s{seed}", seed=seed, task=f"{g}-m")
        (tmp_path / g).mkdir(exist_ok=True)
        (tmp_path / g / f"runs-{g}-s{seed}.json").write_text(json.dumps(run))
    out = tmp_path / "table.md"
    code = rules.main(["--group", f"A={tmp_path}/a/runs-*.json", "--group",
                       f"B={tmp_path}/b/runs-*.json", "--out", str(out), "--from-trial", "20",
                       "--variant", 'β 1={"beta_scale": 1.0}'])
    assert code == 0
    text = out.read_text()
    assert "## A" in text and "## B" in text and rules.ORACLE_ROW in text
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["groups"]["A"]["runs"] == 2 and data["groups"]["B"]["runs"] == 1
    st = data["groups"]["A"]["stats"]
    assert {rules.PAPER_ROW, "ours (β 1)", "Optuna terminator", rules.ORACLE_ROW} <= set(st)
    assert st[rules.PAPER_ROW]["delta_ryc"]["mean"] == 0.0
    rows = [r for r in data["rows"] if r["group"] == "A" and r["rule"] == rules.ORACLE_ROW]
    assert len(rows) == 2 and all(r["stop"] >= 20 for r in rows)


def test_cached_signals_are_reused_only_for_the_same_rule():
    paper = {"from_trial": 20, "rule": "paper"}
    # Cached before AutoTermCriterion had rules: made with the paper's rule.
    assert rules.same_settings({"from_trial": 20}, paper)
    assert not rules.same_settings({"from_trial": 20}, {"from_trial": 20, "rule": "paired"})
    # A variant naming no rule ran under the default of its time: not reused for another one.
    assert rules.same_settings({"from_trial": 20, "beta_scale": 1.0, "default rule": "paper"},
                               {"from_trial": 20, "beta_scale": 1.0, "rule": "paper"})
    assert not rules.same_settings({"from_trial": 20, "beta_scale": 1.0},
                                   {"from_trial": 20, "beta_scale": 1.0, "default rule": "pooled"})
    assert not rules.same_settings(None, paper)
    assert rules.variant_key({"beta_scale": 1.0, "default rule": "paper"}) == rules.variant_key(
        {"rule": "paper", "beta_scale": 1.0})
