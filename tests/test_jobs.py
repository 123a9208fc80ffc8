"""An example submitted with ``ray job submit`` uses the cluster it was submitted to (issue 10.4).

A local 3-node cluster (``ray.cluster_utils.Cluster``: a head and two workers of 1 CPU each, with
the dashboard, which runs Ray's job server) gets ``examples/random_forest_cv.py`` through the
``ray job submit`` command line, exactly as cluster/README.md documents it. The job's driver must
join that cluster (Ray sets ``RAY_ADDRESS`` for it), its trials must run on several nodes, and the
stopper must fire. Before the fix the driver started a local 2-CPU Ray of its own.

No ``--working-dir`` here, as the guide says for one machine: its nodes share one session
directory, and each node's runtime-env agent unpacks the uploaded package into the same
``runtime_resources/working_dir_files/_ray_pkg_<hash>`` with ``overwrite=True`` (``rmtree``
first), deleting the driver's current directory under it (``FileNotFoundError`` from
``os.getcwd`` when Tune ends).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "random_forest_cv.py"
RAY_CLI = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def job_cluster():
    """Head + 2 workers, 1 CPU each, dashboard (job server) on a free port; the test process does
    not connect to it (the job's driver does)."""
    pytest.importorskip("aiohttp", reason="the job server needs ray[default] (the test extra)")
    from ray.cluster_utils import Cluster

    dashboard_port = _free_port()
    cluster = Cluster(
        initialize_head=True,
        connect=False,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": True,
            "dashboard_host": "127.0.0.1",
            "dashboard_port": dashboard_port,
            "dashboard_agent_listen_port": _free_port(),
        },
    )
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, dashboard_agent_listen_port=_free_port())
        cluster.wait_for_nodes()
        yield cluster, f"http://127.0.0.1:{dashboard_port}"
    finally:
        cluster.shutdown()


def test_ray_job_submit_runs_the_example_on_the_cluster(job_cluster, tmp_path):
    from ray.util.state import list_actors

    cluster, dashboard = job_cluster
    cmd = [
        str(RAY_CLI), "job", "submit", "--address", dashboard, "--",
        sys.executable, str(EXAMPLE), "--num-samples", "60", "--max-concurrent", "3",
        "--storage-path", str(tmp_path), "--name", "rf-job",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=_env())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]

    # The driver joined the submitted-to cluster (3 nodes, 3 CPUs), no local Ray of its own.
    assert "Ray: joined the Ray cluster at" in out
    assert "(from RAY_ADDRESS): 3 node(s), 3 CPUs" in out
    assert "Started a local Ray instance" not in out

    # Its trials ran on at least 2 of the nodes (Tune's function trainables: ImplicitFunc actors).
    actors = list_actors(
        address=dashboard, filters=[("class_name", "=", "ImplicitFunc")], detail=True,
        limit=10_000, raise_on_missing_output=False,
    )
    nodes = {a.node_id for a in actors}
    assert len(nodes) >= 2, f"trials ran on {len(nodes)} node(s): {nodes}"

    # The stopper fired, and its decision log says so.
    assert "Stopped after " in out, out[-4000:]
    log = tmp_path / "rf-job" / "autoterm_decisions.jsonl"
    decisions = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert any(d.get("should_stop") for d in decisions), decisions[-1:]


def test_without_an_address_an_example_starts_its_own_local_ray(job_cluster):
    # A cluster runs on this machine, but neither --address nor RAY_ADDRESS asks for it.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import _common; "
        "print(_common.init_ray(num_cpus=1))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(EXAMPLE.parent)],
        capture_output=True, text=True, timeout=300, env=_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Ray: started a local Ray instance" in proc.stdout
    assert "1 node(s), 1 CPUs" in proc.stdout


def test_ray_address_alone_joins_the_cluster(job_cluster):
    cluster, _ = job_cluster
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import _common; "
        "print(_common.init_ray(num_cpus=1))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(EXAMPLE.parent)],
        capture_output=True, text=True, timeout=300, env=_env(RAY_ADDRESS=cluster.address),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    joined = f"joined the Ray cluster at {cluster.address} (from RAY_ADDRESS): 3 node(s)"
    assert joined in proc.stdout
