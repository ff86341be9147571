"""Names declared once: the generic registry, the robot registry and the reasoner kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from nav_r1.control.config import PRESETS, ControlConfig
from nav_r1.reasoners import NAV_REASONERS, split_spec
from r1_core.backends import BACKENDS
from r1_core.params import ParamError
from r1_core.reasoners import MODEL_REASONERS, make_reasoner, parse_reasoner_spec, reasoner_help
from r1_core.registry import Registry
from r1_core.registry import split_spec as split_kind_spec
from r1_core.robots import MOBILE_ROBOTS, ROBOTS
from r1_description import urdf_path
from r1_sim.robots import PROFILES
from vla_r1.prompt import TaskPrompt


def test_registry_refuses_duplicates_and_suggests_the_nearest_name() -> None:
    reg = Registry("colour", [("red", 1), ("green", 2)])
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("red", 3)
    with pytest.raises(ValueError, match="registered twice"):
        reg.extended([("green", 4)])
    with pytest.raises(ParamError, match=r"unknown colour 'gren'; did you mean 'green'\? \(one of red, green\)"):
        reg.get("gren")
    assert reg.extended([("blue", 5)]).names == ("red", "green", "blue") and reg.names == ("red", "green")


def test_kind_target_specs_have_one_parser() -> None:
    reg = Registry("kind", [("a", 1), ("b", 2)])
    assert split_kind_spec(" a : x:y ", reg) == ("a", "x:y", 1)
    assert split_kind_spec("b", reg, targetless=["b"]) == ("b", "", 2)
    with pytest.raises(ParamError, match="parameter 'backend' = 'a:': 'a' needs a target"):
        split_kind_spec("a:", reg)
    with pytest.raises(ParamError, match="parameter 'reasoner' = 'c:x': unknown kind 'c'"):
        split_kind_spec("c:x", reg, field="reasoner")


def test_every_mobile_robot_has_a_urdf_a_simulator_profile_and_a_control_preset() -> None:
    assert set(MOBILE_ROBOTS) < set(ROBOTS.names) and "arm" in ROBOTS
    assert tuple(PROFILES) == MOBILE_ROBOTS
    assert PRESETS.names == MOBILE_ROBOTS  # the control presets are keyed by the robot registry
    for robot in ROBOTS.names:
        assert urdf_path(robot).is_file()
    for robot in MOBILE_ROBOTS:
        assert (ControlConfig.for_profile(robot).profile == "uav") is ROBOTS.get(robot).flies
    with pytest.raises(ValueError, match="did you mean 'wheeled'"):
        urdf_path("wheeld")


def test_navigation_and_the_arm_share_the_reasoner_kinds(tmp_path: Path) -> None:
    assert MODEL_REASONERS.names == BACKENDS.names == ("transformers", "openai", "scripted")
    assert NAV_REASONERS.names == (*MODEL_REASONERS.names, "expert")
    assert split_spec("expert") == ("expert", "")
    assert parse_reasoner_spec("openai:http://h:8000/v1#m") == ("openai", "http://h:8000/v1#m")
    with pytest.raises(ParamError, match="unknown reasoner kind 'expert'"):
        parse_reasoner_spec("expert")  # the arm has no simulator expert
    with pytest.raises(ParamError, match="did you mean 'scripted'"):
        split_spec("scriptd:/x")
    assert reasoner_help(NAV_REASONERS) == "transformers:… | openai:… | scripted:… | expert"
    f = tmp_path / "r.txt"
    f.write_text("a\\nb\nc\n")
    r = make_reasoner(f"scripted:{f}", TaskPrompt())
    assert r.name == "scripted:r.txt"
    with pytest.raises(ValueError, match="built by its package"):
        make_reasoner("expert", TaskPrompt(), NAV_REASONERS)
