"""Which code made a benchmark result: the git commit and whether the tree was clean."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


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
