"""``ray-autoterm report`` and ``plot_decisions`` on realistic, hand-written experiment folders."""

from __future__ import annotations

import doctest
import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from ray_autoterm import DECISION_LOG_NAME, Decision
from ray_autoterm.plotting import NOT_STOPPED_GID, STOP_GID, plot_decisions
from ray_autoterm.report import load_decisions, main, planned_trials

T0 = 1_790_000_000.0
TRIAL_S = 10.0
STOP_AT = 26  # the first t >= 20 with 0.6 * 0.88**t below the (wiggling) error


def make_decisions(last: int, min_trials: int = 20) -> list[Decision]:
    """What the stopper writes: error from trial 1, a bound from trial 3, a stop at STOP_AT."""
    out = []
    for t in range(1, last + 1):
        bound = 0.6 * 0.88**t if t >= 3 else None
        error = 0.02 + 0.002 * (t % 3)
        inc = 0.05 + 0.3 * 0.9**t
        stop = bound is not None and t >= min_trials and bound < error
        out.append(Decision(
            num_trials=t, should_stop=stop, reason="bound below error" if stop else "keep going",
            num_fit=min(t, 20) if bound else None, beta=0.8 if bound else None,
            regret_bound=bound, statistical_error=error, incumbent_trial_id=f"trial_{t:05d}",
            incumbent_config={"lr": round(0.1 / t, 6), "depth": t % 7 + 1},
            incumbent_fold_scores=[inc - 0.01, inc, inc + 0.01], incumbent_value=inc,
            trigger_trial_id=f"trial_{t:05d}", timestamp=T0 + TRIAL_S * t,
        ))
    return out


def make_experiment(root: Path, decisions: list[Decision], num_trials: int, tail: str = "") -> Path:
    """A Tune-like experiment dir: the decision log, trial folders with result.json, state."""
    exp = root / "my_experiment"
    exp.mkdir()
    lines = [json.dumps(d.to_dict()) for d in decisions]
    (exp / DECISION_LOG_NAME).write_text("\n".join(lines) + "\n" + tail)
    trial_data = []
    for i in range(num_trials):
        tid = f"trial_{i + 1:05d}"
        folder = exp / f"objective_{tid}_{i}_lr=0.1_2026-01-01_00-00-00"
        folder.mkdir()
        start = T0 + TRIAL_S * i / 2  # two trials at a time
        rows = [
            {"cv_mean": 0.3, "trial_id": tid, "time_total_s": TRIAL_S * (k + 1) / 3,
             "timestamp": int(start + TRIAL_S * (k + 1) / 3), "done": False, "config": {"lr": 0.1}}
            for k in range(3)
        ]
        (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
        meta = {"trial_id": tid, "status": "TERMINATED", "relative_logdir": folder.name}
        trial_data.append([json.dumps(meta), json.dumps({"start_time": start})])
    state = {"trial_data": trial_data, "runner_data": {}, "stats": {"start_time": T0}}
    (exp / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps(state))
    return exp


@pytest.fixture
def stopped_exp(tmp_path: Path) -> Path:
    # Two trials were still running at the stop; they finished and were logged afterwards.
    return make_experiment(tmp_path, make_decisions(STOP_AT + 2), num_trials=STOP_AT + 2)


@pytest.fixture
def running_exp(tmp_path: Path) -> Path:
    return make_experiment(tmp_path, make_decisions(24), num_trials=25)


def run_report(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------------- summary
def test_summary_of_a_stopped_experiment(stopped_exp: Path, capsys) -> None:
    stop = make_decisions(STOP_AT)[-1]
    assert stop.should_stop
    code, out, err = run_report(capsys, str(stopped_exp), "--planned-trials", "100")
    assert code == 0, err
    assert f"Trials: {STOP_AT + 2} started, {STOP_AT + 2} finished (10.0 s each" in out
    assert f"Stopped after {STOP_AT} trials with usable fold scores" in out
    assert (f"regret bound {stop.regret_bound:.4g} < "
            f"statistical error {stop.statistical_error:.4g}") in out
    assert "(2 more started trials not counted: running at the stop" in out
    assert f"Incumbent: trial trial_{STOP_AT:05d}, mean {stop.incumbent_value:.4g}" in out
    assert f"{stop.incumbent_fold_scores[0]:.4g}" in out and '"depth": 6' in out
    # 72 trials of 10 s saved; 28 trials took 145 s of wall time, two at a time.
    assert "Planned budget: 100 trials (--planned-trials); saved 72 trials (72%)" in out
    assert "about 12.0 min of trial time" in out and "wall-clock" in out
    png = stopped_exp / "autoterm_report.png"
    assert f"Figure: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_of_a_holdout_run_speaks_of_validation_results() -> None:
    import dataclasses

    from ray_autoterm.report import summarize

    stop = dataclasses.replace(make_decisions(STOP_AT)[-1], error_source="holdout",
                               incumbent_fold_scores=[0.1])
    trials = [{"trial_id": f"t{i}", "finished": True, "time_s": 1.0} for i in range(STOP_AT + 1)]
    text = summarize([stop], trials)
    assert f"Stopped after {STOP_AT} trials with usable validation results" in text, text
    assert "without usable validation results" in text and "fold" not in text, text
    assert "holdout SE (sd/sqrt(n))" in text and "on one validation set" in text


def test_summary_of_an_experiment_not_stopped_yet(running_exp: Path, capsys) -> None:
    last = make_decisions(24)[-1]
    code, out, _ = run_report(capsys, str(running_exp))
    assert code == 0
    assert (
        f"Not stopped yet: bound {last.regret_bound:.4g} vs error {last.statistical_error:.4g} "
        "after 24 trials"
    ) in out
    assert "Stopped after" not in out
    assert "Planned budget unknown" in out
    assert (running_exp / "autoterm_report.png").is_file()


def test_output_option_and_unwritable_output(stopped_exp: Path, tmp_path: Path, capsys) -> None:
    target = tmp_path / "out.png"
    code, out, _ = run_report(capsys, str(stopped_exp), "--output", str(target))
    assert code == 0 and target.is_file() and f"Figure: {target}" in out
    code, _, err = run_report(capsys, str(stopped_exp), "-o",
                              str(tmp_path / "no" / "dir" / "x.png"))
    assert code == 2 and "could not write the figure" in err and "Traceback" not in err


def test_budget_read_from_tune_state_files(stopped_exp: Path, capsys) -> None:
    from ray import tune

    assert planned_trials(str(stopped_exp)) is None
    # Tune pickles TuneConfig into tuner.pkl; the search state (also a pickle) wins when present.
    (stopped_exp / "tuner.pkl").write_bytes(
        pickle.dumps({"_tune_config": tune.TuneConfig(num_samples=50)}))
    assert planned_trials(str(stopped_exp)) == 50
    state = {"_total_samples": 120, "num_samples_left": 0}
    (stopped_exp / "basic-variant-state-2026-01-01_00-00-00.json").write_bytes(pickle.dumps(state))
    assert planned_trials(str(stopped_exp)) == 120
    code, out, _ = run_report(capsys, str(stopped_exp))
    assert code == 0 and "Planned budget: 120 trials (Tune's num_samples); saved 92 trials" in out


def test_unlimited_num_samples_means_unknown_budget(stopped_exp: Path) -> None:
    (stopped_exp / "search_gen_state-x.json").write_bytes(pickle.dumps({"total_samples": -1}))
    (stopped_exp / "tuner.pkl").write_bytes(b"not a pickle")
    assert planned_trials(str(stopped_exp)) is None


# ---------------------------------------------------------------------------- user errors
def test_directory_without_decision_log(tmp_path: Path, capsys) -> None:
    code, out, err = run_report(capsys, str(tmp_path))
    assert code == 2 and out == ""
    assert (f"no {DECISION_LOG_NAME} found in {tmp_path}; "
            "was the experiment run with AutoTermStopper?") in err
    assert "Traceback" not in err


def test_storage_path_instead_of_experiment_dir_gets_a_hint(stopped_exp: Path, capsys) -> None:
    code, _, err = run_report(capsys, str(stopped_exp.parent))
    assert code == 2 and f"found one in {stopped_exp}" in err


def test_missing_directory(tmp_path: Path, capsys) -> None:
    code, _, err = run_report(capsys, str(tmp_path / "nope"))
    assert code == 2 and f"{tmp_path / 'nope'} does not exist" in err


def test_bad_arguments_exit_2(stopped_exp: Path, capsys) -> None:
    assert main(["report", str(stopped_exp), "--planned-trials", "0"]) == 2
    assert "positive whole number" in capsys.readouterr().err
    assert main([]) == 2


def test_truncated_last_line_and_unknown_keys(tmp_path: Path, capsys) -> None:
    decisions = make_decisions(24)
    exp = make_experiment(tmp_path, decisions, num_trials=24, tail='{"num_trials": 25, "should_st')
    with open(exp / DECISION_LOG_NAME, "r+") as f:  # a newer version's extra key
        first = json.loads(f.readline())
        rest = f.read()
        f.seek(0)
        f.write(json.dumps({**first, "added_in_v2": [1, 2]}) + "\n" + rest)
    loaded = load_decisions(exp)
    assert loaded == decisions  # the cut-off line is dropped, the extra key ignored
    assert load_decisions(exp / DECISION_LOG_NAME) == decisions
    code, out, _ = run_report(capsys, str(exp))
    assert code == 0 and "after 24 trials" in out


def test_empty_decision_log(tmp_path: Path, capsys) -> None:
    exp = make_experiment(tmp_path, [], num_trials=0)
    (exp / DECISION_LOG_NAME).write_text("")
    code, out, _ = run_report(capsys, str(exp))
    assert code == 0 and "No decision yet" in out and (exp / "autoterm_report.png").is_file()


# --------------------------------------------------------------------------------- figure
def _stop_artists(ax) -> list:
    return [a for a in ax.get_children() if a.get_gid() == STOP_GID]


def test_figure_of_a_stopped_experiment() -> None:
    fig = plot_decisions(make_decisions(STOP_AT), title="demo")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    top, bottom = fig.axes
    assert top.get_yscale() == "log" and bottom.get_yscale() == "linear"
    assert top.get_ylabel() == "regret bound / error (log)"
    assert bottom.get_xlabel() == "completed trials" and "best value so far" in bottom.get_ylabel()
    assert bottom.get_shared_x_axes().joined(top, bottom)
    bound, error, stop_line = top.get_lines()  # two curves and the stop line
    assert len(bound.get_xdata()) == STOP_AT and "regret bound" in bound.get_label()
    assert "statistical error" in error.get_label()
    assert stop_line.get_gid() == STOP_GID and list(stop_line.get_xdata()) == [STOP_AT, STOP_AT]
    assert len(bottom.get_lines()) == 2 and bottom.get_lines()[1].get_gid() == STOP_GID
    notes = [a.get_text() for a in _stop_artists(top) if hasattr(a, "get_text")]
    assert notes and f"stop after {STOP_AT} trials" in notes[0]
    assert f"stopped after {STOP_AT} trials" in fig.get_suptitle() and "demo" in fig.get_suptitle()
    assert not [t for t in top.texts if t.get_gid() == NOT_STOPPED_GID]


def test_figure_of_an_experiment_not_stopped_yet() -> None:
    fig = plot_decisions(make_decisions(24))
    top, bottom = fig.axes
    assert top.get_yscale() == "log" and len(top.get_lines()) == 2 and len(bottom.get_lines()) == 1
    assert not _stop_artists(top) and not _stop_artists(bottom)
    (note,) = [t for t in top.texts if t.get_gid() == NOT_STOPPED_GID]
    assert "not stopped yet" in note.get_text() and "after 24 trials" in note.get_text()
    assert "not stopped yet" in fig.get_suptitle()


def test_figure_into_given_axes_uses_a_twin_axis() -> None:
    fig = Figure()
    ax = fig.subplots()
    assert plot_decisions(make_decisions(STOP_AT), ax=ax) is fig
    assert len(fig.axes) == 2 and fig.axes[0] is ax and ax.get_yscale() == "log"
    assert len(_stop_artists(ax)) == 2  # the line and its annotation
    assert len(ax.get_legend().get_texts()) == 4  # bound, error, stop, incumbent


@pytest.mark.parametrize("decisions", [[], [Decision(0, False, "no trial yet")]])
def test_figure_without_numbers_is_valid(decisions: list[Decision], tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_decisions(decisions)
        fig.savefig(tmp_path / "empty.png")
    assert fig.axes[0].get_yscale() == "log"


@pytest.mark.parametrize("module", ["ray_autoterm.report", "ray_autoterm.plotting"])
def test_docstring_examples(module: str, tmp_path: Path, monkeypatch) -> None:
    import importlib

    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------------------- entry points
def test_python_dash_m(stopped_exp: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "ray_autoterm", "report"]
    done = subprocess.run([*cmd, str(stopped_exp)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"Stopped after {STOP_AT} trials with usable fold scores" in done.stdout
    missing = subprocess.run([*cmd, str(tmp_path / "gone")], capture_output=True, text=True,
                             env=env, timeout=120)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_report_draws_the_calibration_record_of_a_calibrated_run(tmp_path: Path, capsys) -> None:
    """A real calibrated stopper (real GP fits, no Tune) fed 40 trials writes its calibration
    record next to the decision log; the report says how many trials beat the GP's interval
    and draws the record in a second figure."""

    from ray_autoterm import AutoTermStopper
    from ray_autoterm.report import load_calibration
    from tune_objectives import feed_quadratic

    stopper = AutoTermStopper(rule="calibrated", mode="min", background=False, seed=0,
                              log_dir=str(tmp_path), min_trials=10)
    feed_quadratic(stopper, 40, until_fired=True)
    record = stopper.criterion.improvement_evaluator.record
    assert record, "the calibrated rule scored trials against earlier GPs"
    logged, level = load_calibration(str(tmp_path), stopper.run_id)
    assert [p.trial_id for p in logged] == [p.trial_id for p in record]
    assert level == 0.9 and logged[0] == record[0]

    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    q = 1.2815515655446004
    below = sum(p.z > q for p in record)
    assert f"Calibration: {len(record)} trials scored" in out, out
    assert f"{below} ({100 * below / len(record):.0f}%) came out better" in out, out
    assert (tmp_path / "autoterm_report_calibration.png").stat().st_size > 10_000


def test_report_of_an_uncalibrated_run_has_no_calibration_figure(stopped_exp: Path,
                                                                  capsys) -> None:
    assert main(["report", str(stopped_exp)]) == 0
    assert "Calibration" not in capsys.readouterr().out
    assert not (stopped_exp / "autoterm_report_calibration.png").exists()
