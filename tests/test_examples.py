"""The examples run end to end as scripts (subprocess), and document their options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = ["xgboost_cv.py", "random_forest_cv.py", "mlp_torch_cv.py", "pruning_cv.py",
           "mlp_holdout_asha.py"]
OPTIONS = ["--address", "--num-samples", "--max-concurrent", "--gpus-per-trial",
           "--storage-path", "--seed"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)  # never join a cluster another test left behind
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled", PYTHONUNBUFFERED="1")
    return env


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_lists_the_options(script):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--help"],
        capture_output=True, text=True, timeout=120, env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    for option in OPTIONS:
        assert option in proc.stdout
    assert "Loss:" in proc.stdout  # the docstring says which loss is reported


@pytest.mark.parametrize("script", SCRIPTS)
def test_bad_option_values_are_rejected(script):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--num-samples", "0"],
        capture_output=True, text=True, timeout=120, env=_env(),
    )
    assert proc.returncode == 2
    assert "--num-samples must be >= 1; got 0" in proc.stderr


@pytest.mark.slow
def test_random_forest_example_ends_by_itself(tmp_path):
    budget = 25
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "random_forest_cv.py"), "--num-samples", str(budget),
         "--storage-path", str(tmp_path), "--name", "rf"],
        capture_output=True, text=True, timeout=900, env=_env(),
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert "Ray: started a local Ray instance" in out  # no --address, no RAY_ADDRESS
    # The end: the counts and words of `ray-autoterm report` (one definition per count).
    assert "Trials: " in out and " started, " in out and " finished" in out
    assert "Stopped after " in out or "Not stopped yet" in out
    assert f"Planned budget: {budget} trials (--num-samples)" in out
    assert "Incumbent: trial" in out and 'config: {"max_features"' in out
    log = tmp_path / "rf" / "autoterm_decisions.jsonl"
    assert f"decision log: {log}" in out
    assert log.exists() and log.read_text().strip()
