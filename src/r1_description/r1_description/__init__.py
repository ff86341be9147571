"""Robot descriptions: URDFs of the quadruped, UAV, wheeled base and 6-DoF arm."""

from __future__ import annotations

from pathlib import Path

from r1_core.paths import share_dir

ROBOTS: tuple[str, ...] = ("dog", "uav", "wheeled", "arm")


def urdf_path(robot: str) -> Path:
    """The URDF file of a robot by name (``dog``, ``uav``, ``wheeled``, ``arm``)."""
    if robot not in ROBOTS:
        raise ValueError(f"unknown robot '{robot}'; expected one of {', '.join(ROBOTS)}")
    path = share_dir("r1_description") / "urdf" / f"{robot}.urdf"
    if not path.is_file():
        raise FileNotFoundError(f"URDF for robot '{robot}' is missing: {path}")
    return path
