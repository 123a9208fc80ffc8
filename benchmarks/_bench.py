"""What the benchmark scripts share: their environment, which code made a result, its output.

Import it before numpy, torch or Ray (the environment is read when those load)::

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _bench  # noqa: E402  (sets the environment, puts the repository on sys.path)
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
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


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """The command that made a result, as a shell line: ``python <script> <arguments>``
    (``argv`` as given to ``main``, or the process's own arguments when ``None``)."""
    args = sys.argv[1:] if argv is None else list(argv)
    return "python " + " ".join(shlex.quote(a) for a in [script, *args])


def emit(text: str, out: str | os.PathLike[str] | None) -> None:
    """Write ``text`` to ``out`` (when given) and print it."""
    if out:
        Path(out).write_text(text)
    print(text)


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


def run_jobs(
    job: Callable[[Any], tuple[str, float, dict[str, Any], str | None]],
    jobs: Sequence[Any],
    processes: int,
    done_line: Callable[[dict[str, Any]], str],
) -> int:
    """Run ``job`` on each of ``jobs`` and print one line per finished job, with an ETA.

    ``job`` returns ``(name, seconds, summary, error)``; ``done_line(summary)`` describes a
    success. With ``processes > 1`` the jobs run in spawned processes (one job each). Returns
    the number of failed jobs.
    """
    start = time.time()
    failures = 0

    def report(i: int, result: tuple[str, float, dict[str, Any], str | None]) -> None:
        nonlocal failures
        name, secs, summary, err = result
        elapsed = time.time() - start
        eta = elapsed / i * (len(jobs) - i)
        if err is not None:
            failures += 1
            print(f"[{i}/{len(jobs)}] {name} FAILED after {secs:.0f} s: {err}", flush=True)
        else:
            print(f"[{i}/{len(jobs)}] {name}: {done_line(summary)} in {secs:.0f} s; elapsed "
                  f"{elapsed / 60:.1f} min, ETA {eta / 60:.1f} min", flush=True)

    if processes <= 1:
        for i, item in enumerate(jobs, 1):
            report(i, job(item))
    elif jobs:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(processes, maxtasksperchild=1) as pool:
            for i, result in enumerate(pool.imap_unordered(job, jobs), 1):
                report(i, result)
    print(f"done in {(time.time() - start) / 60:.1f} min; {failures} failed", flush=True)
    return failures


def start_cluster(nodes: int, cpus_per_node: int) -> Any:
    """A local multi-node Ray cluster (``ray.cluster_utils.Cluster``: a head and ``nodes - 1``
    workers, ``cpus_per_node`` logical CPUs each), with this driver connected to it."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cpus_per_node})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=cpus_per_node)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    return cluster
