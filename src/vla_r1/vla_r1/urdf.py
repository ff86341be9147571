"""A small URDF reader: joints, limits and fixed transforms, for lifting and for the simulator."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Mat4 = NDArray[np.float64]


def rpy_matrix(roll: float, pitch: float, yaw: float) -> NDArray[np.float64]:
    """The URDF rotation ``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` as a (3, 3) matrix."""
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def homogeneous(rotation: NDArray[np.float64], translation: NDArray[np.float64]) -> Mat4:
    """A (4, 4) transform from a rotation matrix and a translation."""
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = translation
    return out


def _axis_angle(axis: NDArray[np.float64], angle: float) -> NDArray[np.float64]:
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * kx + (1 - math.cos(angle)) * (kx @ kx)


@dataclass(frozen=True)
class UrdfJoint:
    """One URDF joint: its origin transform, axis and limits (radians or metres)."""

    name: str
    type: str
    parent: str
    child: str
    origin: Mat4
    axis: NDArray[np.float64]
    lower: float
    upper: float
    velocity: float
    effort: float
    mimic: str | None = None

    def transform(self, position: float = 0.0) -> Mat4:
        """Parent-to-child transform at a joint position."""
        if self.type in ("revolute", "continuous"):
            return self.origin @ homogeneous(_axis_angle(self.axis, position), np.zeros(3))
        if self.type == "prismatic":
            return self.origin @ homogeneous(np.eye(3), self.axis / np.linalg.norm(self.axis) * position)
        return self.origin


def _floats(text: str | None, default: tuple[float, ...]) -> NDArray[np.float64]:
    if text is None:
        return np.array(default, dtype=float)
    return np.array([float(v) for v in text.split()], dtype=float)


@dataclass(frozen=True)
class Urdf:
    """The joints of a URDF by name and by child link."""

    path: Path
    joints: dict[str, UrdfJoint]

    @classmethod
    def load(cls, path: str | Path) -> Urdf:
        """Parse a URDF file; raise ValueError naming the problem when it is malformed."""
        p = Path(path)
        try:
            root = ET.parse(p).getroot()
        except (OSError, ET.ParseError) as exc:
            raise ValueError(f"cannot read URDF {p}: {exc}") from exc
        joints: dict[str, UrdfJoint] = {}
        for j in root.findall("joint"):
            name = j.get("name", "")
            parent, child = j.find("parent"), j.find("child")
            if parent is None or child is None:
                raise ValueError(f"URDF {p}: joint '{name}' lacks a parent or child")
            origin = j.find("origin")
            xyz = _floats(origin.get("xyz") if origin is not None else None, (0.0, 0.0, 0.0))
            rpy = _floats(origin.get("rpy") if origin is not None else None, (0.0, 0.0, 0.0))
            axis_el = j.find("axis")
            axis = _floats(axis_el.get("xyz") if axis_el is not None else None, (1.0, 0.0, 0.0))
            limit = j.find("limit")
            mimic = j.find("mimic")

            def lim(key: str, default: float, limit: ET.Element | None = limit) -> float:
                return float(limit.get(key, default)) if limit is not None else default

            joints[name] = UrdfJoint(
                name=name,
                type=j.get("type", "fixed"),
                parent=parent.get("link", ""),
                child=child.get("link", ""),
                origin=homogeneous(rpy_matrix(*rpy), xyz),
                axis=axis,
                lower=lim("lower", -math.pi),
                upper=lim("upper", math.pi),
                velocity=lim("velocity", 1.0),
                effort=lim("effort", 1.0),
                mimic=mimic.get("joint") if mimic is not None else None,
            )
        return cls(p, joints)

    def parent_joint(self, link: str) -> UrdfJoint | None:
        """The joint whose child is ``link`` (None for the root)."""
        for j in self.joints.values():
            if j.child == link:
                return j
        return None

    def chain(self, base: str, tip: str) -> list[UrdfJoint]:
        """The joints from ``base`` down to ``tip``, in order; ValueError if tip is not below base."""
        out: list[UrdfJoint] = []
        link = tip
        while link != base:
            j = self.parent_joint(link)
            if j is None:
                raise ValueError(f"link '{tip}' is not below '{base}' in {self.path}")
            out.append(j)
            link = j.parent
        return out[::-1]

    def link_pose(self, link: str, base: str = "base_link", positions: dict[str, float] | None = None) -> Mat4:
        """The pose of ``link`` in ``base`` at the given joint positions (missing joints at zero)."""
        positions = positions or {}
        out = np.eye(4)
        for j in self.chain(base, link):
            out = out @ j.transform(positions.get(j.name, 0.0))
        return out
