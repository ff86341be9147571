"""Parameter declarations: validation, mapping, docs table, ROS parameter files."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from r1_core.params import (
    ParamError,
    from_mapping,
    load_ros_params,
    markdown_table,
    nested,
    param,
    replace,
    to_flat,
    validate_params,
)


@dataclass(frozen=True)
class Zone:
    points: tuple[float, ...] = param((0.5, 0.3, 0.5, -0.3), "Polygon corners x1,y1,... [m]")
    min_points: int = param(3, "Points needed to trigger", min=1)

    def __post_init__(self) -> None:
        validate_params(self)


@dataclass(frozen=True)
class Loop:
    rate_hz: float = param(100.0, "Loop rate [Hz]", min=1.0, max=1000.0)
    stamped: bool = param(True, "Publish TwistStamped")
    profile: str = param("planar", "Robot profile", choices=("planar", "uav"))
    stop: Zone = nested(Zone, "Stop zone")

    def __post_init__(self) -> None:
        validate_params(self)


def test_defaults_and_flat_names() -> None:
    flat = to_flat(Loop())
    assert flat == {
        "rate_hz": 100.0, "stamped": True, "profile": "planar",
        "stop.points": [0.5, 0.3, 0.5, -0.3], "stop.min_points": 3,
    }


def test_from_mapping_nested_and_dotted_and_int_to_float() -> None:
    cfg = from_mapping(Loop, {"rate_hz": 50, "stop": {"min_points": 5}, "stop.points": [1, 1, 1, -1]})
    assert cfg.rate_hz == 50.0 and isinstance(cfg.rate_hz, float)
    assert cfg.stop.min_points == 5 and cfg.stop.points == (1.0, 1.0, 1.0, -1.0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rate_hz": 0.5}, "'rate_hz' = 0.5 is below its minimum 1.0"),
        ({"rate_hz": 2000.0}, "above its maximum"),
        ({"rate_hz": "fast"}, "'rate_hz' must be a number"),
        ({"rate_hz": float("nan")}, "must be finite"),
        ({"stamped": 1}, "'stamped' must be a bool"),
        ({"profile": "uva"}, "did you mean 'uav'"),
        ({"stop.min_points": 0}, "'stop.min_points' = 0 is below"),
        ({"stop.min_points": 2.5}, "must be an integer"),
        ({"stop.points": [1.0, "x"]}, "'stop.points[1]' must be a number"),
        ({"rate_hs": 10.0}, "unknown parameter 'rate_hs'; did you mean 'rate_hz'?"),
    ],
)
def test_bad_values_are_rejected_with_the_parameter_named(values: dict[str, object], message: str) -> None:
    with pytest.raises(ParamError, match=message.replace("(", r"\(").replace("?", r"\?").replace("[", r"\[")):
        from_mapping(Loop, values)


def test_replace_validates() -> None:
    assert replace(Loop(), rate_hz=20.0).rate_hz == 20.0
    with pytest.raises(ParamError):
        replace(Loop(), rate_hz=-1.0)


def test_markdown_table_lists_every_parameter() -> None:
    table = markdown_table(Loop)
    for name in ("rate_hz", "stamped", "profile", "stop.points", "stop.min_points"):
        assert f"`{name}`" in table
    assert "≥ 1.0" in table and "planar / uav" in table


def test_load_ros_params_merges_wildcard_and_node_sections(tmp_path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("/**:\n  ros__parameters:\n    rate_hz: 10.0\n    stamped: false\n"
                 "ctl:\n  ros__parameters:\n    rate_hz: 20.0\n    stop:\n      min_points: 4\n")
    flat = load_ros_params(f, "ctl")
    assert flat == {"rate_hz": 20.0, "stamped": False, "stop.min_points": 4}
    assert from_mapping(Loop, flat).stop.min_points == 4
    bad = tmp_path / "bad.yaml"
    bad.write_text("- not a mapping\n")
    with pytest.raises(ParamError, match="must hold a mapping"):
        load_ros_params(bad, "ctl")
