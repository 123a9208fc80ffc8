"""The cluster configurations under cluster/ are valid for the tools that read them.

* Ray cluster-launcher YAMLs (aws.yaml, local.yaml): against the JSON schema shipped inside the
  installed Ray package, and through Ray's own config preparation (what `ray up` does before it
  contacts any machine).
* KubeRay manifests (RayJob, RayCluster): against the CRDs' openAPIV3Schema (ray.io/v1), closed to
  unknown fields the way `kubectl apply` (strict field validation) is.
* The install order everywhere: the CPU build of torch 2.13.0 before ray-autoterm.

Fast and offline: no Ray cluster, no Kubernetes, no network.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "cluster"
# KubeRay's RayJob/RayCluster CRDs, vendored unmodified (Apache-2.0; source, commit, checksums in
# the README there), so that every clone runs the manifest checks.
CRD_DIR = Path(__file__).resolve().parent / "data" / "kuberay"

TORCH_PIN = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
RAY_IMAGE_RE = re.compile(r"^rayproject/ray:(?P<ray>\d+\.\d+\.\d+)-py311-cpu$")
EXAMPLE = "examples/xgboost_cv.py"


def _load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _load_documents(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


# --------------------------------------------------------------------------------------------
# Ray cluster launcher
# --------------------------------------------------------------------------------------------

LAUNCHER_CONFIGS = ["aws.yaml", "local.yaml"]


@pytest.fixture(scope="module")
def ray_schema() -> dict:
    import ray

    path = Path(os.path.dirname(ray.__file__)) / "autoscaler" / "ray-schema.json"
    assert path.is_file(), f"Ray ships no cluster-launcher schema at {path}"
    with open(path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.validators.validator_for(schema).check_schema(schema)
    return schema


def _launcher_errors(schema: dict, config: dict) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(config)
    ]


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
def test_launcher_config_matches_rays_schema(ray_schema: dict, name: str) -> None:
    config = _load_yaml(CLUSTER / name)
    assert _launcher_errors(ray_schema, config) == []


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
def test_launcher_config_survives_rays_own_preparation(name: str) -> None:
    """`ray up` fills in the provider defaults, then validates; both must pass offline."""
    try:
        from ray.autoscaler._private.util import prepare_config, validate_config
    except ImportError as exc:  # private API; the schema test above still runs
        pytest.skip(f"Ray's config preparation is not importable here: {exc}")
    prepared = prepare_config(_load_yaml(CLUSTER / name))
    validate_config(prepared)
    head = prepared["head_node_type"]
    assert head in prepared["available_node_types"]
    # Setup commands reach every node: merged into the head's and the workers' setup.
    common = prepared["setup_commands"]
    assert prepared["head_setup_commands"][: len(common)] == common
    assert prepared["worker_setup_commands"][: len(common)] == common


def test_rays_schema_rejects_broken_launcher_configs(ray_schema: dict) -> None:
    config = _load_yaml(CLUSTER / "aws.yaml")

    typo = copy.deepcopy(config)
    typo["setup_command"] = typo.pop("setup_commands")  # unknown top-level key
    assert _launcher_errors(ray_schema, typo)

    wrong_type = copy.deepcopy(config)
    wrong_type["max_workers"] = "four"
    assert any(e.startswith("max_workers") for e in _launcher_errors(ray_schema, wrong_type))

    no_provider = copy.deepcopy(config)
    del no_provider["provider"]
    assert _launcher_errors(ray_schema, no_provider)


def _pip_install_args(command: str) -> list[str] | None:
    """The arguments of the first `pip install` in a shell command line, or None."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    simple_commands: list[list[str]] = [[]]
    for token in lexer:  # quotes respected; `&&`, `;`, `|` ... separate commands
        if token and set(token) <= set("&;|()<>"):
            simple_commands.append([])
        else:
            simple_commands[-1].append(token)
    for words in simple_commands:
        for i in range(len(words) - 1):
            if re.fullmatch(r"(.*/)?pip[\d.]*", words[i]) and words[i + 1] == "install":
                return words[i + 2 :]
            if words[i : i + 3] == ["-m", "pip", "install"]:
                return words[i + 3 :]
    return None


def _torch_requirements(args: list[str]) -> list[str]:
    return [a for a in args if re.match(r"^torch($|[<>=!~\[ ;@])", a)]


# ray-autoterm with the examples extra: by name (from git or PyPI), or a local checkout (".").
PROJECT_RE = re.compile(r"^(ray-autoterm|\.)\[[^\]]*\bexamples\b")


def _assert_torch_before_project(commands: list[str], where: str) -> None:
    installs = [(i, _pip_install_args(c)) for i, c in enumerate(commands)]
    installs = [(i, args) for i, args in installs if args is not None]
    project = [i for i, args in installs if any(PROJECT_RE.match(a) for a in args)]
    torch_first = [
        i for i, args in installs if _torch_requirements(args) == [TORCH_PIN] and i not in project
    ]
    assert torch_first, f"{where}: no command installs {TORCH_PIN} on its own"
    assert project, f"{where}: no command installs ray-autoterm with the examples extra"
    assert torch_first[0] < project[0], f"{where}: ray-autoterm is installed before torch"
    by_index = dict(installs)
    assert TORCH_CPU_INDEX in by_index[torch_first[0]], f"{where}: torch not from the CPU index"
    for i, args in installs:
        # Any later mention of torch pins the same version: pip cannot swap the build.
        assert all(r == TORCH_PIN for r in _torch_requirements(args)), (where, commands[i])


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
def test_launcher_installs_cpu_torch_before_the_project(name: str) -> None:
    config = _load_yaml(CLUSTER / name)
    _assert_torch_before_project(config["setup_commands"], name)
    # Nothing installs the project ahead of setup_commands.
    assert not any("ray-autoterm" in c for c in config.get("initialization_commands", []))
    # The package source is a placeholder the user is pointed to.
    assert "PROJECT_SOURCE" in (CLUSTER / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", LAUNCHER_CONFIGS)
def test_launcher_starts_ray_on_head_and_workers(name: str) -> None:
    config = _load_yaml(CLUSTER / name)
    head = " ; ".join(config["head_start_ray_commands"])
    workers = " ; ".join(config["worker_start_ray_commands"])
    assert "ray start --head --port=6379" in head
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in head
    assert "ray start --address=$RAY_HEAD_IP:6379" in workers


def test_aws_config() -> None:
    config = _load_yaml(CLUSTER / "aws.yaml")
    assert config["provider"]["type"] == "aws"
    assert re.match(r"^[a-z]{2}-[a-z]+-\d$", config["provider"]["region"])
    node_types = config["available_node_types"]
    assert config["head_node_type"] in node_types
    workers = [t for name, t in node_types.items() if name != config["head_node_type"]]
    assert workers, "no worker node type"
    for node_type in node_types.values():
        assert node_type["node_config"]["InstanceType"]
    for worker in workers:
        assert 0 <= worker["min_workers"] <= worker["max_workers"] <= config["max_workers"]
    assert RAY_IMAGE_RE.match(config["docker"]["image"]), config["docker"]["image"]


def test_local_config() -> None:
    config = _load_yaml(CLUSTER / "local.yaml")
    provider = config["provider"]
    assert provider["type"] == "local"
    assert provider["head_ip"] and provider["worker_ips"]
    assert provider["head_ip"] not in provider["worker_ips"]
    assert config["auth"]["ssh_user"]
    # The local provider builds its own node type; listing any makes `ray up` abort.
    assert "available_node_types" not in config
    assert config["max_workers"] <= len(provider["worker_ips"])


def _dockerfile() -> tuple[str, list[str]]:
    """The Dockerfile's base image (ARGs substituted) and its instructions, one per line."""
    text = (CLUSTER / "Dockerfile").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.replace("\\\n", " ").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    args = {m[1]: m[2] for ln in lines if (m := re.match(r"^ARG (\w+)=(\S+)$", ln))}
    base = next(ln.split()[1] for ln in lines if ln.startswith("FROM "))
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], base), lines


def test_dockerfile_installs_cpu_torch_before_the_project() -> None:
    base, lines = _dockerfile()
    assert RAY_IMAGE_RE.match(base), base
    runs = [ln[len("RUN "):] for ln in lines if ln.startswith("RUN ")]
    _assert_torch_before_project(runs, "Dockerfile")
    # What the project install needs is copied in before it.
    copies = " ".join(ln for ln in lines if ln.startswith("COPY "))
    for needed in ("pyproject.toml", "README.md", "ray_autoterm", "examples"):
        assert needed in copies, needed


def test_one_ray_version_everywhere() -> None:
    """`ray up` needs the same Ray locally and on the nodes; keep all files on one version."""
    versions = {"Dockerfile": RAY_IMAGE_RE.match(_dockerfile()[0])["ray"]}
    aws_image = _load_yaml(CLUSTER / "aws.yaml")["docker"]["image"]
    versions["aws.yaml"] = RAY_IMAGE_RE.match(aws_image)["ray"]
    local_setup = " ".join(_load_yaml(CLUSTER / "local.yaml")["setup_commands"])
    versions["local.yaml"] = re.search(r"ray\[[^\]]*\]==(\d+\.\d+\.\d+)", local_setup)[1]
    for name, kind in (("rayjob.yaml", "RayJob"), ("raycluster.yaml", "RayCluster")):
        versions[name] = _cluster_spec(_one(CLUSTER / "kuberay" / name, kind))["rayVersion"]
    assert len(set(versions.values())) == 1, versions


# --------------------------------------------------------------------------------------------
# KubeRay
# --------------------------------------------------------------------------------------------


def _crd_schema(filename: str) -> dict:
    path = CRD_DIR / filename
    assert path.is_file(), f"vendored KubeRay CRD missing: {path} (see {CRD_DIR}/README.md)"
    return _crd_v1_schema(path)


def test_vendored_crds_are_the_recorded_upstream_files() -> None:
    import hashlib

    readme = (CRD_DIR / "README.md").read_text(encoding="utf-8")
    recorded = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    )
    assert set(recorded) == {"ray.io_rayjobs.yaml", "ray.io_rayclusters.yaml"}
    for name, digest in recorded.items():
        assert hashlib.sha256((CRD_DIR / name).read_bytes()).hexdigest() == digest, name


@functools.cache
def _crd_v1_schema(path: Path) -> dict:
    """spec.versions[name == v1].schema.openAPIV3Schema of a CRD file (parsed once; large)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as f:
        crd = yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def _kubernetes_to_json_schema(node: Any) -> Any:
    """An openAPIV3Schema as a JSON schema that validates like the API server (mostly).

    * `x-kubernetes-int-or-string`: an integer or a string (added where no `anyOf` says so).
    * Objects with `properties` are closed (`additionalProperties: false`) unless they carry
      `x-kubernetes-preserve-unknown-fields`: `kubectl apply` rejects unknown fields (strict
      field validation) where a plain JSON-schema check would let a typo through.
    Not modelled: CEL rules (`x-kubernetes-validations`), list/map types, formats such as
    int32, and ObjectMeta (`metadata` is only `type: object` in a CRD; checked separately).
    """
    if isinstance(node, list):
        return [_kubernetes_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _kubernetes_to_json_schema(v) for k, v in node.items()}
    if out.get("x-kubernetes-int-or-string") and "anyOf" not in out and "oneOf" not in out:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        out.get("type") == "object"
        and isinstance(out.get("properties"), dict)
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _crd_validator(filename: str):
    schema = _kubernetes_to_json_schema(_crd_schema(filename))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _manifest_errors(validator, manifest: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(manifest)
    ]


def _one(path: Path, kind: str) -> dict:
    docs = [d for d in _load_documents(path) if d.get("kind") == kind]
    assert len(docs) == 1, f"{path.name}: expected one {kind}, found {len(docs)}"
    return docs[0]


KUBERAY = [
    ("rayjob.yaml", "RayJob", "ray.io_rayjobs.yaml"),
    ("raycluster.yaml", "RayCluster", "ray.io_rayclusters.yaml"),
]


@pytest.fixture(scope="module")
def rayjob() -> dict:
    return _one(CLUSTER / "kuberay" / "rayjob.yaml", "RayJob")


@pytest.fixture(scope="module")
def raycluster() -> dict:
    return _one(CLUSTER / "kuberay" / "raycluster.yaml", "RayCluster")


def _cpus(quantity: str | int) -> float:
    """A Kubernetes CPU quantity ("2", "500m", 2) in CPUs."""
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _head_container(manifest: dict) -> dict:
    return _cluster_spec(manifest)["headGroupSpec"]["template"]["spec"]["containers"][0]


def _cluster_spec(manifest: dict) -> dict:
    return manifest["spec"]["rayClusterSpec"] if manifest["kind"] == "RayJob" else manifest["spec"]


@pytest.mark.parametrize(("name", "kind", "crd"), KUBERAY)
def test_kuberay_manifest_matches_crd(name: str, kind: str, crd: str) -> None:
    validator = _crd_validator(crd)
    manifest = _one(CLUSTER / "kuberay" / name, kind)
    assert manifest["apiVersion"] == "ray.io/v1"
    assert _manifest_errors(validator, manifest) == []
    # ObjectMeta, which the CRD leaves to the API server: a DNS-1123 label as the name.
    assert re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", manifest["metadata"]["name"])
    assert len(manifest["metadata"]["name"]) <= 63


def test_crd_validator_rejects_broken_manifests(rayjob: dict) -> None:
    validator = _crd_validator("ray.io_rayjobs.yaml")

    wrong_type = copy.deepcopy(rayjob)
    wrong_type["spec"]["shutdownAfterJobFinishes"] = "yes"
    assert any("shutdownAfterJobFinishes" in e for e in _manifest_errors(validator, wrong_type))

    wrong_required = copy.deepcopy(rayjob)
    wrong_required["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["groupName"] = 7
    assert any("groupName" in e for e in _manifest_errors(validator, wrong_required))

    missing_required = copy.deepcopy(rayjob)
    del missing_required["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["maxReplicas"]
    assert any("maxReplicas" in e for e in _manifest_errors(validator, missing_required))

    typo = copy.deepcopy(rayjob)
    typo["spec"]["shutdownAfterJobFinish"] = typo["spec"].pop("shutdownAfterJobFinishes")
    assert any("shutdownAfterJobFinish" in e for e in _manifest_errors(validator, typo))

    bad_quantity = copy.deepcopy(rayjob)
    _head_container(bad_quantity)["resources"]["requests"]["cpu"] = "two cores"
    assert any("requests/cpu" in e for e in _manifest_errors(validator, bad_quantity))

    # Integers are valid quantities too (int-or-string).
    int_quantity = copy.deepcopy(rayjob)
    _head_container(int_quantity)["resources"]["requests"]["cpu"] = 2
    assert _manifest_errors(validator, int_quantity) == []


def test_int_or_string_without_any_of_is_handled() -> None:
    schema = _kubernetes_to_json_schema(
        {"type": "object", "properties": {"port": {"x-kubernetes-int-or-string": True}}}
    )
    validator = jsonschema.Draft7Validator(schema)
    assert validator.is_valid({"port": 8080}) and validator.is_valid({"port": "http"})
    assert not validator.is_valid({"port": 1.5}) and not validator.is_valid({"prot": 1})


def test_rayjob_runs_the_example_to_termination(rayjob: dict) -> None:
    spec = rayjob["spec"]
    argv = shlex.split(spec["entrypoint"])
    assert argv[:2] == ["python", EXAMPLE]
    assert argv[argv.index("--num-samples") + 1] == "100"
    assert argv[argv.index("--max-concurrent") + 1] == "4"
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] > 0  # time to copy the decision log out
    # The experiment goes to a volume mounted on the head pod, where the driver writes the log.
    storage = argv[argv.index("--storage-path") + 1]
    head = spec["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    mounts = [m["mountPath"] for c in head["containers"] for m in c.get("volumeMounts", [])]
    on_volume = [m for m in mounts if storage == m or storage.startswith(m.rstrip("/") + "/")]
    assert on_volume, (storage, mounts)
    assert (REPO / EXAMPLE).is_file()


def test_rayjob_runtime_env(rayjob: dict) -> None:
    from ray.runtime_env import RuntimeEnv

    env = yaml.safe_load(rayjob["spec"]["runtimeEnvYAML"])
    RuntimeEnv(**env)  # Ray's own validation of the fields
    assert env["working_dir"].endswith(".zip")
    packages = env["pip"]["packages"]
    torch = [i for i, p in enumerate(packages) if p.startswith("torch")]
    project = [i for i, p in enumerate(packages) if p.startswith("ray-autoterm[examples]")]
    assert torch and project and torch[0] < project[0]
    assert packages[torch[0]] == TORCH_PIN + "+cpu"  # exact: one pip run, no other build fits
    assert TORCH_CPU_INDEX in env["pip"]["pip_install_options"]
    # The interactive cluster's runtime env installs the same packages.
    interactive = _load_yaml(CLUSTER / "kuberay" / "runtime-env.yaml")
    RuntimeEnv(**interactive)
    assert interactive["pip"] == env["pip"]


@pytest.mark.parametrize("kind", ["RayJob", "RayCluster"])
def test_kuberay_pods_request_cpu_and_memory(kind: str, rayjob: dict, raycluster: dict) -> None:
    manifest = rayjob if kind == "RayJob" else raycluster
    spec = _cluster_spec(manifest)
    groups = [("head", spec["headGroupSpec"])] + [
        (g["groupName"], g) for g in spec["workerGroupSpecs"]
    ]
    assert len(groups) >= 2, "no worker group"
    for name, group in groups:
        for container in group["template"]["spec"]["containers"]:
            resources = container["resources"]
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    assert resources.get(section, {}).get(resource), (kind, name, section, resource)
            match = RAY_IMAGE_RE.match(container["image"])
            assert match, container["image"]
            assert match["ray"] == spec["rayVersion"], (container["image"], spec["rayVersion"])
    for group in spec["workerGroupSpecs"]:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]


def test_rayjob_has_room_for_max_concurrent_trials(rayjob: dict) -> None:
    """--max-concurrent 4 trials of one CPU each fit on the workers (the head runs none)."""
    spec = rayjob["spec"]
    cluster = spec["rayClusterSpec"]
    assert cluster["headGroupSpec"]["rayStartParams"].get("num-cpus") == "0"
    worker_cpus = sum(
        g["replicas"] * _cpus(g["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"])
        for g in cluster["workerGroupSpecs"]
    )
    argv = shlex.split(spec["entrypoint"])
    assert worker_cpus >= int(argv[argv.index("--max-concurrent") + 1])
