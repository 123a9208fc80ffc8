"""`ray-autoterm report` on experiment directories made by real Tune runs."""

from __future__ import annotations

import subprocess
import sys

from ray import tune

import tune_objectives as obj
from ray_autoterm import AutoTermSearcher, AutoTermStopper, plot_decisions
from ray_autoterm.report import load_decisions


def run(tmp_path, name: str, **stopper_kwargs) -> tuple[AutoTermStopper, str]:
    searcher = AutoTermSearcher(obj.SPACE, seed=0)
    stopper = AutoTermStopper(searcher=searcher, background=False, **stopper_kwargs)
    tune.run(
        obj.quadratic, search_alg=searcher, stop=stopper, num_samples=40,
        max_concurrent_trials=1, reuse_actors=True, verbose=0,
        storage_path=str(tmp_path), name=name,
    )
    return stopper, str(tmp_path / name)


def report(path: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ray_autoterm", "report", path, *extra],
        capture_output=True, text=True, timeout=120,
    )


def test_report_on_a_stopped_and_a_not_yet_stopped_experiment(ray_local, tmp_path):
    stopped, stopped_dir = run(tmp_path, "stopped", min_trials=5, threshold=1.0)
    assert stopped.fired is not None
    out = report(stopped_dir)
    assert out.returncode == 0, out.stderr
    assert f"{stopped.fired.num_trials}" in out.stdout and "stop" in out.stdout.lower()
    assert (tmp_path / "stopped" / "autoterm_report.png").stat().st_size > 10_000

    running, running_dir = run(tmp_path, "running", min_trials=10_000)
    assert running.fired is None
    out = report(running_dir, "--output", str(tmp_path / "r.png"))
    assert out.returncode == 0, out.stderr
    assert "not stopped" in out.stdout.lower()
    assert (tmp_path / "r.png").exists()

    # The figure a notebook gets: bound and error against trials, log scale.
    fig = plot_decisions(load_decisions(running_dir))
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len([line for line in ax.get_lines() if len(line.get_xdata()) > 1]) >= 2


def test_report_on_empty_and_missing_directories(tmp_path):
    out = report(str(tmp_path))
    assert out.returncode == 2 and "autoterm_decisions.jsonl" in (out.stdout + out.stderr)
    out = report(str(tmp_path / "nope"))
    assert out.returncode == 2 and "does not exist" in (out.stdout + out.stderr)
