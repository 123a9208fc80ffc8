"""Shared command line and Tune wiring of the examples (driver side only).

Each example defines its search space and a self-contained trainable (Tune ships it to the workers
by value); this module parses the common options, starts or joins Ray, runs the Tuner with an
:class:`~ray_autoterm.AutoTermSearcher` linked to an :class:`~ray_autoterm.AutoTermStopper`, and
prints why the search ended.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# The classic progress table honours `metric_columns`, so the bound and the error show live.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def parse_args(
    doc: str, argv: list[str] | None = None, *, num_samples: int = 100, name: str = "autoterm"
) -> argparse.Namespace:
    """The examples' common options (``doc``: the example's module docstring)."""
    parser = argparse.ArgumentParser(
        description=doc.strip().splitlines()[0],
        epilog="\n".join(doc.strip().splitlines()[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--address", default=None,
                        help="address of a running Ray cluster (e.g. auto, or ray://host:10001); "
                             "default: the cluster in RAY_ADDRESS (set for `ray job submit` and "
                             "KubeRay RayJob drivers), else a new local 2-CPU Ray")
    parser.add_argument("--num-samples", type=int, default=num_samples,
                        help=f"trial budget (default {num_samples}); the stopper may end the "
                             "search sooner")
    parser.add_argument("--max-concurrent", type=int, default=2,
                        help="trials run at a time (default 2)")
    parser.add_argument("--gpus-per-trial", type=float, default=0.0,
                        help="GPUs reserved per trial (default 0: CPU only)")
    parser.add_argument("--storage-path", default=os.path.expanduser("~/ray_results"),
                        help="where Tune writes the experiment (default ~/ray_results)")
    parser.add_argument("--name", default=None,
                        help=f"experiment name (default {name}-<unix time>)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the searcher, the CV splits and the models (default 0)")
    args = parser.parse_args(argv)
    if args.num_samples < 1:
        parser.error(f"--num-samples must be >= 1; got {args.num_samples}")
    if args.max_concurrent < 1:
        parser.error(f"--max-concurrent must be >= 1; got {args.max_concurrent}")
    if args.gpus_per_trial < 0:
        parser.error(f"--gpus-per-trial must be >= 0; got {args.gpus_per_trial}")
    args.name = args.name or f"{name}-{int(time.time())}"
    args.storage_path = os.path.abspath(os.path.expanduser(args.storage_path))
    return args


def init_ray(address: str | None = None, *, num_cpus: int | None = None) -> str:
    """Join the cluster this script was started for, else start a local Ray; say which.

    * ``address`` given (``--address auto``, ``ray://host:10001``, ``host:6379``): join it.
    * ``RAY_ADDRESS`` set: join that cluster. Ray sets it for every driver it starts itself:
      ``ray job submit`` (any cluster: local, ``ray up``, KubeRay ``RayCluster``) and a KubeRay
      ``RayJob``; ``ray.init()`` without an address reads it.
    * Neither: start a new local Ray (``address="local"``, ``num_cpus`` CPUs), even if
      ``ray start`` left a cluster running on this machine: joining one is asked for explicitly
      (``--address auto``, as ``ray submit`` on a launcher cluster needs).

    Returns one line for the log: joined or started, with the nodes and CPUs found.
    """
    import ray

    env_address = os.environ.get("RAY_ADDRESS") or None
    if address or env_address:
        # Joining: Ray refuses num_cpus/include_dashboard for an existing cluster.
        ray.init(address=address, log_to_driver=False)
        how = f"joined the Ray cluster at {address or env_address}" + (
            "" if address else " (from RAY_ADDRESS)")
    else:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        how = ("started a local Ray instance (no --address and no RAY_ADDRESS; to use a running "
               "cluster pass --address auto or submit with `ray job submit`)")
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = ray.cluster_resources().get("CPU", 0)
    return f"Ray: {how}: {len(nodes)} node(s), {cpus:g} CPUs."


def run_search(
    trainable: Callable[[dict[str, Any]], None],
    space: Mapping[str, Any],
    args: argparse.Namespace,
    *,
    loss_name: str,
    constants: Mapping[str, Any] | None = None,
) -> int:
    """Tune ``trainable`` over ``space`` until the stopper fires or the budget is spent.

    ``constants`` (seed, GPU flag, ...) are merged into every config as fixed values (they take
    no GP dimension). Returns the process exit code.
    """
    from ray import tune

    from ray_autoterm import AutoTermSearcher, AutoTermStopper

    print(init_ray(args.address, num_cpus=2))

    param_space = {**dict(space), **dict(constants or {})}
    searcher = AutoTermSearcher(param_space, seed=args.seed)
    # Linked: one history and one GP fitter; once the stopper fires the searcher proposes nothing.
    stopper = AutoTermStopper(searcher=searcher, seed=args.seed)
    resources = {"cpu": 1, "gpu": args.gpus_per_trial}
    reporter = tune.CLIReporter(
        metric_columns={
            "cv_mean": f"CV {loss_name}",
            "autoterm/regret_bound": "regret bound",
            "autoterm/statistical_error": "stat. error",
        },
        parameter_columns=list(space)[:4],
        max_report_frequency=15,
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=args.num_samples,
            max_concurrent_trials=args.max_concurrent, reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            stop=stopper, storage_path=args.storage_path, name=args.name,
            progress_reporter=reporter, verbose=1,
        ),
    )
    start = time.time()
    grid = tuner.fit()  # the stopper's callback makes its final decision at the end
    seconds = time.time() - start
    exp_dir = stopper.log_dir or getattr(grid, "experiment_path", "") or ""
    print()
    print("=" * 78)
    print_outcome(stopper, exp_dir, args.num_samples, seconds)
    print("=" * 78)
    return 0


def print_outcome(stopper: Any, exp_dir: str, budget: int, seconds: float) -> None:
    """Why the search ended, with the counts of ``ray-autoterm report`` (one definition each).

    Trials *started* and *finished* are read from Tune's experiment state as the report reads
    them; the stop names the trials with usable fold scores it was decided on.
    """
    from ray_autoterm.report import ReportError, load_decisions, read_trials, summarize

    try:
        decisions = load_decisions(exp_dir)  # the latest run's log, exactly what the report reads
        trials = read_trials(exp_dir)
    except (ReportError, OSError):
        decisions, trials = list(stopper.decisions), []
    print(summarize(decisions, trials, budget, "--num-samples"))
    print(f"Wall-clock: {seconds:.0f} s for the search.")
    log = os.path.join(exp_dir, "autoterm_decisions.jsonl")
    print(f"Experiment directory: {exp_dir}")
    print(f"  decision log: {log}{'' if os.path.exists(log) else ' (not written)'}")
    print(f"  the same summary, and a figure: ray-autoterm report {exp_dir}")
