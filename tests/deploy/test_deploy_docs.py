"""docs/deploy: links resolve, named repository files exist, and the parameters quoted exist."""

from __future__ import annotations

import re

import pytest
from deploy_static import ROOT

DOCS = sorted((ROOT / "docs" / "deploy").glob("*.md"))
PAGES = {"README.md", "bring-up.md", "multi-machine.md", "remote-model-server.md",
         "robot-dog.md", "robot-wheeled.md", "robot-uav.md", "robot-arm.md", "ros-install-checks.md"}
# `docker/...`, `config/...`, `src/...`, `tests/...` in backquotes name files of this repository.
REPO_PATH = re.compile(r"`((?:docker|config|src|tests)/[\w./<>-]+?)`")


def test_every_page_exists():
    assert {p.name for p in DOCS} == PAGES


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    for target in re.findall(r"\]\(([^)#]+\.md)(?:#[\w-]+)?\)", page.read_text()):
        assert (page.parent / target).is_file(), f"{page.name}: broken link {target}"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_named_repository_files_exist(page):
    for path in REPO_PATH.findall(page.read_text()):
        if "<" in path:  # a pattern such as src/nav_r1/config/<robot>.yaml
            pattern = re.sub(r"<[^>]+>", "*", path)
            assert list(ROOT.glob(pattern)), f"{page.name}: nothing matches {path}"
        else:
            assert (ROOT / path.rstrip("/")).exists(), f"{page.name}: {path} does not exist"


def _flat_keys(prefix: str, value: object) -> set[str]:
    if isinstance(value, dict):
        out: set[str] = set()
        for k, v in value.items():
            out |= _flat_keys(f"{prefix}.{k}" if prefix else str(k), v)
        return out
    return {prefix}


@pytest.mark.parametrize("robot", ["dog", "wheeled", "uav"])
def test_control_parameters_quoted_on_robot_pages_exist(robot):
    import yaml

    params = yaml.safe_load((ROOT / "src" / "nav_r1" / "config" / f"{robot}.yaml").read_text())
    keys = _flat_keys("", params["/**/control_node"]["ros__parameters"])
    keys |= {f"reasoning_node.{k}" for k in params["/**/reasoning_node"]["ros__parameters"]}
    text = (ROOT / "docs" / "deploy" / f"robot-{robot}.md").read_text()
    quoted = set(re.findall(r"`((?:limits|zones|depth|timeouts|primitives|mux)\.[\w.]+)`", text))
    quoted |= set(re.findall(r"`(holonomic|profile|altitude_gain|output_stamped)`", text))
    assert quoted, "the page names no parameters"
    for name in quoted:
        assert name in keys or any(k.startswith(name + ".") for k in keys), f"robot-{robot}.md: no parameter {name}"


def test_timeouts_quoted_exist_with_their_defaults():
    from nav_r1.control.config import TimeoutConfig
    from nav_r1.reasoning import ReasoningConfig
    from r1_core.backends.openai_client import OpenAIClientConfig

    text = (ROOT / "docs" / "deploy" / "remote-model-server.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", text, re.M)}
    client, reasoning = OpenAIClientConfig(), ReasoningConfig()
    for obj, fields in ((client, ("connect_timeout_s", "read_timeout_s", "max_retries", "backoff_s")),
                        (reasoning, ("retry_backoff_s", "max_plan_age_s"))):
        for field in fields:
            assert field in rows, f"no table row for {field}"
            assert rows[field].split()[0] == str(getattr(obj, field)), f"{field}: doc says {rows[field]!r}"
    for field in ("heartbeat_hz", "frame_timeout_s", "odom_timeout_s"):
        assert hasattr(reasoning, field) and f"`{field}`" in text
    for field in ("plan_s", "odom_s", "obstacles_s"):
        assert hasattr(TimeoutConfig(), field) and f"`timeouts.{field}`" in text


def test_arm_parameters_quoted_exist():
    import dataclasses

    from vla_r1.nodes.joint_command_node import JointCommandConfig
    from vla_r1.nodes.vla_node import VlaNodeConfig
    from vla_r1.planner import PlannerConfig

    text = (ROOT / "docs" / "deploy" / "robot-arm.md").read_text()
    node = {f.name for f in dataclasses.fields(VlaNodeConfig)}
    planner = {f.name for f in dataclasses.fields(PlannerConfig)}
    joint = {f.name for f in dataclasses.fields(JointCommandConfig)}
    for name in re.findall(r"`planner\.(\w+)`", text):
        assert name in planner, f"robot-arm.md: no planner parameter {name}"
    quoted = set(re.findall(r"^- `(\w+)`", text, re.M))
    joint_names = r"`(\w+_s|rate_hz|joint_names|command_topic|lock_topics|lock_timeouts|max_start_error)`"
    quoted |= set(re.findall(joint_names, text))
    assert quoted
    for name in quoted:
        assert name in node | joint, f"robot-arm.md: no vla_node / joint_command_node parameter {name}"
    assert {"velocity_scale", "min_tcp_z", "approach_height"} <= planner and "`velocity_scale`" in text
