"""r1_core.params: the one reader of ROS parameter files, and rcl's section-key matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from r1_core.params import ParamError, load_ros_params, node_parameters, read_param_file, section_applies


@pytest.mark.parametrize(("key", "namespace", "applies"), [
    ("/**", "drone1", True),
    ("/**", "", True),
    ("control_node", "", True),
    ("control_node", "drone1", False),  # a bare key is the root namespace only (the issue 13.2 bug)
    ("/control_node", "", True),
    ("/**/control_node", "drone1", True),
    ("/**/control_node", "", True),
    ("/drone1/control_node", "drone1", True),
    ("/drone1/control_node", "drone2", False),
    ("reasoning_node", "", False),
    ("/**/control_node_sensing", "", False),
])
def test_section_keys_apply_as_rcl_applies_them(key: str, namespace: str, applies: bool) -> None:
    assert section_applies(key, "control_node", namespace) is applies


def test_sections_in_file_order_and_errors(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("/**:\n  ros__parameters: {a: 1}\nother:\n  ros__parameters: {a: 9}\n"
                 "/**/control_node:\n  ros__parameters: {a: 2, b: {c: 3}}\n")
    assert node_parameters(read_param_file(f), "control_node") == [{"a": 1}, {"a": 2, "b": {"c": 3}}]
    assert load_ros_params(f, "control_node", "drone1") == {"a": 2, "b.c": 3}
    with pytest.raises(ParamError, match="cannot read"):
        read_param_file(tmp_path / "missing.yaml")
    f.write_text("- a\n- b\n")
    with pytest.raises(ParamError, match="mapping of node names"):
        read_param_file(f)
    f.write_text("a: [\n")
    with pytest.raises(ParamError, match="cannot read"):
        read_param_file(f)
