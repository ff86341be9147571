"""Robot descriptions: URDFs of the quadruped, UAV, wheeled base and 6-DoF arm."""

from __future__ import annotations

from pathlib import Path

from r1_core.paths import share_dir
from r1_core.robots import ROBOTS


def urdf_path(robot: str) -> Path:
    """The URDF file of a robot of :data:`r1_core.robots.ROBOTS`; ValueError (ParamError) for another name."""
    ROBOTS.get(robot)
    path = share_dir("r1_description") / "urdf" / f"{robot}.urdf"
    if not path.is_file():
        raise FileNotFoundError(f"URDF for robot '{robot}' is missing: {path}")
    return path


__all__ = ["urdf_path"]
