"""What the benchmark scripts share: their environment, which code made a result, its output.

Import it before numpy, torch or Ray (the environment is read when those load)::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _bench  # noqa: E402  (sets the environment, puts the repository on sys.path)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's ray_autoterm, not an installed one

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def single_threaded() -> None:
    """One BLAS/OpenMP thread: a process's CPU time then equals the work of the timed call."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def write_report(text: str, out: str | os.PathLike[str]) -> None:
    """Print a rendered result and write it to ``out`` (creating its folder)."""
    print()
    print(text)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"written to {path}")


def provenance() -> dict[str, Any]:
    """``{"commit": sha or None, "clean": bool or None, "package": path of ray_autoterm}``.

    ``clean`` is whether the tracked code matches the commit (``benchmarks/results/`` aside).
    """
    import ray_autoterm

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                                  text=True, check=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    # The code's state: results written by the benchmarks themselves do not count.
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                 ":(exclude)benchmarks/results")
    return {"commit": commit, "clean": None if status is None else status == "",
            "package": str(Path(ray_autoterm.__file__).parent)}


def describe(info: dict[str, Any]) -> str:
    """One line for a results table: ``commit abc1234 (clean checkout)``."""
    if not info.get("commit"):
        return "commit unknown (not a git checkout)"
    state = {True: "clean tree", False: "UNCOMMITTED changes", None: "state unknown"}[info["clean"]]
    return f"commit {info['commit'][:10]} ({state})"
